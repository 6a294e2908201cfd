package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/protocol"
)

// flow is a gateway used by one after-authorization test. It remembers every card number and CVV
// it sent, and when the test ends it searches the database file, its WAL and the gateway's logs
// for them: first while the gateway runs (the WAL holds the recent commits), then after it stopped.
type flow struct {
	*gateway
	t    *testing.T
	http *http.Client
	mu   sync.Mutex
	used map[string]string // card number → CVV
}

func newFlow(t *testing.T, extra ...string) *flow {
	t.Helper()
	f := &flow{gateway: startGateway(t, extra...), t: t, used: map[string]string{}}
	// A client of our own, so that its idle connections can be closed before the gateway stops:
	// net/http's graceful shutdown waits up to 5 s for a connection that was opened but never
	// carried a request (the transport dials spares under concurrency).
	f.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	c, err := client.New(client.Config{BaseURL: f.url, ClientID: f.creds.ClientID, PrivateKey: f.creds.MerchantPrivateKey,
		GatewayPublicKey: f.creds.GatewayPublicKey, HTTPClient: f.http})
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	// Registered after startGateway's stop, so it runs first: while the gateway still runs.
	t.Cleanup(func() {
		f.scanCardData("running")
		f.http.CloseIdleConnections()
		f.stop()
		f.scanCardData("stopped")
	})
	return f
}

// cvvSeq gives every pay its own CVV, so that a leak can be traced to the call it came from.
var cvvSeq struct {
	sync.Mutex
	n int
}

func nextCVV() string {
	cvvSeq.Lock()
	defer cvvSeq.Unlock()
	cvvSeq.n++
	return fmt.Sprintf("%03d", 200+cvvSeq.n%700)
}

// card records a card number (and CVV) the test sent by other means than f.pay, such as the CLI.
func (f *flow) card(pan, cvv string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.used[pan] = cvv
}

// payReq is payRequest with a fresh CVV and the given capture mode ("" leaves it out: AUTOMATIC).
func (f *flow) payReq(pan, captureMode string) *protocol.PayRequest {
	req := payRequest(pan, nextCVV())
	req.PaymentFactor.CaptureMode = captureMode
	return req
}

// payWith sends pay and checks its result status and code.
func (f *flow) payWith(req *protocol.PayRequest, status, code string) *protocol.PayResponse {
	f.t.Helper()
	meta := req.PaymentMethod.PaymentMethodMetaData
	f.card(meta.CardNo, meta.CVV)
	resp := f.pay(req)
	wantResult(f.t, "pay", resp.Result, status, code)
	if resp.PaymentID == "" {
		f.t.Fatalf("pay answered no paymentId: %+v", resp)
	}
	return resp
}

// approvedManual pays an approved MANUAL payment of 42.00 SGD with the card.
func (f *flow) approvedManual(pan string) *protocol.PayResponse {
	f.t.Helper()
	return f.payWith(f.payReq(pan, "MANUAL"), "S", "SUCCESS")
}

func (f *flow) scanCardData(when string) {
	t := f.t
	files := map[string][]byte{"stdout": f.stdout.Bytes(), "stderr": f.stderr.Bytes()}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		t.Error(err)
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(f.dir, e.Name()))
		if err != nil {
			t.Error(err)
			continue
		}
		files[e.Name()] = b
	}
	if _, ok := files["cardgate.db-wal"]; !ok && when == "running" {
		t.Errorf("no WAL file while running: the scan would miss recent commits")
	}
	if len(f.stderr.Bytes()) == 0 {
		t.Errorf("%s: no logs captured: the scan would prove nothing", when)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for pan, cvv := range f.used {
		needles := panForms(pan)
		if cvv != "" {
			needles = append(needles, `"cvv":"`+cvv+`"`, "cvv="+cvv)
		}
		for name, b := range files {
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) {
					t.Errorf("%s: %s contains %q", when, name, n)
				}
			}
		}
	}
}

func wantResult(t *testing.T, what string, r protocol.Result, status, code string) {
	t.Helper()
	if r.ResultStatus != status || r.ResultCode != code {
		t.Fatalf("%s: result %s/%s (%s), want %s/%s", what, r.ResultStatus, r.ResultCode, r.ResultMessage, status, code)
	}
}

func amount(v string) *protocol.Amount { return &protocol.Amount{Currency: "SGD", Value: v} }

func (f *flow) capture(paymentID, requestID, value string) *protocol.CaptureResponse {
	f.t.Helper()
	resp, err := f.client.Capture(context.Background(), &protocol.CaptureRequest{
		CaptureRequestID: requestID, PaymentID: paymentID, CaptureAmount: amount(value)})
	if err != nil {
		f.t.Fatalf("capture: %v", err)
	}
	return resp
}

