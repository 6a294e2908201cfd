package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// The after-authorization rules of issue 3 and docs/design.md ("Answer codes after authorization",
// "Sandbox test cards", the sandbox clock), driven over HTTP against the real binary. Every test
// has its own gateway (and so its own clock) and ends with a search of the database, its WAL and
// the logs for the card numbers and CVVs it sent.

// TestAutoCapture: an approved AUTOMATIC payment (the default) is captured at once: inquiry right
// after pay shows the CAPTURE, and its CAPTURE_RESULT follows the PAYMENT_RESULT in the outbox.
func TestAutoCapture(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	req := f.payReq("4242424242424242", "") // captureMode absent
	pay := f.payWith(req, "S", "SUCCESS")
	inq := f.status(pay.PaymentID, "SUCCESS")
	tr := onlyTxn(t, inq, "CAPTURE", "SUCCESS", "S")
	if tr.TransactionRequestID != req.PaymentRequestID {
		t.Errorf("auto-capture transactionRequestId %q, want the paymentRequestId %q", tr.TransactionRequestID, req.PaymentRequestID)
	}
	if tr.TransactionAmount.Value != "4200" || tr.TransactionAmount.Currency != "SGD" {
		t.Errorf("auto-capture amount %+v", tr.TransactionAmount)
	}
	if len(inq.Transactions) != 1 {
		t.Errorf("transactions %+v, want the capture only", inq.Transactions)
	}

	// Explicit AUTOMATIC behaves the same.
	explicit := f.payWith(f.payReq("5555555555554444", "AUTOMATIC"), "S", "SUCCESS")
	onlyTxn(t, f.status(explicit.PaymentID, "SUCCESS"), "CAPTURE", "SUCCESS", "S")

	rows := f.outbox(pay.PaymentID)
	if len(rows) != 2 || rows[0].notifyType != protocol.NotifyTypePaymentResult || rows[1].notifyType != protocol.NotifyTypeCaptureResult {
		t.Fatalf("outbox rows %+v, want PAYMENT_RESULT then CAPTURE_RESULT", rows)
	}
	if rows[0].result.ResultStatus != "S" || rows[1].result.ResultStatus != "S" || rows[1].ref != tr.TransactionID {
		t.Errorf("outbox rows %+v (capture %s)", rows, tr.TransactionID)
	}
	var n protocol.NotifyCapture
	if err := json.Unmarshal([]byte(rows[1].body), &n); err != nil {
		t.Fatal(err)
	}
	if n.CaptureID != tr.TransactionID || n.CaptureRequestID != req.PaymentRequestID || n.PaymentID != pay.PaymentID || n.CaptureAmount.Value != "4200" {
		t.Errorf("CAPTURE_RESULT body %s", rows[1].body)
	}
	// A replay of the pay neither captures again nor notifies again.
	f.payWith(req, "S", "SUCCESS")
	if got := f.outbox(pay.PaymentID); len(got) != 2 {
		t.Errorf("outbox after a pay replay: %d rows", len(got))
	}
	if got := txns(f.inquire(pay.PaymentID), "CAPTURE"); len(got) != 1 {
		t.Errorf("captures after a pay replay: %d", len(got))
	}
}

// TestManualCapture: a MANUAL payment waits for capture; capture is for the full amount only and
// idempotent on captureRequestId.
func TestManualCapture(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	pay := f.approvedManual("4242424242424242")
	if inq := f.status(pay.PaymentID, "SUCCESS"); len(inq.Transactions) != 0 {
		t.Fatalf("MANUAL payment has transactions before capture: %+v", inq.Transactions)
	}

	// Refusals before the capture store nothing: the refused request id stays free.
	capID := newRequestID("cap")
	wantResult(t, "partial capture", f.capture(pay.PaymentID, capID, "4199").Result, "F", "PARAM_ILLEGAL")
	wantResult(t, "capture above", f.capture(pay.PaymentID, newRequestID("cap"), "4201").Result, "F", "CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT")
	wantResult(t, "capture of an unknown payment", f.capture("20990101000000000000XXXX", newRequestID("cap"), "4200").Result, "F", "ORDER_NOT_EXIST")
	if inq := f.status(pay.PaymentID, "SUCCESS"); len(inq.Transactions) != 0 {
		t.Fatalf("refused captures left transactions: %+v", inq.Transactions)
	}

	c := f.capture(pay.PaymentID, capID, "4200")
	wantResult(t, "capture", c.Result, "S", "SUCCESS")
	if c.CaptureID == "" || c.CaptureTime == "" || c.CaptureRequestID != capID || c.PaymentID != pay.PaymentID ||
		c.CaptureAmount == nil || c.CaptureAmount.Value != "4200" {
		t.Fatalf("capture answer %+v", c)
	}
	parseWireTime(t, c.CaptureTime)
	inq := f.status(pay.PaymentID, "SUCCESS")
	tr := onlyTxn(t, inq, "CAPTURE", "SUCCESS", "S")
	if tr.TransactionID != c.CaptureID || tr.TransactionRequestID != capID || tr.TransactionAmount.Value != "4200" {
		t.Errorf("capture transaction %+v, answer %+v", tr, c)
	}

	replay := f.capture(pay.PaymentID, capID, "4200")
	wantResult(t, "capture replay", replay.Result, "S", "SUCCESS")
	if replay.CaptureID != c.CaptureID || replay.CaptureTime != c.CaptureTime {
		t.Errorf("replay captureId/time %s/%s, want %s/%s", replay.CaptureID, replay.CaptureTime, c.CaptureID, c.CaptureTime)
	}
	wantResult(t, "capture replay with another amount", f.capture(pay.PaymentID, capID, "4000").Result, "F", "REPEAT_REQ_INCONSISTENT")

	rows := ofType(f.outbox(pay.PaymentID), protocol.NotifyTypeCaptureResult)
	if len(rows) != 1 || rows[0].result.ResultStatus != "S" || rows[0].ref != c.CaptureID {
		t.Errorf("CAPTURE_RESULT rows %+v, want one S for %s", rows, c.CaptureID)
	}
	// Captured: cancel is refused.
	wantResult(t, "cancel after capture", f.cancelID(pay.PaymentID).Result, "F", "ORDER_STATUS_INVALID")
	f.status(pay.PaymentID, "SUCCESS")
}

