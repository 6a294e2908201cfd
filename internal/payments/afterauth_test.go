package payments_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
	"github.com/cardgate/cardgate/protocol"
)

// The paths after the authorization that the table test on SQLite does not reach: validation,
// idempotency, acquirer failures, late answers, and the time-driven work through Due.

func (h *harness) pay(t *testing.T, pan, requestID string, mode payments.CaptureMode) payments.Payment {
	t.Helper()
	p, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, pan, requestID, func(m jsonObj) {
		set(m, "paymentFactor.captureMode", string(mode))
	}))
	if err != nil {
		t.Fatalf("pay %s: %v", pan, err)
	}
	return p
}

func amt(value string) *protocol.Amount { return &protocol.Amount{Currency: "SGD", Value: value} }

func (h *harness) capture(m payments.Merchant, paymentID, requestID string, a *protocol.Amount) (payments.Txn, payments.Payment, error) {
	return h.svc.Capture(context.Background(), m, &protocol.CaptureRequest{CaptureRequestID: requestID, PaymentID: paymentID, CaptureAmount: a})
}

func (h *harness) refund(m payments.Merchant, paymentID, requestID string, a *protocol.Amount) (payments.Txn, payments.Payment, error) {
	return h.svc.Refund(context.Background(), m, &protocol.RefundRequest{RefundRequestID: requestID, PaymentID: paymentID, RefundAmount: a})
}