func (f *flow) cancel(req *protocol.CancelRequest) *protocol.CancelResponse {
	f.t.Helper()
	resp, err := f.client.Cancel(context.Background(), req)
	if err != nil {
		f.t.Fatalf("cancel: %v", err)
	}
	return resp
}

func (f *flow) cancelID(paymentID string) *protocol.CancelResponse {
	f.t.Helper()
	return f.cancel(&protocol.CancelRequest{PaymentID: paymentID})
}

func (f *flow) refund(paymentID, requestID, value string) *protocol.RefundResponse {
	f.t.Helper()
	resp, err := f.client.Refund(context.Background(), &protocol.RefundRequest{
		RefundRequestID: requestID, PaymentID: paymentID, RefundAmount: amount(value), RefundReason: "e2e"})
	if err != nil {
		f.t.Fatalf("refund: %v", err)
	}
	return resp
}

func (f *flow) inquiryRefund(req *protocol.InquiryRefundRequest) *protocol.InquiryRefundResponse {
	f.t.Helper()
	resp, err := f.client.InquiryRefund(context.Background(), req)
	if err != nil {
		f.t.Fatalf("inquiryRefund: %v", err)
	}
	return resp
}

// advance moves the sandbox clock and expects S.
func (f *flow) advance(d string) time.Time {
	f.t.Helper()
	resp, err := f.client.AdvanceClock(context.Background(), d)
	if err != nil {
		f.t.Fatalf("advance %s: %v", d, err)
	}
	wantResult(f.t, "advance "+d, resp.Result, "S", "SUCCESS")
	now, err := time.Parse(time.RFC3339, resp.Now)
	if err != nil {
		f.t.Fatalf("advance %s: now %q: %v", d, resp.Now, err)
	}
	return now
}

// status inquires and checks paymentStatus.
func (f *flow) status(paymentID, want string) *protocol.InquiryPaymentResponse {
	f.t.Helper()
	inq := f.inquire(paymentID)
	wantResult(f.t, "inquiryPayment", inq.Result, "S", "SUCCESS")
	if inq.PaymentStatus != want {
		f.t.Fatalf("paymentStatus %s (%s), want %s", inq.PaymentStatus, inq.PaymentResultCode, want)
	}
	return inq
}

// txns returns the inquiry's transactions of one type.
func txns(inq *protocol.InquiryPaymentResponse, typ ...string) []protocol.Transaction {
	var out []protocol.Transaction
	for _, tr := range inq.Transactions {
		for _, want := range typ {
			if tr.TransactionType == want {
				out = append(out, tr)
			}
		}
	}
	return out
}

// onlyTxn expects exactly one transaction of the type, with the status and result.
func onlyTxn(t *testing.T, inq *protocol.InquiryPaymentResponse, typ, status, resultStatus string) protocol.Transaction {
	t.Helper()
	got := txns(inq, typ)
	if len(got) != 1 {
		t.Fatalf("%d %s transactions, want 1: %+v", len(got), typ, inq.Transactions)
	}
	tr := got[0]
	if tr.TransactionStatus != status || tr.TransactionResult == nil || tr.TransactionResult.ResultStatus != resultStatus {
		t.Fatalf("%s transaction status %s result %+v, want %s/%s", typ, tr.TransactionStatus, tr.TransactionResult, status, resultStatus)
	}
	if tr.TransactionID == "" || tr.TransactionTime == "" || tr.TransactionAmount == nil {
		t.Errorf("%s transaction lacks id, time or amount: %+v", typ, tr)
	}
	return tr
}

// outboxRow is one notification row of the transactional outbox.
type outboxRow struct {
	id         int64
	notifyType string
	ref        string
	body       string
	result     protocol.Result
}

func (f *flow) outbox(paymentID string) []outboxRow {
	f.t.Helper()
	rows, err := f.db().Query(`SELECT id, notify_type, ref, body FROM outbox WHERE payment_id = ? ORDER BY id`, paymentID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.id, &r.notifyType, &r.ref, &r.body); err != nil {
			f.t.Fatal(err)
		}
		var b struct {
			Result protocol.Result `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.body), &b); err != nil {
			f.t.Fatalf("outbox body %q: %v", r.body, err)
		}
		r.result = b.Result
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

func ofType(rows []outboxRow, typ string) []outboxRow {
	var out []outboxRow
	for _, r := range rows {
		if r.notifyType == typ {
			out = append(out, r)
		}
	}
	return out
}

// events lists the ops of a payment's event rows, oldest first.
func (f *flow) events(paymentID string) []string {
	f.t.Helper()
	rows, err := f.db().Query(`SELECT op FROM payment_events WHERE payment_id = ? ORDER BY id`, paymentID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var op string
		if err := rows.Scan(&op); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, op)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func parseWireTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return v
}