// TestDoubleCaptureRefused: a payment is captured at most once.
func TestDoubleCaptureRefused(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	pay := f.approvedManual("4242424242424242")
	wantResult(t, "capture", f.capture(pay.PaymentID, newRequestID("cap"), "4200").Result, "S", "SUCCESS")
	wantResult(t, "second capture", f.capture(pay.PaymentID, newRequestID("cap"), "4200").Result, "F", "MULTI_CAPTURE_NOT_SUPPORTED")
	// An automatic capture counts too.
	auto := f.payWith(f.payReq("4242424242424242", ""), "S", "SUCCESS")
	wantResult(t, "capture after auto-capture", f.capture(auto.PaymentID, newRequestID("cap"), "4200").Result, "F", "MULTI_CAPTURE_NOT_SUPPORTED")
	for _, id := range []string{pay.PaymentID, auto.PaymentID} {
		if got := txns(f.inquire(id), "CAPTURE"); len(got) != 1 {
			t.Errorf("%s: %d captures", id, len(got))
		}
		if n := f.count(`SELECT captured_minor FROM payments WHERE payment_id = ?`, id); n != 4200 {
			t.Errorf("%s: captured %d", id, n)
		}
	}
}

// TestVoidThenCaptureRefused: cancel voids an authorized payment, is idempotent, and a cancelled
// payment can be neither captured nor refunded.
func TestVoidThenCaptureRefused(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	req := f.payReq("4242424242424242", "MANUAL")
	pay := f.payWith(req, "S", "SUCCESS")
	c1 := f.cancelID(pay.PaymentID)
	wantResult(t, "cancel", c1.Result, "S", "SUCCESS")
	if c1.CancelTime == "" || c1.PaymentID != pay.PaymentID || c1.PaymentRequestID != req.PaymentRequestID {
		t.Fatalf("cancel answer %+v", c1)
	}
	parseWireTime(t, c1.CancelTime)
	// Again, by paymentRequestId this time: the first answer.
	c2 := f.cancel(&protocol.CancelRequest{PaymentRequestID: req.PaymentRequestID})
	wantResult(t, "second cancel", c2.Result, "S", "SUCCESS")
	if c2.CancelTime != c1.CancelTime || c2.PaymentID != pay.PaymentID {
		t.Errorf("second cancel %+v, first %+v", c2, c1)
	}
	wantResult(t, "capture after cancel", f.capture(pay.PaymentID, newRequestID("cap"), "4200").Result, "F", "ORDER_IS_CANCELED")
	inq := f.status(pay.PaymentID, "CANCELLED")
	onlyTxn(t, inq, "CANCEL", "SUCCESS", "S")
	if len(inq.Transactions) != 1 {
		t.Errorf("transactions %+v, want the cancel only", inq.Transactions)
	}
	wantResult(t, "refund after cancel", f.refund(pay.PaymentID, newRequestID("ref"), "100").Result, "F", "ORDER_IS_CANCELED")
	wantResult(t, "cancel of an unknown payment", f.cancelID("20990101000000000000XXXX").Result, "F", "ORDER_NOT_EXIST")

	// Cancel notifies nothing (docs/design.md invariant 5): only the authorization's PAYMENT_RESULT.
	rows := f.outbox(pay.PaymentID)
	if len(rows) != 1 || rows[0].notifyType != protocol.NotifyTypePaymentResult || rows[0].result.ResultStatus != "S" {
		t.Errorf("outbox rows %+v, want the approval's PAYMENT_RESULT only", rows)
	}
	ev := f.events(pay.PaymentID)
	if !contains(ev, "CANCEL") || !contains(ev, "VOID_SENT") || contains(ev, "CAPTURE") {
		t.Errorf("events %v, want CANCEL and VOID_SENT, no CAPTURE", ev)
	}
}