func (h *harness) reload(t *testing.T, p payments.Payment) payments.Payment {
	t.Helper()
	cur, err := h.store.PaymentByID(context.Background(), p.MerchantID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return cur
}

// due lists the work due now for payment id, as kinds.
func (h *harness) due(t *testing.T, id string) []payments.DueKind {
	t.Helper()
	items, err := h.svc.DueWork(context.Background(), h.clock.Now(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []payments.DueKind
	for _, d := range items {
		if d.PaymentID == id {
			out = append(out, d.Kind)
		}
	}
	return out
}

// runDue runs everything due now until nothing is left; errors are returned, not fatal.
func (h *harness) runDue(t *testing.T) []error {
	t.Helper()
	var errs []error
	for range 10 {
		items, err := h.svc.DueWork(context.Background(), h.clock.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		ran := false
		for _, d := range items {
			if err := h.svc.RunDue(context.Background(), d); err != nil {
				errs = append(errs, err)
				continue
			}
			ran = true
		}
		if !ran {
			return errs
		}
	}
	return errs
}

func TestCaptureValidation(t *testing.T) {
	h := newHarness(t)
	p := h.pay(t, "4242424242424242", "manual", payments.CaptureManual)
	usd := &protocol.Amount{Currency: "USD", Value: "4200"}
	for _, tc := range []struct {
		name      string
		m         payments.Merchant
		req       *protocol.CaptureRequest
		code      protocol.Code
		inMessage string
	}{
		{"no captureRequestId", merchantA, &protocol.CaptureRequest{PaymentID: p.ID, CaptureAmount: amt("4200")}, protocol.CodeParamIllegal, "captureRequestId"},
		{"long captureRequestId", merchantA, &protocol.CaptureRequest{CaptureRequestID: strings.Repeat("c", 65), PaymentID: p.ID, CaptureAmount: amt("4200")}, protocol.CodeParamIllegal, "captureRequestId"},
		{"no paymentId", merchantA, &protocol.CaptureRequest{CaptureRequestID: "c", CaptureAmount: amt("4200")}, protocol.CodeParamIllegal, "paymentId"},
		{"no captureAmount", merchantA, &protocol.CaptureRequest{CaptureRequestID: "c", PaymentID: p.ID}, protocol.CodeParamIllegal, "captureAmount"},
		{"no value", merchantA, &protocol.CaptureRequest{CaptureRequestID: "c", PaymentID: p.ID, CaptureAmount: &protocol.Amount{Currency: "SGD"}}, protocol.CodeParamIllegal, "captureAmount.value"},
		{"bad value", merchantA, &protocol.CaptureRequest{CaptureRequestID: "c", PaymentID: p.ID, CaptureAmount: amt("42.00")}, protocol.CodeParamIllegal, "captureAmount"},
		{"other currency", merchantA, &protocol.CaptureRequest{CaptureRequestID: "c", PaymentID: p.ID, CaptureAmount: usd}, protocol.CodeParamIllegal, "captureAmount.currency"},
		{"above authorized", merchantA, &protocol.CaptureRequest{CaptureRequestID: "c", PaymentID: p.ID, CaptureAmount: amt("4201")}, protocol.CodeCaptureAmountExceedAuthLimit, "42.01"},
		{"below authorized", merchantA, &protocol.CaptureRequest{CaptureRequestID: "c", PaymentID: p.ID, CaptureAmount: amt("4199")}, protocol.CodeParamIllegal, "captureAmount.value"},
		{"unknown payment", merchantA, &protocol.CaptureRequest{CaptureRequestID: "c", PaymentID: "20260515000000000000000000000000000", CaptureAmount: amt("4200")}, protocol.CodeOrderNotExist, ""},
		{"another merchant's payment", merchantB, &protocol.CaptureRequest{CaptureRequestID: "c", PaymentID: p.ID, CaptureAmount: amt("4200")}, protocol.CodeOrderNotExist, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.store.rows()
			_, _, err := h.svc.Capture(context.Background(), tc.m, tc.req)
			assertRefused(t, err, tc.code, tc.inMessage)
			if after := h.store.rows(); after != before {
				t.Errorf("rows %v → %v: a refused capture wrote something", before, after)
			}
		})
	}
	if got := h.reload(t, p); got.Stage() != payments.StageAuthorized || got.Version != p.Version {
		t.Errorf("payment moved to %s v%d", got.Stage(), got.Version)
	}
	if n := h.acq.captures.Load(); n != 0 {
		t.Errorf("the acquirer saw %d captures", n)
	}
}

func TestCaptureIdempotency(t *testing.T) {
	h := newHarness(t)
	p := h.pay(t, "4242424242424242", "manual", payments.CaptureManual)
	first, captured, err := h.capture(merchantA, p.ID, "cap-1", amt("4200"))
	if err != nil || first.Status != payments.TxnSucceeded || captured.Stage() != payments.StageCaptured {
		t.Fatalf("capture: %+v %s, %v", first, captured.Stage(), err)
	}
	if r := payments.CaptureResponseOf(captured, first).Result; r != protocol.SuccessResult() {
		t.Errorf("capture answer %+v", r)
	}
	rows := h.store.rows()

	// The same request again: the first answer, nothing written, the acquirer not asked.
	again, _, err := h.capture(merchantA, p.ID, "cap-1", amt("4200"))
	if err != nil || again.ID != first.ID || again.Status != payments.TxnSucceeded {
		t.Errorf("replay: %+v, %v", again, err)
	}
	// The same request id with other key fields.
	other := h.pay(t, "5555555555554444", "manual-2", payments.CaptureManual)
	_, _, err = h.capture(merchantA, other.ID, "cap-1", amt("4200"))
	assertRefused(t, err, protocol.CodeRepeatReqInconsistent, "cap-1")
	_, _, err = h.capture(merchantA, p.ID, "cap-1", amt("4100"))
	assertRefused(t, err, protocol.CodeRepeatReqInconsistent, "cap-1")
	// A new request id: a second capture.
	_, _, err = h.capture(merchantA, p.ID, "cap-2", amt("4200"))
	assertRefused(t, err, protocol.CodeMultiCaptureNotSupported, "capture")
	if h.acq.captures.Load() != 1 {
		t.Errorf("the acquirer saw %d captures, want 1", h.acq.captures.Load())
	}
	// Only the other payment was written: its row, CREATE, AUTH_APPROVED and PAYMENT_RESULT.
	if after := h.store.rows(); after != [4]int{rows[0] + 1, rows[1], rows[2] + 2, rows[3] + 1} {
		t.Errorf("rows %v → %v", rows, after)
	}
	// Request ids are per merchant: merchant B may use cap-1 for its own payment.
	pb, err := h.svc.Pay(context.Background(), merchantB, payRequest(t, "4242424242424242", "b", func(m jsonObj) {
		set(m, "paymentFactor.captureMode", "MANUAL")
	}))
	if err != nil {
		t.Fatal(err)
	}
	if tb, _, err := h.capture(merchantB, pb.ID, "cap-1", amt("4200")); err != nil || tb.ID == first.ID || tb.MerchantID != merchantB.ID {
		t.Errorf("merchant B's cap-1: %+v, %v", tb, err)
	}
}

func TestCaptureConcurrentSameRequest(t *testing.T) {
	h := newHarness(t)
	p := h.pay(t, "4242424242424242", "manual", payments.CaptureManual)
	const n = 20
	type answer struct {
		t   payments.Txn
		err error
	}
	answers := make(chan answer, n)
	for range n {
		go func() {
			tx, _, err := h.capture(merchantA, p.ID, "same", amt("4200"))
			answers <- answer{tx, err}
		}()
	}
	var id string
	for range n {
		a := <-answers
		if a.err != nil {
			t.Errorf("concurrent replay: %v", a.err)
			continue
		}
		if id == "" {
			id = a.t.ID
		}
		if a.t.ID != id {
			t.Errorf("captures %s and %s for one captureRequestId", a.t.ID, id)
		}
	}
	if n := h.acq.captures.Load(); n != 1 {
		t.Errorf("the acquirer saw %d captures, want 1", n)
	}
	if got := h.reload(t, p); got.Stage() != payments.StageCaptured {
		t.Errorf("stage %s", got.Stage())
	}
}

func TestCaptureAcquirerErrorIsAskedAgainWhenDue(t *testing.T) {
	h := newHarness(t)
	p := h.pay(t, "4242424242424242", "manual", payments.CaptureManual)
	h.acq.captureErr = errors.New("connection reset")
	tx, cur, err := h.capture(merchantA, p.ID, "cap", amt("4200"))
	if err != nil {
		t.Fatalf("capture with an unknown outcome: %v (want U, not an error)", err)
	}
	if r := payments.CaptureResponseOf(cur, tx).Result; r.ResultCode != string(protocol.CodeCaptureInProcess) || r.ResultStatus != "U" {
		t.Errorf("answer %+v, want U/CAPTURE_IN_PROCESS", r)
	}
	if cur.Stage() != payments.StageCapturing || tx.Status != payments.TxnProcessing || !tx.DueAt.Equal(testNow.Add(time.Minute)) {
		t.Fatalf("stage %s, capture %s due %v", cur.Stage(), tx.Status, tx.DueAt)
	}
	if got := h.store.notifyTypesOf(p.ID); len(got) != 1 {
		t.Errorf("notifications %v: nothing is owed for a capture in process", got)
	}
	// A cancel is refused while the capture is in process (it might have gone through).
	_, err = h.svc.Cancel(context.Background(), merchantA, &protocol.CancelRequest{PaymentID: p.ID})
	assertRefused(t, err, protocol.CodeOrderStatusInvalid, "cancel")

	if due := h.due(t, p.ID); len(due) != 0 {
		t.Errorf("due before the retry time: %v", due)
	}
	h.acq.captureErr = nil
	h.clock.Advance(time.Minute)
	if due := h.due(t, p.ID); !slices.Equal(due, []payments.DueKind{payments.DueCaptureStatus}) {
		t.Fatalf("due %v, want CAPTURE_STATUS", due)
	}
	if errs := h.runDue(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	got := h.reload(t, p)
	if got.Stage() != payments.StageCaptured || got.CapturedMinor != 4200 || !got.CapturedAt.Equal(testNow.Add(time.Minute)) {
		t.Errorf("after the retry: %s, captured %d at %v", got.Stage(), got.CapturedMinor, got.CapturedAt)
	}
	if got := h.store.opsOf(p.ID); !slices.Equal(got[2:], []payments.Op{payments.OpCapture, payments.OpCapturePending, payments.OpCaptureSucceeded}) {
		t.Errorf("events %v", got)
	}
	if got := h.store.notifyTypesOf(p.ID); !slices.Equal(got, []string{"PAYMENT_RESULT", "CAPTURE_RESULT"}) {
		t.Errorf("notifications %v", got)
	}
	if n := h.acq.captures.Load(); n != 2 {
		t.Errorf("the acquirer saw %d captures, want the lost one sent again", n)
	}
}

func TestCaptureProcessingCard(t *testing.T) {
	h := newHarness(t)
	p := h.pay(t, "4000000000000028", "auto", payments.CaptureAutomatic)
	if p.Stage() != payments.StageCapturing {
		t.Fatalf("stage %s after an automatic capture of 0028", p.Stage())
	}
	h.clock.Advance(59 * time.Second)
	if due := h.due(t, p.ID); len(due) != 0 {
		t.Errorf("due at +59s: %v", due)
	}
	h.clock.Advance(time.Second)
	if errs := h.runDue(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := h.reload(t, p); got.Stage() != payments.StageCaptured {
		t.Errorf("stage %s at +1m", got.Stage())
	}
	if got := h.store.notifyTypesOf(p.ID); !slices.Equal(got, []string{"PAYMENT_RESULT", "CAPTURE_RESULT"}) {
		t.Errorf("notifications %v", got)
	}
}

func TestRefunds(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	p := h.pay(t, "4242424242424242", "auto", payments.CaptureAutomatic)
	if p.Stage() != payments.StageCaptured {
		t.Fatalf("stage %s", p.Stage())
	}
	refundURL := "https://shop.example/refunds"

	// Validation: nothing written.
	before := h.store.rows()
	for _, tc := range []struct {
		req  *protocol.RefundRequest
		code protocol.Code
		path string
	}{
		{&protocol.RefundRequest{PaymentID: p.ID, RefundAmount: amt("1")}, protocol.CodeParamIllegal, "refundRequestId"},
		{&protocol.RefundRequest{RefundRequestID: strings.Repeat("r", 65), PaymentID: p.ID, RefundAmount: amt("1")}, protocol.CodeParamIllegal, "refundRequestId"},
		{&protocol.RefundRequest{RefundRequestID: "r", RefundAmount: amt("1")}, protocol.CodeParamIllegal, "paymentId"},
		{&protocol.RefundRequest{RefundRequestID: "r", PaymentID: p.ID}, protocol.CodeParamIllegal, "refundAmount"},
		{&protocol.RefundRequest{RefundRequestID: "r", PaymentID: p.ID, RefundAmount: amt("0")}, protocol.CodeParamIllegal, "refundAmount"},
		{&protocol.RefundRequest{RefundRequestID: "r", PaymentID: p.ID, RefundAmount: &protocol.Amount{Currency: "USD", Value: "1"}}, protocol.CodeParamIllegal, "refundAmount.currency"},
		{&protocol.RefundRequest{RefundRequestID: "r", PaymentID: p.ID, RefundAmount: amt("1"), RefundNotifyURL: "not a url"}, protocol.CodeParamIllegal, "refundNotifyUrl"},
		{&protocol.RefundRequest{RefundRequestID: "r", PaymentID: p.ID, RefundAmount: amt("1"), RefundNotifyURL: "ftp://x.example/"}, protocol.CodeParamIllegal, "refundNotifyUrl"},
		{&protocol.RefundRequest{RefundRequestID: "r", PaymentID: p.ID, RefundAmount: amt("1"), RefundReason: strings.Repeat("x", 257)}, protocol.CodeParamIllegal, "refundReason"},
		{&protocol.RefundRequest{RefundRequestID: "r", PaymentID: p.ID, RefundAmount: amt("4201")}, protocol.CodeRefundAmountExceed, "42.01"},
		{&protocol.RefundRequest{RefundRequestID: "r", PaymentID: "20260515000000000000000000000000000", RefundAmount: amt("1")}, protocol.CodeOrderNotExist, ""},
	} {
		_, _, err := h.svc.Refund(ctx, merchantA, tc.req)
		assertRefused(t, err, tc.code, tc.path)
	}
	_, _, err := h.refund(merchantB, p.ID, "r", amt("1"))
	assertRefused(t, err, protocol.CodeOrderNotExist, "")
	if after := h.store.rows(); after != before {
		t.Fatalf("rows %v → %v after refusals", before, after)
	}

	// Two partial refunds, then one above the remainder. (The clock moves between them: the store
	// orders transactions by creation time, then by id.)
	h.clock.Advance(time.Second)
	r1, _, err := h.svc.Refund(ctx, merchantA, &protocol.RefundRequest{RefundRequestID: "r1", PaymentID: p.ID, RefundAmount: amt("1000"),
		RefundReason: "damaged", RefundNotifyURL: refundURL, ReferenceRefundID: "ref-1"})
	if err != nil || r1.Status != payments.TxnSucceeded {
		t.Fatalf("refund 1: %+v, %v", r1, err)
	}
	h.clock.Advance(time.Second)
	r2, cur, err := h.refund(merchantA, p.ID, "r2", amt("3000"))
	if err != nil || r2.Status != payments.TxnSucceeded || cur.RefundedMinor != 4000 {
		t.Fatalf("refund 2: %+v refunded %d, %v", r2, cur.RefundedMinor, err)
	}
	if r := payments.RefundResponseOf(cur, r2); r.Result != protocol.SuccessResult() || r.ActualRefundAmount == nil || r.RefundTime == "" {
		t.Errorf("refund answer %+v", r)
	}
	_, _, err = h.refund(merchantA, p.ID, "r3", amt("201"))
	assertRefused(t, err, protocol.CodeRefundAmountExceed, "2.00")
	// The exact remainder fits.
	h.clock.Advance(time.Second)
	if r4, cur, err := h.refund(merchantA, p.ID, "r4", amt("200")); err != nil || r4.Status != payments.TxnSucceeded || cur.RefundedMinor != 4200 {
		t.Fatalf("refund of the remainder: %+v, %v", r4, err)
	}
	_, _, err = h.refund(merchantA, p.ID, "r5", amt("1"))
	assertRefused(t, err, protocol.CodeRefundAmountExceed, "")

	// Replays: the first answer; other key fields: REPEAT_REQ_INCONSISTENT.
	again, _, err := h.refund(merchantA, p.ID, "r1", amt("1000"))
	if err != nil || again.ID != r1.ID {
		t.Errorf("replay of r1: %+v, %v", again, err)
	}
	_, _, err = h.refund(merchantA, p.ID, "r1", amt("999"))
	assertRefused(t, err, protocol.CodeRepeatReqInconsistent, "r1")
	if n := h.acq.refunds.Load(); n != 3 {
		t.Errorf("the acquirer saw %d refunds, want 3", n)
	}

	// Notifications: one per refund, to the refund's own URL when it named one.
	var refundRows []payments.OutboxMessage
	for _, o := range h.store.outboxOf(p.ID) {
		if o.NotifyType == protocol.NotifyTypeRefundResult {
			refundRows = append(refundRows, o)
		}
	}
	if len(refundRows) != 3 || refundRows[0].URL != refundURL || refundRows[1].URL != requestNotifyURL || refundRows[0].Ref != r1.ID {
		t.Errorf("refund notifications %+v", refundRows)
	}

	// inquiryRefund by refundId or refundRequestId (refundId wins), never another merchant's.
	for _, req := range []*protocol.InquiryRefundRequest{{RefundID: r1.ID}, {RefundRequestID: "r1"}, {RefundID: r1.ID, RefundRequestID: "r2"}} {
		got, err := h.svc.InquireRefund(ctx, merchantA, req)
		if err != nil || got.ID != r1.ID {
			t.Errorf("InquireRefund(%+v) = %s, %v", req, got.ID, err)
		}
		if r := payments.InquiryRefundResponseOf(got); r.RefundStatus != "SUCCESS" || r.RefundAmount.Value != "1000" {
			t.Errorf("inquiryRefund %+v", r)
		}
	}
	for _, c := range []struct {
		m   payments.Merchant
		req *protocol.InquiryRefundRequest
	}{
		{merchantB, &protocol.InquiryRefundRequest{RefundID: r1.ID}},
		{merchantB, &protocol.InquiryRefundRequest{RefundRequestID: "r1"}},
		{merchantA, &protocol.InquiryRefundRequest{RefundRequestID: "none"}},
		{merchantA, &protocol.InquiryRefundRequest{RefundID: p.ID}},
	} {
		_, err := h.svc.InquireRefund(ctx, c.m, c.req)
		assertRefused(t, err, protocol.CodeOrderNotExist, "")
	}
	_, err = h.svc.InquireRefund(ctx, merchantA, &protocol.InquiryRefundRequest{})
	assertRefused(t, err, protocol.CodeParamIllegal, "refundId")
	// A capture's id is not a refund's.
	capture := h.store.outboxOf(p.ID)[1].Ref
	_, err = h.svc.InquireRefund(ctx, merchantA, &protocol.InquiryRefundRequest{RefundID: capture})
	assertRefused(t, err, protocol.CodeOrderNotExist, "")

	// inquiryPayment shows the capture and every refund.
	txns, err := h.svc.Transactions(ctx, h.reload(t, p))
	if err != nil {
		t.Fatal(err)
	}
	ir := payments.InquiryResponseOf(h.reload(t, p), txns)
	var kinds []string
	for _, tr := range ir.Transactions {
		kinds = append(kinds, tr.TransactionType+":"+tr.TransactionStatus+":"+tr.TransactionAmount.Value)
	}
	if want := []string{"CAPTURE:SUCCESS:4200", "REFUND:SUCCESS:1000", "REFUND:SUCCESS:3000", "REFUND:SUCCESS:200"}; !slices.Equal(kinds, want) {
		t.Errorf("transactions %v, want %v", kinds, want)
	}
}

func TestRefundWindow(t *testing.T) {
	h := newHarness(t)
	p := h.pay(t, "4242424242424242", "auto", payments.CaptureAutomatic)
	h.clock.Advance(365 * 24 * time.Hour)
	if _, _, err := h.refund(merchantA, p.ID, "in-window", amt("100")); err != nil {
		t.Fatalf("refund on the last day of the window: %v", err)
	}
	h.clock.Advance(time.Millisecond)
	before := h.store.rows()
	_, _, err := h.refund(merchantA, p.ID, "late", amt("100"))
	assertRefused(t, err, protocol.CodeRefundWindowExceed, "365 days")
	if after := h.store.rows(); after != before {
		t.Errorf("rows %v → %v", before, after)
	}
}

func TestRefundAcquirerFailures(t *testing.T) {
	h := newHarness(t)
	p := h.pay(t, "4242424242424242", "auto", payments.CaptureAutomatic)

	// The acquirer refuses: the amount is refundable again, and the merchant is told F.
	h.acq.refundAnswer = &acquirer.OpResult{Status: acquirer.OpFailed, Code: protocol.CodeProcessFail, Message: "no"}
	tx, cur, err := h.refund(merchantA, p.ID, "refused", amt("4200"))
	if err != nil || tx.Status != payments.TxnFailed || cur.RefundedMinor != 0 {
		t.Fatalf("refused refund: %+v refunded %d, %v", tx, cur.RefundedMinor, err)
	}
	if r := payments.RefundResponseOf(cur, tx).Result; r.ResultCode != "PROCESS_FAIL" || r.ResultStatus != "F" {
		t.Errorf("answer %+v", r)
	}
	h.acq.refundAnswer = nil

	// The outcome is unknown: U, the amount stays reserved, and the refund is sent again when due.
	h.acq.refundErr = errors.New("timeout")
	tx, cur, err = h.refund(merchantA, p.ID, "lost", amt("4000"))
	if err != nil || tx.Status != payments.TxnProcessing || cur.RefundedMinor != 4000 {
		t.Fatalf("lost refund: %+v refunded %d, %v", tx, cur.RefundedMinor, err)
	}
	if r := payments.RefundResponseOf(cur, tx).Result; r.ResultCode != "REFUND_IN_PROCESS" || r.ResultStatus != "U" {
		t.Errorf("answer %+v", r)
	}
	_, _, err = h.refund(merchantA, p.ID, "too-much", amt("201"))
	assertRefused(t, err, protocol.CodeRefundAmountExceed, "")
	h.acq.refundErr = nil
	h.clock.Advance(time.Minute)
	if due := h.due(t, p.ID); !slices.Equal(due, []payments.DueKind{payments.DueRefundStatus}) {
		t.Fatalf("due %v, want REFUND_STATUS", due)
	}
	if errs := h.runDue(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	got, err := h.svc.InquireRefund(context.Background(), merchantA, &protocol.InquiryRefundRequest{RefundRequestID: "lost"})
	if err != nil || got.Status != payments.TxnSucceeded {
		t.Fatalf("after the retry: %+v, %v", got, err)
	}
	if cur := h.reload(t, p); cur.RefundedMinor != 4000 {
		t.Errorf("refunded %d", cur.RefundedMinor)
	}
	var types []string
	for _, o := range h.store.outboxOf(p.ID) {
		types = append(types, o.NotifyType)
	}
	if want := []string{"PAYMENT_RESULT", "CAPTURE_RESULT", "REFUND_RESULT", "REFUND_RESULT"}; !slices.Equal(types, want) {
		t.Errorf("notifications %v, want %v", types, want)
	}
}

// TestLateApprovalAfterCancel: the merchant cancels while the acquirer is still deciding; the
// approval that arrives afterwards is voided at the acquirer and never revives the payment.
func TestLateApprovalAfterCancel(t *testing.T) {
	h := newHarness(t)
	h.acq.during = func() {
		p, err := h.store.PaymentByRequestID(context.Background(), merchantA.ID, "late")
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := h.svc.Cancel(context.Background(), merchantA, &protocol.CancelRequest{PaymentID: p.ID}); err != nil {
			t.Errorf("cancel during the authorization: %v", err)
		}
	}
	p := h.pay(t, "4242424242424242", "late", payments.CaptureAutomatic)
	if p.Stage() != payments.StageCancelled || p.VoidState != payments.VoidDone {
		t.Fatalf("pay returned %s (void %q), want the cancelled payment with the late approval voided", p.Stage(), p.VoidState)
	}
	if r := payments.PayResponseOf(p).Result; r.ResultCode != "ORDER_IS_CANCELED" {
		t.Errorf("pay answers %+v", r)
	}
	// The cancel reverses the authorization in flight by the gateway's reference (its answer is
	// not in, so its own reference is unknown); the approval that arrives afterwards is voided by
	// its reference too.
	if got := h.store.opsOf(p.ID); !slices.Equal(got, []payments.Op{payments.OpCreate, payments.OpCancel, payments.OpVoidSent, payments.OpLateAuthVoided, payments.OpVoidSent}) {
		t.Errorf("events %v", got)
	}
	if n := h.acq.reversals.Load(); n != 1 {
		t.Errorf("%d reversals at the acquirer, want 1", n)
	}
	if got := h.store.notifyTypesOf(p.ID); len(got) != 0 {
		t.Errorf("notifications %v: cancel notifies nothing, and the late approval is no result", got)
	}
	if n := h.acq.voids.Load(); n != 1 {
		t.Errorf("%d voids at the acquirer, want 1", n)
	}
	if n := h.acq.captures.Load(); n != 0 {
		t.Errorf("the cancelled payment was captured %d times", n)
	}
	if due := h.due(t, p.ID); len(due) != 0 {
		t.Errorf("due %v", due)
	}
}

// TestLateApprovalAfterExpiry: the payment expires while the acquirer is deciding.
func TestLateApprovalAfterExpiry(t *testing.T) {
	// The in-flight lease outlasts the expiry here: what is under test is the expiry overtaking
	// an answer, not the resolution of an authorization whose sender died (inflight_test.go).
	h := newHarness(t, payments.Config{InFlightLease: payments.DefaultPaymentExpiry + time.Minute})
	h.acq.during = func() {
		h.clock.Advance(payments.DefaultPaymentExpiry)
		if errs := h.runDue(t); len(errs) != 0 {
			t.Error(errs)
		}
	}
	p := h.pay(t, "4242424242424242", "late", payments.CaptureAutomatic)
	if p.Stage() != payments.StageExpired || p.ResultCode != protocol.CodeOrderIsClosed {
		t.Fatalf("pay returned %s %s, want EXPIRED ORDER_IS_CLOSED", p.Stage(), p.ResultCode)
	}
	if got := h.store.opsOf(p.ID); !slices.Equal(got, []payments.Op{payments.OpCreate, payments.OpExpire, payments.OpVoidSent, payments.OpLateAuthVoided, payments.OpVoidSent}) {
		t.Errorf("events %v", got)
	}
	if n, v := h.acq.reversals.Load(), h.acq.voids.Load(); n != 1 || v != 1 {
		t.Errorf("%d reversals and %d voids at the acquirer, want 1 and 1", n, v)
	}
	rows := h.store.outboxOf(p.ID)
	if len(rows) != 1 || !strings.Contains(string(rows[0].Body), `"resultCode":"ORDER_IS_CLOSED"`) {
		t.Errorf("notifications %+v, want one PAYMENT_RESULT with ORDER_IS_CLOSED", rows)
	}
}

func TestTimeoutCardSettles(t *testing.T) {
	h := newHarness(t)
	p := h.pay(t, "4000000000000119", "slow", payments.CaptureAutomatic)
	if p.Stage() != payments.StageProcessing || !p.AcquirerDueAt.Equal(testNow.Add(5*time.Second)) {
		t.Fatalf("stage %s, due %v", p.Stage(), p.AcquirerDueAt)
	}
	h.clock.Advance(4 * time.Second)
	if due := h.due(t, p.ID); len(due) != 0 {
		t.Errorf("due at +4s: %v", due)
	}
	h.clock.Advance(time.Second)
	if errs := h.runDue(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	got := h.reload(t, p)
	if got.Stage() != payments.StageCaptured || got.ResultCode != protocol.CodeSuccess || !got.AuthorizedAt.Equal(testNow.Add(5*time.Second)) {
		t.Errorf("after settling: %s %s authorized %v", got.Stage(), got.ResultCode, got.AuthorizedAt)
	}
	if got := h.store.notifyTypesOf(p.ID); !slices.Equal(got, []string{"PAYMENT_RESULT", "CAPTURE_RESULT"}) {
		t.Errorf("notifications %v", got)
	}
	// A replay now answers the settled payment.
	again := h.pay(t, "4000000000000119", "slow", payments.CaptureAutomatic)
	if again.ID != p.ID || again.Stage() != payments.StageCaptured {
		t.Errorf("replay: %s %s", again.ID, again.Stage())
	}
}

func TestExpiryAndAutoVoidBoundaries(t *testing.T) {
	t.Run("expiry at 14 minutes, not at 13", func(t *testing.T) {
		h := newHarness(t)
		p := h.pay(t, "4000000000000044", "never", payments.CaptureAutomatic)
		h.clock.Advance(13 * time.Minute)
		if due := h.due(t, p.ID); len(due) != 0 {
			t.Fatalf("due at +13m: %v", due)
		}
		h.clock.Advance(2 * time.Minute)
		if errs := h.runDue(t); len(errs) != 0 {
			t.Fatal(errs)
		}
		got := h.reload(t, p)
		if got.Stage() != payments.StageExpired || got.State != payments.StateFail || got.ResultCode != protocol.CodeOrderIsClosed || !got.ClosedAt.Equal(testNow.Add(15*time.Minute)) {
			t.Errorf("after +15m: %s %s %s closed %v", got.Stage(), got.State, got.ResultCode, got.ClosedAt)
		}
		if ir := payments.InquiryResponseOf(got, nil); ir.PaymentStatus != "FAIL" || ir.PaymentResultCode != "ORDER_IS_CLOSED" {
			t.Errorf("inquiry %s %s", ir.PaymentStatus, ir.PaymentResultCode)
		}
		if got := h.store.notifyTypesOf(p.ID); !slices.Equal(got, []string{"PAYMENT_RESULT"}) {
			t.Errorf("notifications %v", got)
		}
	})
	t.Run("auto-void after 7 days and a minute, not at 6 days 23 hours", func(t *testing.T) {
		h := newHarness(t)
		p := h.pay(t, "4242424242424242", "hold", payments.CaptureManual)
		h.clock.Advance(6*24*time.Hour + 23*time.Hour)
		if due := h.due(t, p.ID); len(due) != 0 {
			t.Fatalf("due at +6d23h: %v", due)
		}
		h.clock.Advance(time.Hour + time.Minute)
		if errs := h.runDue(t); len(errs) != 0 {
			t.Fatal(errs)
		}
		got := h.reload(t, p)
		if got.Stage() != payments.StageVoided || got.State != payments.StateCancelled || got.VoidState != payments.VoidDone {
			t.Errorf("after +7d1m: %s %s void %q", got.Stage(), got.State, got.VoidState)
		}
		txns, _ := h.store.Txns(context.Background(), merchantA.ID, p.ID)
		if len(txns) != 1 || txns[0].Type != payments.TxnVoid || txns[0].Status != payments.TxnSucceeded {
			t.Errorf("transactions %+v, want one VOID", txns)
		}
		if got := h.store.notifyTypesOf(p.ID); !slices.Equal(got, []string{"PAYMENT_RESULT"}) {
			t.Errorf("notifications %v: the auto-void notifies nothing", got)
		}
	})
}

// TestVoidOwedIsRetried: a void the acquirer did not confirm stays owed and is sent again by the
// due-work runner until it is.
func TestVoidOwedIsRetried(t *testing.T) {
	h := newHarness(t)
	p := h.pay(t, "4242424242424242", "void", payments.CaptureManual)
	h.acq.voidErr = errors.New("acquirer down")
	got, err := h.svc.Cancel(context.Background(), merchantA, &protocol.CancelRequest{PaymentRequestID: "void"})
	if err != nil || got.Stage() != payments.StageCancelled || got.VoidState != payments.VoidPending {
		t.Fatalf("cancel: %s void %q, %v", got.Stage(), got.VoidState, err)
	}
	if r := payments.CancelResponseOf(got); r.Result != protocol.SuccessResult() || r.CancelTime == "" {
		t.Errorf("cancel answer %+v", r)
	}
	if due := h.due(t, p.ID); !slices.Equal(due, []payments.DueKind{payments.DueVoid}) {
		t.Fatalf("due %v, want VOID", due)
	}
	if errs := h.runDue(t); len(errs) == 0 {
		t.Error("a void the acquirer refused reported success")
	}
	h.acq.voidErr = nil
	if errs := h.runDue(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := h.reload(t, p); got.VoidState != payments.VoidDone || got.Stage() != payments.StageCancelled {
		t.Errorf("after the retry: %s void %q", got.Stage(), got.VoidState)
	}
	if due := h.due(t, p.ID); len(due) != 0 {
		t.Errorf("due %v", due)
	}
	// Cancel again: S, nothing written.
	before := h.store.rows()
	if _, err := h.svc.Cancel(context.Background(), merchantA, &protocol.CancelRequest{PaymentID: p.ID}); err != nil {
		t.Errorf("second cancel: %v", err)
	}
	if after := h.store.rows(); after != before {
		t.Errorf("rows %v → %v", before, after)
	}
}

func TestCancelLookup(t *testing.T) {
	h := newHarness(t)
	p := h.pay(t, "4242424242424242", "c", payments.CaptureManual)
	for _, c := range []struct {
		m    payments.Merchant
		req  *protocol.CancelRequest
		code protocol.Code
	}{
		{merchantA, &protocol.CancelRequest{}, protocol.CodeParamIllegal},
		{merchantA, &protocol.CancelRequest{PaymentRequestID: "none"}, protocol.CodeOrderNotExist},
		{merchantA, &protocol.CancelRequest{PaymentID: "20260515000000000000000000000000000", PaymentRequestID: "c"}, protocol.CodeOrderNotExist},
		{merchantB, &protocol.CancelRequest{PaymentID: p.ID}, protocol.CodeOrderNotExist},
		{merchantB, &protocol.CancelRequest{PaymentRequestID: "c"}, protocol.CodeOrderNotExist},
	} {
		_, err := h.svc.Cancel(context.Background(), c.m, c.req)
		if protocolCode(err) != c.code {
			t.Errorf("Cancel(%s, %+v) = %v, want %s", c.m.ID, c.req, err, c.code)
		}
	}
	if got := h.reload(t, p); got.Stage() != payments.StageAuthorized {
		t.Errorf("stage %s", got.Stage())
	}
}

// TestStoreGuards: the store the service tests run on refuses, and leaves no trace of, each
// change that breaks a rule the service counts on the schema to enforce.
func TestStoreGuards(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	p := h.pay(t, "4242424242424242", "auto", payments.CaptureAutomatic)
	txns, _ := h.store.Txns(ctx, merchantA.ID, p.ID)
	capture := txns[0]
	change := func(mut func(*payments.Payment)) payments.Change {
		next := p
		mut(&next)
		next.Version = p.Version + 1
		return payments.Change{Payment: next, FromVersion: p.Version, Event: payments.Event{PaymentID: p.ID, Op: "TEST"}}
	}
	for _, tc := range []struct {
		name string
		c    payments.Change
		want error
	}{
		{"stale version", payments.Change{Payment: payments.Payment{ID: p.ID, MerchantID: p.MerchantID, Version: p.Version}, FromVersion: p.Version - 1}, payments.ErrConflict},
		{"another merchant", change(func(q *payments.Payment) { q.MerchantID = merchantB.ID }), payments.ErrConflict},
		{"captured above authorized", change(func(q *payments.Payment) { q.CapturedMinor = 4201 }), sqlstore.ErrConstraint},
		{"refunded above captured", change(func(q *payments.Payment) { q.RefundedMinor = 4201 }), sqlstore.ErrConstraint},
		{"negative refund", change(func(q *payments.Payment) { q.RefundedMinor = -1 }), sqlstore.ErrConstraint},
		{"captured and cancelled", change(func(q *payments.Payment) { q.State = payments.StateCancelled }), sqlstore.ErrConstraint},
		{"capture undone", change(func(q *payments.Payment) { q.Capture = payments.CaptureFailed }), sqlstore.ErrConstraint},
		{"second automatic capture of one payment", func() payments.Change {
			c := change(func(*payments.Payment) {})
			c.NewTxn = &payments.Txn{ID: "new", PaymentID: p.ID, MerchantID: p.MerchantID, Type: payments.TxnCapture, RequestID: capture.RequestID, Status: payments.TxnProcessing, Amount: p.Amount, Internal: true}
			return c
		}(), payments.ErrDuplicate},
		{"final transaction rewritten", func() payments.Change {
			c := change(func(*payments.Payment) {})
			again := capture
			again.Status = payments.TxnFailed
			c.Txn = &again
			return c
		}(), payments.ErrConflict},
		{"second notification of one result", func() payments.Change {
			c := change(func(*payments.Payment) {})
			c.Outbox = &payments.OutboxMessage{MerchantID: p.MerchantID, PaymentID: p.ID, NotifyType: protocol.NotifyTypeCaptureResult, Ref: capture.ID}
			return c
		}(), nil},
	} {
		before := h.store.rows()
		err := h.store.Apply(ctx, tc.c)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: Apply = %v, want %v", tc.name, err, tc.want)
		}
		if after := h.store.rows(); after != before {
			t.Errorf("%s: rows %v → %v after a refused change", tc.name, before, after)
		}
	}
	if got := h.reload(t, p); got.Version != p.Version {
		t.Errorf("payment moved to v%d", got.Version)
	}
}

// TestAutomaticCaptureDoesNotTakeACaptureRequestID: an automatic capture shows the
// paymentRequestId as its transactionRequestId, but a merchant may still use that string as a
// captureRequestId of another payment.
func TestAutomaticCaptureDoesNotTakeACaptureRequestID(t *testing.T) {
	h := newHarness(t)
	auto := h.pay(t, "4242424242424242", "order-1", payments.CaptureAutomatic)
	if auto.Stage() != payments.StageCaptured {
		t.Fatalf("automatic payment stage %s", auto.Stage())
	}
	manual := h.pay(t, "4242424242424242", "order-2", payments.CaptureManual)
	txn, p, err := h.svc.Capture(context.Background(), merchantA, &protocol.CaptureRequest{
		CaptureRequestID: "order-1", PaymentID: manual.ID, CaptureAmount: amt("4200"),
	})
	if err != nil || txn.Status != payments.TxnSucceeded || p.Stage() != payments.StageCaptured {
		t.Fatalf("capture with the other payment's request id: %v %s %s", err, txn.Status, p.Stage())
	}
	// And its replay finds the merchant's capture, not the automatic one.
	again, _, err := h.svc.Capture(context.Background(), merchantA, &protocol.CaptureRequest{
		CaptureRequestID: "order-1", PaymentID: manual.ID, CaptureAmount: amt("4200"),
	})
	if err != nil || again.ID != txn.ID {
		t.Fatalf("replay: %v %s vs %s", err, again.ID, txn.ID)
	}
}

// TestLostAuthorizationIsReversed: the acquirer's answer to the authorization never arrives, so
// its reference is unknown; when the payment closes the gateway reverses by its own reference,
// so an approval the issuer granted is not left on the buyer's card.
func TestLostAuthorizationIsReversed(t *testing.T) {
	for _, close := range []string{"expiry", "cancel"} {
		t.Run(close, func(t *testing.T) {
			h := newHarness(t)
			h.acq.err = context.DeadlineExceeded
			p := h.pay(t, "4242424242424242", "lost-"+close, payments.CaptureManual)
			if p.Stage() != payments.StageProcessing || p.AcquirerState != payments.AcquirerPending || p.Auth.AcquirerTransactionID != "" {
				t.Fatalf("after a lost answer: %s %s ref %q", p.Stage(), p.AcquirerState, p.Auth.AcquirerTransactionID)
			}
			h.acq.err = nil
			if close == "expiry" {
				h.clock.Advance(payments.DefaultPaymentExpiry)
				if errs := h.runDue(t); len(errs) != 0 {
					t.Fatal(errs)
				}
			} else if _, err := h.svc.Cancel(context.Background(), merchantA, &protocol.CancelRequest{PaymentID: p.ID}); err != nil {
				t.Fatal(err)
			}
			p, err := h.store.PaymentByID(context.Background(), merchantA.ID, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if p.VoidState != payments.VoidDone || h.acq.reversals.Load() != 1 || h.acq.voids.Load() != 0 {
				t.Fatalf("void %q, %d reversals, %d voids; want the authorization reversed once", p.VoidState, h.acq.reversals.Load(), h.acq.voids.Load())
			}
		})
	}
}

// TestAcquirerNoticeSettlesAtOnce: an acquirer's notice about a payment whose answer is owed makes
// the gateway ask at once, without waiting for the due work; the answer comes from that inquiry,
// so a notice about a payment that is not waiting, or about an unknown one, asks nothing.
func TestAcquirerNoticeSettlesAtOnce(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	p := h.pay(t, "4000000000000119", "noticed", payments.CaptureManual)
	// Too early: the acquirer says it is still in process, and the payment waits on.
	h.clock.Advance(2 * time.Second)
	if err := h.svc.AcquirerNoticed(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if got := h.reload(t, p); got.Stage() != payments.StageProcessing || h.acq.inquiries.Load() != 1 {
		t.Fatalf("an early notice: stage %s after %d inquiries, want PROCESSING after 1", got.Stage(), h.acq.inquiries.Load())
	}
	// Once the acquirer has the answer, a notice settles the payment with no due work run.
	h.clock.Advance(3 * time.Second)
	if err := h.svc.AcquirerNoticed(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	got := h.reload(t, p)
	if got.Stage() != payments.StageAuthorized || got.ResultCode != protocol.CodeSuccess {
		t.Fatalf("after the notice: %s %s, want AUTHORIZED", got.Stage(), got.ResultCode)
	}
	n := h.acq.inquiries.Load()
	for _, id := range []string{p.ID, "no-such-payment"} {
		if err := h.svc.AcquirerNoticed(ctx, id); err != nil {
			t.Fatalf("notice about %s: %v", id, err)
		}
	}
	if h.acq.inquiries.Load() != n {
		t.Errorf("notices about a settled or unknown payment asked the acquirer %d more times", h.acq.inquiries.Load()-n)
	}
}
