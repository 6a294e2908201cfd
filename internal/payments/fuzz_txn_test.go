package payments_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// The bodies of capture, refund, cancel and the two inquiries, fuzzed through decoding and the
// service on a fresh SQLite store per input: whatever arrives, the answer is a result or a
// *protocol.Error, never a panic or an internal error, and the invariants of the payment it
// touches hold. A body names its payment "A" (authorized, MANUAL, 4200 SGD) or
// "B" (captured, 4200 SGD); the fixture swaps in the real, random ids.

// fuzzFixture is a service with payment A authorized and payment B captured.
func fuzzFixture(t *testing.T) (h *harness, a, b payments.Payment) {
	h = newHarness(t)
	ctx := context.Background()
	a, err := h.svc.Pay(ctx, merchantA, payRequest(t, "4242424242424242", "pay-A", func(m jsonObj) { set(m, "paymentFactor.captureMode", "MANUAL") }))
	if err != nil || a.Stage() != payments.StageAuthorized {
		t.Fatalf("payment A: %v, %s", err, a.Stage())
	}
	b, err = h.svc.Pay(ctx, merchantA, payRequest(t, "4242424242424242", "pay-B"))
	if err != nil || b.Stage() != payments.StageCaptured {
		t.Fatalf("payment B: %v, %s", err, b.Stage())
	}
	return h, a, b
}

// alias turns the names A and B into the fixture's payment ids.
func alias(id string, a, b payments.Payment) string {
	switch id {
	case "A":
		return a.ID
	case "B":
		return b.ID
	}
	return id
}

// decodeOrSkip decodes a body; a body the decoder refuses must be refused with a FieldError.
func decodeOrSkip(t *testing.T, body []byte, v any) bool {
	if err := protocol.Decode(body, v); err != nil {
		var fe *protocol.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("Decode error %v is not a *protocol.FieldError", err)
		}
		return false
	}
	return true
}

// refusal fails the test unless err is a merchant-facing refusal: the service must never turn a
// bad body into an internal error (which answers UNKNOWN_EXCEPTION, "inquire and retry").
func refusal(t *testing.T, op string, err error) {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("%s: internal error %v", op, err)
	}
	if pe.Code.Status() != protocol.StatusFail {
		t.Fatalf("%s: refusal %s has status %s", op, pe.Code, pe.Code.Status())
	}
}