// TestCaptureFailureCard: 4000000000000036 is approved but every capture fails PROCESS_FAIL; the
// authorization stays and can still be cancelled.
func TestCaptureFailureCard(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	pay := f.approvedManual("4000000000000036")
	capID := newRequestID("cap")
	c := f.capture(pay.PaymentID, capID, "4200")
	wantResult(t, "capture", c.Result, "F", "PROCESS_FAIL")
	inq := f.status(pay.PaymentID, "SUCCESS")
	tr := onlyTxn(t, inq, "CAPTURE", "FAIL", "F")
	if tr.TransactionResult.ResultCode != "PROCESS_FAIL" || tr.TransactionRequestID != capID {
		t.Errorf("capture transaction %+v", tr)
	}
	rows := ofType(f.outbox(pay.PaymentID), protocol.NotifyTypeCaptureResult)
	if len(rows) != 1 || rows[0].result.ResultStatus != "F" || rows[0].result.ResultCode != "PROCESS_FAIL" {
		t.Errorf("CAPTURE_RESULT rows %+v, want one F PROCESS_FAIL", rows)
	}
	// A replay answers the failure again.
	wantResult(t, "capture replay", f.capture(pay.PaymentID, capID, "4200").Result, "F", "PROCESS_FAIL")
	wantResult(t, "refund of a failed capture", f.refund(pay.PaymentID, newRequestID("ref"), "100").Result, "F", "ORDER_STATUS_INVALID")

	wantResult(t, "cancel after the failed capture", f.cancelID(pay.PaymentID).Result, "S", "SUCCESS")
	inq = f.status(pay.PaymentID, "CANCELLED")
	onlyTxn(t, inq, "CANCEL", "SUCCESS", "S")
	onlyTxn(t, inq, "CAPTURE", "FAIL", "F")
}

// TestCaptureProcessingCard: 4000000000000028's capture stays PROCESSING until the clock has
// moved one minute, then succeeds and is notified.
func TestCaptureProcessingCard(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	pay := f.approvedManual("4000000000000028")
	capID := newRequestID("cap")
	c := f.capture(pay.PaymentID, capID, "4200")
	wantResult(t, "capture", c.Result, "U", "CAPTURE_IN_PROCESS")
	if c.CaptureID == "" {
		t.Fatalf("capture in process has no captureId: %+v", c)
	}
	var dueMS int64
	if err := f.db().QueryRow(`SELECT due_at FROM transactions WHERE txn_id = ?`, c.CaptureID).Scan(&dueMS); err != nil {
		t.Fatal(err)
	}
	onlyTxn(t, f.status(pay.PaymentID, "SUCCESS"), "CAPTURE", "PROCESSING", "U")

	// While capturing: replay answers U with the same id, a new capture and a cancel are refused.
	replay := f.capture(pay.PaymentID, capID, "4200")
	wantResult(t, "capture replay", replay.Result, "U", "CAPTURE_IN_PROCESS")
	if replay.CaptureID != c.CaptureID {
		t.Errorf("replay captureId %s, want %s", replay.CaptureID, c.CaptureID)
	}
	wantResult(t, "second capture while capturing", f.capture(pay.PaymentID, newRequestID("cap"), "4200").Result, "F", "MULTI_CAPTURE_NOT_SUPPORTED")
	wantResult(t, "cancel while capturing", f.cancelID(pay.PaymentID).Result, "F", "ORDER_STATUS_INVALID")
	wantResult(t, "refund while capturing", f.refund(pay.PaymentID, newRequestID("ref"), "100").Result, "F", "ORDER_STATUS_INVALID")

	// "now" has whole seconds: it is surely before the capture's due time only if its second is.
	if now := f.advance("59s"); now.Before(time.UnixMilli(dueMS).Truncate(time.Second)) {
		onlyTxn(t, f.status(pay.PaymentID, "SUCCESS"), "CAPTURE", "PROCESSING", "U")
		if rows := ofType(f.outbox(pay.PaymentID), protocol.NotifyTypeCaptureResult); len(rows) != 0 {
			t.Errorf("CAPTURE_RESULT before the capture finished: %+v", rows)
		}
	} else {
		t.Logf("over a second of wall time passed between capture and advance: the 59 s check is skipped")
	}
	f.advance("2s")
	inq := f.status(pay.PaymentID, "SUCCESS")
	tr := onlyTxn(t, inq, "CAPTURE", "SUCCESS", "S")
	if tr.TransactionID != c.CaptureID {
		t.Errorf("capture transaction %s, want %s", tr.TransactionID, c.CaptureID)
	}
	rows := ofType(f.outbox(pay.PaymentID), protocol.NotifyTypeCaptureResult)
	if len(rows) != 1 || rows[0].result.ResultStatus != "S" || rows[0].ref != c.CaptureID {
		t.Fatalf("CAPTURE_RESULT rows %+v, want one S", rows)
	}
	// The capture finished "at" its time, a minute after it was sent, however far the clock jumped.
	var n protocol.NotifyCapture
	if err := json.Unmarshal([]byte(rows[0].body), &n); err != nil {
		t.Fatal(err)
	}
	if d := parseWireTime(t, n.CaptureTime).Sub(time.UnixMilli(dueMS)); d < -time.Second || d > time.Second {
		t.Errorf("captureTime %s is %v from the capture's due time", n.CaptureTime, d)
	}
	done := f.capture(pay.PaymentID, capID, "4200")
	wantResult(t, "capture replay after it finished", done.Result, "S", "SUCCESS")
	if done.CaptureTime == "" {
		t.Errorf("finished capture replay has no captureTime")
	}
	wantResult(t, "refund", f.refund(pay.PaymentID, newRequestID("ref"), "4200").Result, "S", "SUCCESS")
}

