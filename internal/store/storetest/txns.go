package storetest

import (
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/protocol"
)

func newTxn(p payments.Payment, id string, typ payments.TxnType, requestID string, status payments.TxnStatus, minor int64, at time.Time) *payments.Txn {
	code := protocol.CodeSuccess
	if status == payments.TxnProcessing {
		code = protocol.CodeCaptureInProcess
	}
	return &payments.Txn{ID: id, PaymentID: p.ID, MerchantID: p.MerchantID, Type: typ, RequestID: requestID, Status: status,
		Amount: money.Amount{Currency: p.Amount.Currency, Minor: minor}, ResultCode: code, ResultMsg: string(code),
		Details:   payments.TxnDetails{AcquirerReference: "ACQ-" + id, NotifyURL: "https://m.example/n"},
		CreatedAt: at, UpdatedAt: at}
}

// addTxn applies a change that inserts t (the payment's own fields unchanged but its version).
func addTxn(t *testing.T, s store.Store, p payments.Payment, txn *payments.Txn) (payments.Payment, error) {
	t.Helper()
	c := change(p, p, payments.OpCapture)
	c.NewTxn = txn
	c.Event.TxnID = txn.ID
	if err := s.Apply(ctx, c); err != nil {
		return p, err
	}
	return c.Payment, nil
}

func mustAddTxn(t *testing.T, s store.Store, p payments.Payment, txn *payments.Txn) payments.Payment {
	t.Helper()
	p, err := addTxn(t, s, p, txn)
	if err != nil {
		t.Fatalf("add %s %s: %v", txn.Type, txn.ID, err)
	}
	return p
}