// checkStored reads a payment back and checks what the store must never hold, whatever was asked.
func checkStored(t *testing.T, h *harness, p payments.Payment) payments.Payment {
	t.Helper()
	cur, err := h.store.PaymentByID(context.Background(), p.MerchantID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.CapturedMinor > cur.Amount.Minor || cur.RefundedMinor > cur.CapturedMinor || cur.RefundedMinor < 0 {
		t.Fatalf("payment %s: captured %d, refunded %d of %d", p.RequestID, cur.CapturedMinor, cur.RefundedMinor, cur.Amount.Minor)
	}
	return cur
}

var captureSeeds = []string{
	// e2e/testdata/fixtures 002-17 and 004-42, with the payment named.
	`{"captureAmount":{"currency":"SGD","value":"4200"},"captureRequestId":"captureRequestId01","paymentId":"A"}`,
	`{"paymentId":"B","captureRequestId":"captureRequestId01","captureAmount":{"currency":"SGD","value":"4200"}}`,
	`{"paymentId":"A","captureRequestId":"c2","captureAmount":{"currency":"SGD","value":"4201"}}`,
	`{"paymentId":"A","captureRequestId":"c3","captureAmount":{"currency":"SGD","value":"4199"}}`,
	`{"paymentId":"A","captureRequestId":"c4","captureAmount":{"currency":"JPY","value":"4200"},"isLastCapture":true}`,
	`{"paymentId":"A","captureRequestId":"c5","captureAmount":{"currency":"SGD","value":"-4200"}}`,
	`{"paymentId":"A","captureRequestId":"","captureAmount":{"currency":"SGD","value":"4200"}}`,
	`{"paymentId":"nope","captureRequestId":"c6","captureAmount":{"currency":"SGD","value":"4200"}}`,
	`{"paymentId":"A","captureRequestId":"c7","captureAmount":{"currency":"SGD","value":4200}}`,
	`{}`, `null`, `[]`,
}

// FuzzCaptureRequest: a capture body is refused or captures exactly the authorized amount, and a
// second send of the same body gets the same answer.
func FuzzCaptureRequest(f *testing.F) {
	for _, s := range captureSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req protocol.CaptureRequest
		if !decodeOrSkip(t, body, &req) {
			return
		}
		h, a, b := fuzzFixture(t)
		req.PaymentID = alias(req.PaymentID, a, b)
		ctx := context.Background()
		txn, p, err := h.svc.Capture(ctx, merchantA, &req)
		if err != nil {
			refusal(t, "capture", err)
		} else {
			if txn.Type != payments.TxnCapture || txn.PaymentID != req.PaymentID || txn.Amount != p.Amount || txn.RequestID != req.CaptureRequestID {
				t.Fatalf("capture answered %+v for %+v", txn, req)
			}
			if p.Stage() != payments.StageCaptured {
				t.Fatalf("captured payment is %s", p.Stage())
			}
		}
		for _, p := range []payments.Payment{a, b} {
			checkStored(t, h, p)
		}
		txn2, _, err2 := h.svc.Capture(ctx, merchantA, &req)
		if err == nil && (err2 != nil || txn2.ID != txn.ID) {
			t.Fatalf("the same capture answered %s, then %s (%v)", txn.ID, txn2.ID, err2)
		}
	})
}

var refundSeeds = []string{
	`{"refundRequestId":"r1","paymentId":"B","refundAmount":{"currency":"SGD","value":"1000"},"refundReason":"changed mind"}`,
	`{"refundRequestId":"r2","paymentId":"B","refundAmount":{"currency":"SGD","value":"4200"},"referenceRefundId":"ref-2","refundNotifyUrl":"https://shop.example/refunds"}`,
	`{"refundRequestId":"r3","paymentId":"B","refundAmount":{"currency":"SGD","value":"4201"}}`,
	`{"refundRequestId":"r4","paymentId":"A","refundAmount":{"currency":"SGD","value":"1"}}`,
	`{"refundRequestId":"r5","paymentId":"B","refundAmount":{"currency":"USD","value":"1"}}`,
	`{"refundRequestId":"r6","paymentId":"B","refundAmount":{"currency":"SGD","value":"0"}}`,
	`{"refundRequestId":"r7","paymentId":"B","refundAmount":{"currency":"SGD","value":"1"},"refundNotifyUrl":"ftp://x"}`,
	`{"refundRequestId":"r8","paymentId":"B","refundAmount":{"currency":"SGD","value":"99999999999999999999"}}`,
	`{}`, `null`,
}

// FuzzRefundRequest: a refund body is refused or refunds what it asks within what is left, and a
// second send of the same body gets the same refund.
func FuzzRefundRequest(f *testing.F) {
	for _, s := range refundSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req protocol.RefundRequest
		if !decodeOrSkip(t, body, &req) {
			return
		}
		h, a, b := fuzzFixture(t)
		req.PaymentID = alias(req.PaymentID, a, b)
		ctx := context.Background()
		txn, p, err := h.svc.Refund(ctx, merchantA, &req)
		if err != nil {
			refusal(t, "refund", err)
		} else {
			if txn.Type != payments.TxnRefund || txn.PaymentID != req.PaymentID || txn.Amount.Value() != req.RefundAmount.Value || txn.Amount.Currency != p.Amount.Currency {
				t.Fatalf("refund answered %+v for %+v", txn, req)
			}
			if txn.Status == payments.TxnSucceeded && p.RefundedMinor < txn.Amount.Minor {
				t.Fatalf("refund of %d left %d refunded", txn.Amount.Minor, p.RefundedMinor)
			}
		}
		for _, p := range []payments.Payment{a, b} {
			checkStored(t, h, p)
		}
		txn2, _, err2 := h.svc.Refund(ctx, merchantA, &req)
		if err == nil && (err2 != nil || txn2.ID != txn.ID) {
			t.Fatalf("the same refund answered %s, then %s (%v)", txn.ID, txn2.ID, err2)
		}
	})
}