// TestPartialRefunds: refunds may repeat but never exceed what was captured.
func TestPartialRefunds(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	pay := f.approvedManual("4242424242424242")

	// Not captured yet: refused; an unknown payment does not exist.
	wantResult(t, "refund before capture", f.refund(pay.PaymentID, newRequestID("ref"), "100").Result, "F", "ORDER_STATUS_INVALID")
	wantResult(t, "refund of an unknown payment", f.refund("20990101000000000000XXXX", newRequestID("ref"), "100").Result, "F", "ORDER_NOT_EXIST")

	wantResult(t, "capture", f.capture(pay.PaymentID, newRequestID("cap"), "4200").Result, "S", "SUCCESS")
	ids := []string{newRequestID("ref"), newRequestID("ref"), newRequestID("ref")}
	r1 := f.refund(pay.PaymentID, ids[0], "1000")
	wantResult(t, "refund 1000", r1.Result, "S", "SUCCESS")
	r2 := f.refund(pay.PaymentID, ids[1], "2000")
	wantResult(t, "refund 2000", r2.Result, "S", "SUCCESS")
	excess := f.refund(pay.PaymentID, newRequestID("ref"), "1201")
	wantResult(t, "refund 1201 of the 1200 left", excess.Result, "F", "REFUND_AMOUNT_EXCEED")
	r3 := f.refund(pay.PaymentID, ids[2], "1200")
	wantResult(t, "refund 1200", r3.Result, "S", "SUCCESS")
	wantResult(t, "refund of 1 more", f.refund(pay.PaymentID, newRequestID("ref"), "1").Result, "F", "REFUND_AMOUNT_EXCEED")

	for i, r := range []*protocol.RefundResponse{r1, r2, r3} {
		if r.RefundID == "" || r.RefundRequestID != ids[i] || r.PaymentID != pay.PaymentID || r.RefundTime == "" {
			t.Errorf("refund %d answer %+v", i, r)
		}
	}
	if r1.RefundID == r2.RefundID || r2.RefundID == r3.RefundID {
		t.Errorf("refund ids repeat: %s %s %s", r1.RefundID, r2.RefundID, r3.RefundID)
	}

	// Replay: the first answer; another amount under the same id: REPEAT_REQ_INCONSISTENT.
	replay := f.refund(pay.PaymentID, ids[0], "1000")
	wantResult(t, "refund replay", replay.Result, "S", "SUCCESS")
	if replay.RefundID != r1.RefundID {
		t.Errorf("replay refundId %s, want %s", replay.RefundID, r1.RefundID)
	}
	wantResult(t, "refund replay with another amount", f.refund(pay.PaymentID, ids[0], "999").Result, "F", "REPEAT_REQ_INCONSISTENT")

	for i, r := range []*protocol.RefundResponse{r1, r2, r3} {
		want := []string{"1000", "2000", "1200"}[i]
		for _, req := range []*protocol.InquiryRefundRequest{{RefundID: r.RefundID}, {RefundRequestID: r.RefundRequestID}} {
			q := f.inquiryRefund(req)
			wantResult(t, "inquiryRefund", q.Result, "S", "SUCCESS")
			if q.RefundStatus != "SUCCESS" || q.RefundID != r.RefundID || q.RefundRequestID != r.RefundRequestID ||
				q.RefundAmount == nil || q.RefundAmount.Value != want || q.RefundAmount.Currency != "SGD" || q.RefundTime == "" {
				t.Errorf("inquiryRefund %+v: %+v", req, q)
			}
		}
	}
	wantResult(t, "inquiryRefund of an unknown refund", f.inquiryRefund(&protocol.InquiryRefundRequest{RefundID: "nope"}).Result, "F", "ORDER_NOT_EXIST")

	inq := f.status(pay.PaymentID, "SUCCESS")
	onlyTxn(t, inq, "CAPTURE", "SUCCESS", "S")
	refunds := txns(inq, "REFUND")
	if len(refunds) != 3 {
		t.Fatalf("%d REFUND transactions, want 3: %+v", len(refunds), inq.Transactions)
	}
	sum := 0
	for _, r := range refunds {
		if r.TransactionStatus != "SUCCESS" || r.TransactionResult == nil || r.TransactionResult.ResultStatus != "S" {
			t.Errorf("refund transaction %+v", r)
		}
		switch r.TransactionAmount.Value {
		case "1000":
			sum += 1000
		case "2000":
			sum += 2000
		case "1200":
			sum += 1200
		}
	}
	if sum != 4200 {
		t.Errorf("refund transactions add up to %d, want 4200", sum)
	}
	rows := ofType(f.outbox(pay.PaymentID), protocol.NotifyTypeRefundResult)
	if len(rows) != 3 {
		t.Fatalf("REFUND_RESULT rows: %d, want 3 (one per successful refund)", len(rows))
	}
	for _, r := range rows {
		if r.result.ResultStatus != "S" {
			t.Errorf("REFUND_RESULT %s", r.body)
		}
	}
	if n := f.count(`SELECT refunded_minor FROM payments WHERE payment_id = ?`, pay.PaymentID); n != 4200 {
		t.Errorf("refunded_minor %d", n)
	}
}