func testTxnRoundTripAndGuards(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p := authorize(t, s, NewPayment(m, "P1", "R1"))
	next := p
	next.Capture = payments.CaptureProcessing
	c := change(p, next, payments.OpCapture)
	capture := newTxn(p, "T1", payments.TxnCapture, "C1", payments.TxnProcessing, 4200, T0.Add(time.Minute))
	capture.DueAt = T0.Add(2 * time.Minute)
	capture.Details.Reason = "first"
	c.NewTxn = capture
	p = mustApply(t, s, c)

	got, err := s.TxnByRequestID(ctx, m.ClientID, payments.TxnCapture, "C1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "by request id", got, *capture)
	if got, err = s.TxnByID(ctx, m.ClientID, payments.TxnCapture, "T1"); err != nil {
		t.Fatal(err)
	}
	same(t, "by id", got, *capture)
	_, err = s.TxnByID(ctx, m.ClientID, payments.TxnRefund, "T1")
	wantErr(t, "by id, another type", err, payments.ErrNotFound)
	_, err = s.TxnByRequestID(ctx, m.ClientID, payments.TxnRefund, "C1")
	wantErr(t, "by request id, another type", err, payments.ErrNotFound)
	_, err = s.TxnByID(ctx, m.ClientID, payments.TxnCapture, "T-NOPE")
	wantErr(t, "unknown id", err, payments.ErrNotFound)

	// The merchant's captureRequestId is unique per merchant, across its payments; the txn id too.
	// A refused insert leaves nothing behind, the payment's version included.
	p2 := authorize(t, s, NewPayment(m, "P2", "R2"))
	before := counts(t, s)
	_, err = addTxn(t, s, p2, newTxn(p2, "T2", payments.TxnCapture, "C1", payments.TxnProcessing, 4200, T0))
	wantErr(t, "captureRequestId taken", err, payments.ErrDuplicate)
	_, err = addTxn(t, s, p2, newTxn(p2, "T1", payments.TxnCapture, "C2", payments.TxnProcessing, 4200, T0))
	wantErr(t, "txn id taken", err, payments.ErrDuplicate)
	if after := counts(t, s); after != before {
		t.Fatalf("refused inserts wrote rows: %s, before %s", after, before)
	}
	if got, _ := s.PaymentByID(ctx, m.ClientID, "P2"); got.Version != p2.Version {
		t.Fatalf("a refused insert moved the payment to version %d", got.Version)
	}
	// The same request id for another type is another key.
	p2 = mustAddTxn(t, s, p2, newTxn(p2, "T3", payments.TxnRefund, "C1", payments.TxnProcessing, 0, T0))

	// A transaction changes only while it is in process; its final result is never rewritten.
	done := *capture
	done.Status, done.ResultCode, done.ResultMsg, done.DueAt = payments.TxnSucceeded, protocol.CodeSuccess, "captured", time.Time{}
	done.UpdatedAt, done.Details.AcquirerReference = T0.Add(3*time.Minute), "ACQ-FINAL"
	next = p
	next.Capture, next.CapturedMinor, next.CapturedAt = payments.CaptureSucceeded, 4200, T0.Add(3*time.Minute)
	c = change(p, next, payments.OpCaptureSucceeded)
	c.Txn = &done
	p = mustApply(t, s, c)
	if got, _ = s.TxnByID(ctx, m.ClientID, payments.TxnCapture, "T1"); !equalTxn(got, done) {
		t.Fatalf("after the update: %+v", got)
	}
	again := done
	again.Status, again.ResultMsg = payments.TxnFailed, "rewritten"
	c = change(p, p, payments.OpCaptureFailed)
	c.Txn = &again
	before = counts(t, s)
	wantErr(t, "rewrite of a final transaction", s.Apply(ctx, c), payments.ErrConflict)
	if got, _ = s.TxnByID(ctx, m.ClientID, payments.TxnCapture, "T1"); !equalTxn(got, done) {
		t.Fatalf("a final transaction was rewritten: %+v", got)
	}
	if got, _ := s.PaymentByID(ctx, m.ClientID, "P1"); got.Version != p.Version || counts(t, s) != before {
		t.Fatalf("a refused update moved the payment (version %d) or wrote rows", got.Version)
	}
}

// equalTxn compares what an update may change and what it must keep.
func equalTxn(a, b payments.Txn) bool {
	return a.ID == b.ID && a.Type == b.Type && a.RequestID == b.RequestID && a.Status == b.Status && a.Amount == b.Amount &&
		a.ResultCode == b.ResultCode && a.ResultMsg == b.ResultMsg && a.Details == b.Details && a.CreatedAt.Equal(b.CreatedAt) &&
		a.UpdatedAt.Equal(b.UpdatedAt) && a.DueAt.Equal(b.DueAt) && a.Internal == b.Internal
}

// testInternalTxnUniqueness: an automatic capture, a cancel or a void carry the paymentRequestId;
// they never take a merchant's captureRequestId, and a payment has at most one of each type.
func testInternalTxnUniqueness(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p1 := authorize(t, s, NewPayment(m, "P1", "R1"))
	p2 := authorize(t, s, NewPayment(m, "P2", "R2"))

	auto := newTxn(p1, "T-AUTO", payments.TxnCapture, "R1", payments.TxnProcessing, 4200, T0)
	auto.Internal = true
	p1 = mustAddTxn(t, s, p1, auto)
	// The merchant may use R1 as a captureRequestId of another payment.
	p2 = mustAddTxn(t, s, p2, newTxn(p2, "T-MERCHANT", payments.TxnCapture, "R1", payments.TxnProcessing, 4200, T0))
	got, err := s.TxnByRequestID(ctx, m.ClientID, payments.TxnCapture, "R1")
	if err != nil || got.ID != "T-MERCHANT" {
		t.Fatalf("TxnByRequestID must find the merchant's capture, not the internal one: %+v %v", got, err)
	}
	if got, err = s.TxnByID(ctx, m.ClientID, payments.TxnCapture, "T-AUTO"); err != nil || !got.Internal || got.RequestID != "R1" {
		t.Fatalf("the internal capture by id: %+v %v", got, err)
	}
	// A second automatic capture of the same payment is refused.
	dup := newTxn(p1, "T-AUTO-2", payments.TxnCapture, "R1", payments.TxnProcessing, 4200, T0)
	dup.Internal = true
	_, err = addTxn(t, s, p1, dup)
	wantErr(t, "second internal capture", err, payments.ErrDuplicate)
	// One cancel per payment; another payment has its own.
	cancel := newTxn(p1, "T-CANCEL", payments.TxnCancel, "R1", payments.TxnSucceeded, 0, T0)
	cancel.Internal = true
	p1 = mustAddTxn(t, s, p1, cancel)
	cancel2 := *cancel
	cancel2.ID = "T-CANCEL-2"
	_, err = addTxn(t, s, p1, &cancel2)
	wantErr(t, "second cancel", err, payments.ErrDuplicate)
	other := newTxn(p2, "T-CANCEL-P2", payments.TxnCancel, "R1", payments.TxnSucceeded, 0, T0)
	other.Internal = true
	mustAddTxn(t, s, p2, other)
	// An internal VOID beside the CANCEL.
	void := newTxn(p1, "T-VOID", payments.TxnVoid, "R1", payments.TxnSucceeded, 0, T0)
	void.Internal = true
	mustAddTxn(t, s, p1, void)
	if n := count(t, s, "transactions"); n != 5 {
		t.Fatalf("transactions: %d", n)
	}
}

func testTxnsOrder(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p := authorize(t, s, NewPayment(m, "P1", "R1"))
	// Inserted out of time order, and two at the same millisecond: oldest first, then as inserted.
	for _, x := range []struct {
		id string
		at time.Duration
	}{{"T-c", 3 * time.Second}, {"T-b", 2 * time.Second}, {"T-z", 5 * time.Second}, {"T-a", 5 * time.Second}, {"T-y", 5 * time.Second}, {"T-0", time.Second}} {
		p = mustAddTxn(t, s, p, newTxn(p, x.id, payments.TxnRefund, "Q"+x.id, payments.TxnSucceeded, 1, T0.Add(x.at)))
	}
	p2 := authorize(t, s, NewPayment(m, "P2", "R2"))
	mustAddTxn(t, s, p2, newTxn(p2, "T-other", payments.TxnRefund, "Q-other", payments.TxnSucceeded, 1, T0))
	txns, err := s.Txns(ctx, m.ClientID, "P1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range txns {
		ids = append(ids, x.ID)
	}
	same(t, "order", ids, []string{"T-0", "T-b", "T-c", "T-z", "T-a", "T-y"})
	if txns, err := s.Txns(ctx, m.ClientID, "P-NOPE"); err != nil || len(txns) != 0 {
		t.Fatalf("Txns of an unknown payment: %v %v", txns, err)
	}
}

func testDueListsEveryKind(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	o := Other(t, s, "OTHER_1")
	at := func(d time.Duration) time.Time { return T0.Add(d) }
	far := at(30 * 24 * time.Hour)

	// EXPIRE: in process until 1m. Two at 90s (ids in byte order: "P-B" < "P-a").
	expire := NewPayment(m, "P-EXPIRE", "R-EXPIRE")
	expire.ExpiresAt = at(time.Minute)
	mustCreate(t, s, expire)
	for _, id := range []string{"P-a", "P-B"} {
		p := NewPayment(o, id, "R"+id)
		p.ExpiresAt = at(90 * time.Second)
		mustCreate(t, s, p)
	}
	// SETTLE: the acquirer owes an answer, ask again at 2m.
	settle := NewPayment(m, "P-SETTLE", "R-SETTLE")
	settle.ExpiresAt, settle.AcquirerState, settle.AcquirerDueAt = far, payments.AcquirerPending, at(2*time.Minute)
	mustCreate(t, s, settle)
	// AUTO_VOID: manual capture, authorization valid until 3m.
	void := NewPayment(m, "P-AUTOVOID", "R-AUTOVOID")
	void.CaptureMode = payments.CaptureManual
	void = authorize(t, s, void)
	next := void
	next.AuthExpiresAt = at(3 * time.Minute)
	mustApply(t, s, change(void, next, payments.OpAuthApproved))
	// AUTO_CAPTURE: automatic, approved at 4m, never captured: due AutoCaptureGrace later.
	auto := NewPayment(m, "P-AUTOCAPTURE", "R-AUTOCAPTURE")
	mustCreate(t, s, auto)
	next = approved(auto)
	next.AuthorizedAt = at(4 * time.Minute)
	mustApply(t, s, change(auto, next, payments.OpAuthApproved))
	// CAPTURE_STATUS: a capture in process, ask again at 5m.
	capt := authorize(t, s, NewPayment(m, "P-CAPTURE", "R-CAPTURE"))
	next = capt
	next.Capture = payments.CaptureProcessing
	c := change(capt, next, payments.OpCapturePending)
	c.NewTxn = newTxn(capt, "T-CAPTURE", payments.TxnCapture, "C-CAPTURE", payments.TxnProcessing, 4200, T0)
	c.NewTxn.DueAt = at(5 * time.Minute)
	mustApply(t, s, c)
	// REFUND_STATUS: a captured payment with a refund in process, due at 6m.
	ref := authorize(t, s, NewPayment(m, "P-REFUND", "R-REFUND"))
	next = ref
	next.Capture, next.CapturedMinor, next.RefundedMinor = payments.CaptureSucceeded, 4200, 100
	c = change(ref, next, payments.OpRefundPending)
	c.NewTxn = newTxn(ref, "T-REFUND", payments.TxnRefund, "F-REFUND", payments.TxnProcessing, 100, T0)
	c.NewTxn.DueAt = at(6 * time.Minute)
	mustApply(t, s, c)
	// VOID: cancelled at 7m, the void not yet confirmed by the acquirer.
	owed := authorize(t, s, NewPayment(m, "P-VOID", "R-VOID"))
	next = owed
	next.State, next.CloseReason, next.ClosedAt, next.VoidState = payments.StateCancelled, payments.CloseCancel, at(7*time.Minute), payments.VoidPending
	mustApply(t, s, change(owed, next, payments.OpCancel))
	// RESOLVE: an authorization sent with a lease until 8m, its answer never recorded.
	inflight := NewPayment(m, "P-RESOLVE", "R-RESOLVE")
	inflight.ExpiresAt, inflight.InFlightUntil = far, at(8*time.Minute)
	mustCreate(t, s, inflight)
	// Its answer recorded (the lease cleared by Apply): nothing to resolve.
	answered := NewPayment(m, "P-ANSWERED", "R-ANSWERED")
	answered.ExpiresAt, answered.InFlightUntil = far, at(time.Minute)
	mustCreate(t, s, answered)
	next = answered
	next.AcquirerState, next.AcquirerDueAt, next.InFlightUntil = payments.AcquirerPending, far, time.Time{}
	mustApply(t, s, change(answered, next, payments.OpAuthPending))

	// Not due, ever or yet: a payment in process with a far expiry, a failed one, a capture in
	// process with no due time, a voided payment whose void is done, a captured automatic payment.
	quiet := NewPayment(m, "P-QUIET", "R-QUIET")
	quiet.ExpiresAt = far
	mustCreate(t, s, quiet)
	failed := NewPayment(m, "P-FAIL", "R-FAIL")
	failed.ExpiresAt = at(time.Minute)
	mustCreate(t, s, failed)
	next = failed
	next.State, next.ResultCode = payments.StateFail, "CARD_DECLINED"
	mustApply(t, s, change(failed, next, payments.OpAuthDeclined))
	waiting := authorize(t, s, NewPayment(m, "P-WAITING", "R-WAITING"))
	next = waiting
	next.Capture = payments.CaptureProcessing
	c = change(waiting, next, payments.OpCapture)
	c.NewTxn = newTxn(waiting, "T-WAITING", payments.TxnCapture, "C-WAITING", payments.TxnProcessing, 4200, T0)
	mustApply(t, s, c)
	voided := authorize(t, s, NewPayment(m, "P-VOIDED", "R-VOIDED"))
	next = voided
	next.State, next.CloseReason, next.ClosedAt, next.VoidState = payments.StateCancelled, payments.CloseCancel, at(time.Minute), payments.VoidDone
	mustApply(t, s, change(voided, next, payments.OpCancel))
	captured := authorize(t, s, NewPayment(m, "P-CAPTURED", "R-CAPTURED"))
	next = captured
	next.Capture, next.CapturedMinor = payments.CaptureSucceeded, 4200
	mustApply(t, s, change(captured, next, payments.OpCaptureSucceeded))

	want := []payments.Due{
		{Kind: payments.DueExpire, MerchantID: m.ClientID, PaymentID: "P-EXPIRE", At: at(time.Minute)},
		{Kind: payments.DueExpire, MerchantID: o.ClientID, PaymentID: "P-B", At: at(90 * time.Second)},
		{Kind: payments.DueExpire, MerchantID: o.ClientID, PaymentID: "P-a", At: at(90 * time.Second)},
		{Kind: payments.DueSettle, MerchantID: m.ClientID, PaymentID: "P-SETTLE", At: at(2 * time.Minute)},
		{Kind: payments.DueAutoVoid, MerchantID: m.ClientID, PaymentID: "P-AUTOVOID", At: at(3 * time.Minute)},
		{Kind: payments.DueAutoCapture, MerchantID: m.ClientID, PaymentID: "P-AUTOCAPTURE", At: at(4*time.Minute + payments.AutoCaptureGrace)},
		{Kind: payments.DueCaptureStatus, MerchantID: m.ClientID, PaymentID: "P-CAPTURE", TxnID: "T-CAPTURE", At: at(5 * time.Minute)},
		{Kind: payments.DueRefundStatus, MerchantID: m.ClientID, PaymentID: "P-REFUND", TxnID: "T-REFUND", At: at(6 * time.Minute)},
		{Kind: payments.DueVoid, MerchantID: m.ClientID, PaymentID: "P-VOID", At: at(7 * time.Minute)},
		{Kind: payments.DueResolve, MerchantID: m.ClientID, PaymentID: "P-RESOLVE", At: at(8 * time.Minute)},
	}
	got, err := s.Due(ctx, at(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "everything due", got, want)
	// Due at exactly the time counts; a millisecond before does not.
	if got, err = s.Due(ctx, at(2*time.Minute), 100); err != nil {
		t.Fatal(err)
	}
	same(t, "due by 2m", got, want[:4])
	if got, err = s.Due(ctx, at(2*time.Minute-time.Millisecond), 100); err != nil {
		t.Fatal(err)
	}
	same(t, "due by 2m-1ms", got, want[:3])
	if got, err = s.Due(ctx, at(time.Hour), 2); err != nil {
		t.Fatal(err)
	}
	same(t, "limit 2", got, want[:2])
	if got, err = s.Due(ctx, T0, 100); err != nil || len(got) != 0 {
		t.Fatalf("due at T0: %v %v", got, err)
	}
}