// FuzzCancelRequest: a cancel body is refused or cancels; a captured payment is never cancelled.
func FuzzCancelRequest(f *testing.F) {
	for _, s := range []string{`{"paymentId":"A"}`, `{"paymentId":"B"}`, `{"paymentRequestId":"pay-A"}`, `{"paymentRequestId":"pay-B","paymentId":"A"}`,
		`{"paymentId":"unknown"}`, `{"merchantAccountId":"x"}`, `{}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req protocol.CancelRequest
		if !decodeOrSkip(t, body, &req) {
			return
		}
		h, a, b := fuzzFixture(t)
		req.PaymentID = alias(req.PaymentID, a, b)
		p, err := h.svc.Cancel(context.Background(), merchantA, &req)
		if err != nil {
			refusal(t, "cancel", err)
		} else if p.Stage() != payments.StageCancelled {
			t.Fatalf("cancel answered a %s payment", p.Stage())
		}
		if cur := checkStored(t, h, b); cur.Stage() != payments.StageCaptured {
			t.Fatalf("the captured payment became %s", cur.Stage())
		}
	})
}

// FuzzInquiryRequest: an inquiry body, read as inquiryPayment and as inquiryRefund, finds the
// merchant's own payment or refund or is refused; it never changes anything.
func FuzzInquiryRequest(f *testing.F) {
	for _, s := range []string{`{"paymentId":"A"}`, `{"paymentRequestId":"pay-B"}`, `{"paymentId":"B","paymentRequestId":"pay-A"}`,
		`{"refundRequestId":"r1"}`, `{"refundId":"A"}`, `{"paymentId":""}`, `{}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req protocol.InquiryPaymentRequest
		var rreq protocol.InquiryRefundRequest
		if !decodeOrSkip(t, body, &req) || !decodeOrSkip(t, body, &rreq) {
			return
		}
		h, a, b := fuzzFixture(t)
		ctx := context.Background()
		if _, _, err := h.svc.Refund(ctx, merchantA, &protocol.RefundRequest{RefundRequestID: "r1", PaymentID: b.ID,
			RefundAmount: &protocol.Amount{Currency: "SGD", Value: "100"}}); err != nil {
			t.Fatal(err)
		}
		before := h.store.rows()
		req.PaymentID = alias(req.PaymentID, a, b)
		p, err := h.svc.Inquire(ctx, merchantA, &req)
		switch {
		case err != nil:
			refusal(t, "inquiry", err)
		case p.MerchantID != merchantA.ID || (req.PaymentID != "" && p.ID != req.PaymentID) || (req.PaymentID == "" && p.RequestID != req.PaymentRequestID):
			t.Fatalf("inquiry %+v found payment %s (%s)", req, p.ID, p.RequestID)
		}
		if _, err := h.svc.Inquire(ctx, merchantB, &req); err == nil {
			t.Fatalf("merchant B found merchant A's payment with %+v", req)
		}
		tx, err := h.svc.InquireRefund(ctx, merchantA, &rreq)
		switch {
		case err != nil:
			refusal(t, "inquiry refund", err)
		case tx.Type != payments.TxnRefund || (rreq.RefundID != "" && tx.ID != rreq.RefundID) || (rreq.RefundID == "" && tx.RequestID != rreq.RefundRequestID):
			t.Fatalf("refund inquiry %+v found %+v", rreq, tx)
		}
		if after := h.store.rows(); after != before {
			t.Fatalf("an inquiry wrote rows: %v, then %v", before, after)
		}
	})
}