// TestNeverAnsweringCardExpires: 4000000000000044 stays in process until paymentExpiryTime (14
// minutes): not closed at 13, closed FAIL/ORDER_IS_CLOSED at 15 and notified with that code.
func TestNeverAnsweringCardExpires(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	pay := f.payWith(f.payReq("4000000000000044", ""), "U", "PAYMENT_IN_PROCESS")
	f.advance("13m")
	f.status(pay.PaymentID, "PROCESSING")
	if rows := f.outbox(pay.PaymentID); len(rows) != 0 {
		t.Fatalf("outbox before expiry: %+v", rows)
	}
	f.advance("2m")
	inq := f.status(pay.PaymentID, "FAIL")
	if inq.PaymentResultCode != "ORDER_IS_CLOSED" {
		t.Errorf("paymentResultCode %s, want ORDER_IS_CLOSED", inq.PaymentResultCode)
	}
	if len(inq.Transactions) != 0 {
		t.Errorf("expired payment has transactions %+v", inq.Transactions)
	}
	rows := f.outbox(pay.PaymentID)
	if len(rows) != 1 || rows[0].notifyType != protocol.NotifyTypePaymentResult ||
		rows[0].result.ResultStatus != "F" || rows[0].result.ResultCode != "ORDER_IS_CLOSED" {
		t.Fatalf("outbox %+v, want one PAYMENT_RESULT F ORDER_IS_CLOSED", rows)
	}
	if ev := f.events(pay.PaymentID); !contains(ev, "EXPIRE") {
		t.Errorf("events %v lack EXPIRE", ev)
	}
	// Closed: nothing more happens to it.
	wantResult(t, "capture of an expired payment", f.capture(pay.PaymentID, newRequestID("cap"), "4200").Result, "F", "ORDER_STATUS_INVALID")
	wantResult(t, "cancel of an expired payment", f.cancelID(pay.PaymentID).Result, "F", "ORDER_STATUS_INVALID")
	f.advance("1h")
	f.status(pay.PaymentID, "FAIL")
	if rows := f.outbox(pay.PaymentID); len(rows) != 1 {
		t.Errorf("outbox rows after more time: %d", len(rows))
	}
}

// TestAutoVoid: an authorization not captured within 7 days is voided: still capturable at 6 days
// 23 hours, CANCELLED at 7 days 1 minute, capture then AUTH_EXPIRED, and nothing notified.
func TestAutoVoid(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	pay := f.approvedManual("4242424242424242")
	// An authorization whose capture failed stays until the same deadline.
	failedCapture := f.approvedManual("4000000000000036")
	wantResult(t, "capture", f.capture(failedCapture.PaymentID, newRequestID("cap"), "4200").Result, "F", "PROCESS_FAIL")
	authExpiry := parseWireTime(t, pay.AuthExpiryTime)
	if d := authExpiry.Sub(parseWireTime(t, pay.PaymentTime)); d != 7*24*time.Hour {
		t.Errorf("authExpiryTime is %v after paymentTime, want 7 days", d)
	}
	before := f.outbox(pay.PaymentID)

	f.advance("6d23h")
	inq := f.status(pay.PaymentID, "SUCCESS")
	if len(inq.Transactions) != 0 {
		t.Fatalf("transactions at 6d23h: %+v", inq.Transactions)
	}
	f.advance("1h1m")
	inq = f.status(pay.PaymentID, "CANCELLED")
	voids := txns(inq, "VOID", "CANCEL")
	if len(voids) != 1 || voids[0].TransactionStatus != "SUCCESS" {
		t.Fatalf("transactions %+v, want one VOID (or CANCEL)", inq.Transactions)
	}
	// The void ran "at" the authorization's expiry, not at the time the clock was moved to.
	if d := parseWireTime(t, voids[0].TransactionTime).Sub(authExpiry); d < -time.Second || d > 2*time.Second {
		t.Errorf("void at %s, %v from authExpiryTime %s", voids[0].TransactionTime, d, pay.AuthExpiryTime)
	}
	wantResult(t, "capture after auto-void", f.capture(pay.PaymentID, newRequestID("cap"), "4200").Result, "F", "AUTH_EXPIRED")
	wantResult(t, "refund after auto-void", f.refund(pay.PaymentID, newRequestID("ref"), "100").Result, "F", "ORDER_IS_CANCELED")
	wantResult(t, "cancel after auto-void", f.cancelID(pay.PaymentID).Result, "S", "SUCCESS")
	f.status(pay.PaymentID, "CANCELLED")

	inq = f.status(failedCapture.PaymentID, "CANCELLED")
	if len(txns(inq, "VOID", "CANCEL")) != 1 || len(txns(inq, "CAPTURE")) != 1 {
		t.Errorf("capture-failed payment after 7 days: transactions %+v", inq.Transactions)
	}
	wantResult(t, "capture after auto-void", f.capture(failedCapture.PaymentID, newRequestID("cap"), "4200").Result, "F", "AUTH_EXPIRED")

	after := f.outbox(pay.PaymentID)
	if len(after) != len(before) {
		t.Errorf("the auto-void added outbox rows: before %+v, after %+v", before, after)
	}
	ev := f.events(pay.PaymentID)
	if !contains(ev, "AUTO_VOID") || !contains(ev, "VOID_SENT") {
		t.Errorf("events %v, want AUTO_VOID and VOID_SENT", ev)
	}
}

// TestCancelInProcess: a payment still in process can be cancelled, and its expiry then leaves it
// alone.
func TestCancelInProcess(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	req := f.payReq("4000000000000044", "")
	pay := f.payWith(req, "U", "PAYMENT_IN_PROCESS")
	c := f.cancelID(pay.PaymentID)
	wantResult(t, "cancel in process", c.Result, "S", "SUCCESS")
	if c.CancelTime == "" {
		t.Errorf("cancel answer lacks cancelTime: %+v", c)
	}
	f.status(pay.PaymentID, "CANCELLED")
	f.advance("20m")
	inq := f.status(pay.PaymentID, "CANCELLED")
	onlyTxn(t, inq, "CANCEL", "SUCCESS", "S")
	if rows := f.outbox(pay.PaymentID); len(rows) != 0 {
		t.Errorf("outbox rows for a cancelled in-process payment: %+v", rows)
	}
	if ev := f.events(pay.PaymentID); contains(ev, "EXPIRE") {
		t.Errorf("events %v: the expiry touched a cancelled payment", ev)
	}
	// A pay replay answers the cancellation, not the old U.
	if replay := f.pay(req); replay.Result.ResultStatus != "F" || replay.PaymentID != pay.PaymentID {
		t.Errorf("pay replay after cancel: %+v", replay.Result)
	}
}

