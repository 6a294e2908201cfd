package storetest

import (
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/protocol"
)

// PayWrites makes the store writes of an approved pay with automatic capture and its two
// notifications, as the payments service and the dispatcher make them, calling step after each
// with its name (m is the payment's merchant): "create", "approve" (with PAYMENT_RESULT owed), "reserve capture",
// "capture result" (with CAPTURE_RESULT owed), with stale "stale apply" (refused:
// ErrConflict), "claim notifications", "record attempts". The payment's ids start with id. For
// counting what each costs on the wire (postgres' round-trip test).
func PayWrites(t *testing.T, s store.Store, m merchant.Merchant, id string, stale bool, step func(name string)) {
	t.Helper()
	p := mustCreate(t, s, NewPayment(m, id, "R-"+id))
	step("create")

	a := change(p, approved(p), payments.OpAuthApproved)
	a.Outbox = &payments.OutboxMessage{MerchantID: m.ClientID, PaymentID: p.ID, NotifyType: protocol.NotifyTypePaymentResult, Ref: p.ID,
		URL: "https://m.example/n", Body: []byte(`{"a":1}`), CreatedAt: T0}
	p = mustApply(t, s, a)
	step("approve")

	capture := newTxn(p, "T-"+id, payments.TxnCapture, "C-"+id, payments.TxnProcessing, 4200, T0.Add(time.Second))
	capture.Internal = true
	r := change(p, p, payments.OpCapture)
	r.NewTxn = capture
	p = mustApply(t, s, r)
	step("reserve capture")

	done := *capture
	done.Status, done.ResultCode, done.ResultMsg, done.UpdatedAt = payments.TxnSucceeded, protocol.CodeSuccess, "captured", T0.Add(2*time.Second)
	next := p
	next.Capture, next.CapturedMinor, next.CapturedAt = payments.CaptureSucceeded, 4200, T0.Add(2*time.Second)
	c := change(p, next, payments.OpCaptureSucceeded)
	c.Txn = &done
	c.Outbox = &payments.OutboxMessage{MerchantID: m.ClientID, PaymentID: p.ID, NotifyType: protocol.NotifyTypeCaptureResult, Ref: done.ID,
		URL: "https://m.example/n", Body: []byte(`{"c":1}`), CreatedAt: T0}
	mustApply(t, s, c)
	step("capture result")

	if stale {
		wantErr(t, "stale apply", s.Apply(ctx, c), payments.ErrConflict)
		step("stale apply")
	}

	wall := time.Now()
	msgs, err := s.ClaimBatch(ctx, T0.Add(time.Hour), wall, wall.Add(time.Minute), 128, 32, nil)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("claim: %d messages, %v", len(msgs), err)
	}
	step("claim notifications")

	recs := make([]notify.Recorded, len(msgs))
	for i, msg := range msgs {
		msg.Status, msg.Attempts, msg.LastAttemptAt, msg.DeliveredAt = notify.StatusDelivered, 1, T0.Add(3*time.Second), T0.Add(3*time.Second)
		recs[i] = notify.Recorded{Message: msg, Attempt: notify.Attempt{OutboxID: msg.ID, Attempt: 1, At: T0.Add(3 * time.Second), HTTPStatus: 200, Delivered: true}}
	}
	if err := s.RecordAttempts(ctx, recs); err != nil {
		t.Fatal(err)
	}
	step("record attempts")
}