// TestTimeoutCardSettles: 4000000000000119 answers U at pay and settles as approved 5 s later by
// the gateway clock: the background worker (every second) does it without any clock call, then
// it is captured (AUTOMATIC) and notified. The same with the clock moved instead of waited for.
func TestTimeoutCardSettles(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	pay := f.payWith(f.payReq("4000000000000119", ""), "U", "PAYMENT_IN_PROCESS")
	if pay.NormalURL != "" {
		t.Errorf("timeout card answered a normalUrl %s", pay.NormalURL)
	}
	deadline := time.Now().Add(10 * time.Second)
	var inq *protocol.InquiryPaymentResponse
	for {
		inq = f.inquire(pay.PaymentID)
		// The settlement approves, then captures in a following commit: wait for both.
		if (inq.PaymentStatus != "PROCESSING" && hasCapture(inq)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkSettled(t, f, pay.PaymentID, inq)

	// With the clock: settled as soon as the advance answers.
	moved := f.payWith(f.payReq("4000000000000119", ""), "U", "PAYMENT_IN_PROCESS")
	f.advance("5s")
	checkSettled(t, f, moved.PaymentID, f.inquire(moved.PaymentID))
}

func checkSettled(t *testing.T, f *flow, paymentID string, inq *protocol.InquiryPaymentResponse) {
	t.Helper()
	if inq.PaymentStatus != "SUCCESS" || inq.PaymentResultCode != "SUCCESS" {
		t.Fatalf("timeout card: paymentStatus %s/%s, want SUCCESS", inq.PaymentStatus, inq.PaymentResultCode)
	}
	onlyTxn(t, inq, "CAPTURE", "SUCCESS", "S")
	if inq.PaymentTime == "" || inq.PaymentResultInfo == nil || inq.PaymentResultInfo.NetworkTransactionID == "" {
		t.Errorf("settled payment lacks paymentTime or networkTransactionId: %+v", inq)
	}
	rows := f.outbox(paymentID)
	pr := ofType(rows, protocol.NotifyTypePaymentResult)
	if len(pr) != 1 || pr[0].result.ResultStatus != "S" || pr[0].result.ResultCode != "SUCCESS" {
		t.Errorf("PAYMENT_RESULT rows %+v, want one S", pr)
	}
	if cr := ofType(rows, protocol.NotifyTypeCaptureResult); len(cr) != 1 || cr[0].result.ResultStatus != "S" {
		t.Errorf("CAPTURE_RESULT rows %+v, want one S", cr)
	}
}

// TestLateAnswerNeverRevives: the timeout card cancelled before its answer arrives stays
// cancelled when the approval comes in; the authorization is voided at the acquirer.
func TestLateAnswerNeverRevives(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	pay := f.payWith(f.payReq("4000000000000119", ""), "U", "PAYMENT_IN_PROCESS")
	wantResult(t, "cancel", f.cancelID(pay.PaymentID).Result, "S", "SUCCESS")
	f.advance("10s")
	inq := f.status(pay.PaymentID, "CANCELLED")
	if len(txns(inq, "CAPTURE")) != 0 {
		t.Errorf("a cancelled payment was captured: %+v", inq.Transactions)
	}
	// The authorization is released at the acquirer: either the cancel voided it at once (the
	// gateway then never asks for the answer again), or the late approval was taken in and voided
	// (LATE_AUTH_VOIDED). Either way it was never recorded as approved.
	ev := f.events(pay.PaymentID)
	if !contains(ev, "VOID_SENT") {
		t.Errorf("events %v lack VOID_SENT", ev)
	}
	if contains(ev, "AUTH_APPROVED") || contains(ev, "CAPTURE") {
		t.Errorf("events %v: the late approval revived the payment", ev)
	}
	if !contains(ev, "LATE_AUTH_VOIDED") {
		t.Logf("events %v: the void was sent with the cancel, so no late answer was taken in", ev)
	}
	if n := f.count(`SELECT count(*) FROM payments WHERE payment_id = ? AND void_state = 'DONE'`, pay.PaymentID); n != 1 {
		t.Errorf("void_state is not DONE")
	}
	for _, r := range f.outbox(pay.PaymentID) {
		if r.notifyType == protocol.NotifyTypePaymentResult && r.result.ResultStatus == "S" {
			t.Errorf("a cancelled payment was notified as paid: %s", r.body)
		}
	}
}

// TestClockAdvance: the clock call itself.
func TestClockAdvance(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	for _, bad := range []string{"", "soon", "-5m", "5", "1x", "d", "-1d", "1d-1h"} {
		resp, err := f.client.AdvanceClock(context.Background(), bad)
		if err != nil {
			t.Fatalf("advance %q: %v", bad, err)
		}
		wantResult(t, "advance "+bad, resp.Result, "F", "PARAM_ILLEGAL")
		if resp.Now != "" {
			t.Errorf("advance %q: refused but answered now %s", bad, resp.Now)
		}
	}
	t0 := f.advance("0s")
	if d := t0.Sub(time.Now()); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("sandbox clock before any advance is %v from the wall clock", d)
	}
	for _, tc := range []struct {
		by   string
		want time.Duration
	}{{"1h", time.Hour}, {"1d", 24 * time.Hour}, {"7d1m", 7*24*time.Hour + time.Minute}, {"90s", 90 * time.Second}} {
		start := time.Now()
		before := f.advance("0s")
		after := f.advance(tc.by)
		elapsed := time.Since(start)
		// "now" has whole seconds: allow one for rounding, plus the wall time the calls took.
		if d := after.Sub(before); d < tc.want-time.Second || d > tc.want+elapsed+time.Second {
			t.Errorf("advance %s moved now by %v", tc.by, d)
		}
	}
	// Pay after a big advance still works (the request-time window reads the wall clock), and the
	// payment's times are on the sandbox clock.
	pay := f.payWith(f.payReq("4242424242424242", ""), "S", "SUCCESS")
	if d := parseWireTime(t, pay.PaymentCreateTime).Sub(time.Now()); d < 8*24*time.Hour {
		t.Errorf("paymentCreateTime %s is not on the moved sandbox clock", pay.PaymentCreateTime)
	}
}

// TestClockNotInProduction: in production mode the clock path does not exist: HTTP 404, with a
// body that is still signed.
func TestClockNotInProduction(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "--mode", "production")
	body, _ := json.Marshal(protocol.ClockAdvanceRequest{Duration: "15m"})
	r, err := f.client.Do(context.Background(), protocol.PathSandboxClockAdvance, body)
	if err != nil {
		t.Fatalf("the 404 must be signed and verifiable: %v", err)
	}
	if r.StatusCode != 404 {
		t.Fatalf("HTTP %d, want 404: %s", r.StatusCode, r.Body)
	}
	var e protocol.ErrorResponse
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Result.ResultStatus != "F" {
		t.Errorf("404 body %s", r.Body)
	}
	if !strings.Contains(string(r.Body), "NO_INTERFACE_DEF") {
		t.Logf("404 body %s", r.Body)
	}
}

// TestAdvanceRunsDueWorkInOrder: one long advance runs everything that became due, each at its
// own time: the processing capture finishes at +1 minute (so its payment is not auto-voided),
// the never-answering payment expires at +14 minutes, the uncaptured authorization is voided at +7 days.
func TestAdvanceRunsDueWorkInOrder(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	capturing := f.approvedManual("4000000000000028")
	c := f.capture(capturing.PaymentID, newRequestID("cap"), "4200")
	wantResult(t, "capture", c.Result, "U", "CAPTURE_IN_PROCESS")
	uncaptured := f.approvedManual("4242424242424242")
	pending := f.payWith(f.payReq("4000000000000044", ""), "U", "PAYMENT_IN_PROCESS")
	start := parseWireTime(t, pending.PaymentCreateTime)

	f.advance("7d1m")

	inq := f.status(capturing.PaymentID, "SUCCESS")
	tr := onlyTxn(t, inq, "CAPTURE", "SUCCESS", "S")
	if d := parseWireTime(t, tr.TransactionTime).Sub(start); d < 59*time.Second || d > 2*time.Minute {
		t.Errorf("capture finished %v after the start, want about 1 minute", d)
	}
	if len(txns(inq, "VOID", "CANCEL")) != 0 {
		t.Errorf("captured payment was voided: %+v", inq.Transactions)
	}
	inq = f.status(uncaptured.PaymentID, "CANCELLED")
	if v := txns(inq, "VOID", "CANCEL"); len(v) != 1 {
		t.Errorf("uncaptured payment: transactions %+v", inq.Transactions)
	}
	inq = f.status(pending.PaymentID, "FAIL")
	if inq.PaymentResultCode != "ORDER_IS_CLOSED" {
		t.Errorf("never-answering payment: %s", inq.PaymentResultCode)
	}
	rows := ofType(f.outbox(pending.PaymentID), protocol.NotifyTypePaymentResult)
	if len(rows) != 1 {
		t.Fatalf("PAYMENT_RESULT rows %+v", rows)
	}
	var n protocol.NotifyPayment
	if err := json.Unmarshal([]byte(rows[0].body), &n); err != nil {
		t.Fatal(err)
	}
	var closedAt int64
	if err := f.db().QueryRow(`SELECT closed_at FROM payments WHERE payment_id = ?`, pending.PaymentID).Scan(&closedAt); err != nil {
		t.Fatal(err)
	}
	if d := time.UnixMilli(closedAt).Sub(start); d < 14*time.Minute-time.Second || d > 14*time.Minute+2*time.Second {
		t.Errorf("expired %v after creation, want 14 minutes", d)
	}
}

// TestRefundWindow: refunds are accepted for the configured time after the capture only.
func TestRefundWindow(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "--refund-window", "1d")
	pay := f.payWith(f.payReq("4242424242424242", ""), "S", "SUCCESS")
	f.advance("23h")
	wantResult(t, "refund within the window", f.refund(pay.PaymentID, newRequestID("ref"), "100").Result, "S", "SUCCESS")
	f.advance("2h")
	wantResult(t, "refund after the window", f.refund(pay.PaymentID, newRequestID("ref"), "100").Result, "F", "REFUND_WINDOW_EXCEED")
}

// TestConcurrentAfterAuthOverHTTP: refunds racing on one payment never add up to more than was
// captured, and a capture racing a cancel leaves each payment either captured or cancelled.
func TestConcurrentAfterAuthOverHTTP(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	pay := f.payWith(f.payReq("4242424242424242", ""), "S", "SUCCESS")
	const n = 24 // 300 each: 14 fit in 4200
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := f.client.Refund(context.Background(), &protocol.RefundRequest{
				RefundRequestID: newRequestID("race"), PaymentID: pay.PaymentID, RefundAmount: amount("300")})
			if err != nil {
				codes[i] = err.Error()
				return
			}
			codes[i] = resp.Result.ResultCode
		}()
	}
	wg.Wait()
	count := map[string]int{}
	for _, c := range codes {
		count[c]++
	}
	if count["SUCCESS"] != 14 || count["REFUND_AMOUNT_EXCEED"] != n-14 {
		t.Errorf("refund answers %v, want 14 SUCCESS and %d REFUND_AMOUNT_EXCEED", count, n-14)
	}
	if got := f.count(`SELECT refunded_minor FROM payments WHERE payment_id = ?`, pay.PaymentID); got != 4200 {
		t.Errorf("refunded_minor %d", got)
	}
	if got := len(ofType(f.outbox(pay.PaymentID), protocol.NotifyTypeRefundResult)); got != count["SUCCESS"] {
		t.Errorf("REFUND_RESULT rows %d, successful refunds %d", got, count["SUCCESS"])
	}

	const m = 10
	ids := make([]string, m)
	for i := range ids {
		ids[i] = f.approvedManual("4242424242424242").PaymentID
	}
	capCodes, cancelCodes := make([]string, m), make([]string, m)
	for i, id := range ids {
		wg.Add(2)
		go func() {
			defer wg.Done()
			resp, err := f.client.Capture(context.Background(), &protocol.CaptureRequest{
				CaptureRequestID: newRequestID("race"), PaymentID: id, CaptureAmount: amount("4200")})
			if err != nil {
				capCodes[i] = err.Error()
				return
			}
			capCodes[i] = resp.Result.ResultCode
		}()
		go func() {
			defer wg.Done()
			resp, err := f.client.Cancel(context.Background(), &protocol.CancelRequest{PaymentID: id})
			if err != nil {
				cancelCodes[i] = err.Error()
				return
			}
			cancelCodes[i] = resp.Result.ResultCode
		}()
	}
	wg.Wait()
	captured, cancelled := 0, 0
	for i, id := range ids {
		inq := f.inquire(id)
		capOK, cancelOK := capCodes[i] == "SUCCESS", cancelCodes[i] == "SUCCESS"
		switch {
		case capOK && !cancelOK && cancelCodes[i] == "ORDER_STATUS_INVALID" && inq.PaymentStatus == "SUCCESS":
			captured++
		case cancelOK && !capOK && capCodes[i] == "ORDER_IS_CANCELED" && inq.PaymentStatus == "CANCELLED":
			cancelled++
		default:
			t.Errorf("payment %s: capture %s, cancel %s, status %s", id, capCodes[i], cancelCodes[i], inq.PaymentStatus)
		}
	}
	if bad := f.count(`SELECT count(*) FROM payments WHERE state = 'CANCELLED' AND captured_minor > 0`); bad != 0 {
		t.Errorf("%d payments both captured and cancelled", bad)
	}
	t.Logf("capture vs cancel: %d captured, %d cancelled", captured, cancelled)
}

// TestPaymentExpiryTime: a paymentExpiryTime sent with pay replaces the 14-minute default.
func TestPaymentExpiryTime(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	req := f.payReq("4000000000000044", "")
	req.PaymentExpiryTime = f.advance("0s").Add(2 * time.Minute).Format(time.RFC3339)
	pay := f.payWith(req, "U", "PAYMENT_IN_PROCESS")
	f.advance("1m")
	f.status(pay.PaymentID, "PROCESSING")
	f.advance("1m5s")
	if inq := f.status(pay.PaymentID, "FAIL"); inq.PaymentResultCode != "ORDER_IS_CLOSED" {
		t.Errorf("paymentResultCode %s", inq.PaymentResultCode)
	}
	// The timeout card closed by its expiry before its answer: the answer never revives it.
	req = f.payReq("4000000000000119", "")
	req.PaymentExpiryTime = f.advance("0s").Add(2 * time.Second).Format(time.RFC3339)
	late := f.payWith(req, "U", "PAYMENT_IN_PROCESS")
	f.advance("10s")
	if inq := f.status(late.PaymentID, "FAIL"); inq.PaymentResultCode != "ORDER_IS_CLOSED" || len(inq.Transactions) != 0 {
		t.Errorf("timeout card expired before its answer: %s %+v", inq.PaymentResultCode, inq.Transactions)
	}
	rows := f.outbox(late.PaymentID)
	if len(rows) != 1 || rows[0].result.ResultCode != "ORDER_IS_CLOSED" {
		t.Errorf("outbox %+v, want one PAYMENT_RESULT ORDER_IS_CLOSED", rows)
	}
	if ev := f.events(late.PaymentID); !contains(ev, "VOID_SENT") || contains(ev, "AUTH_APPROVED") {
		t.Errorf("events %v", ev)
	}
}
