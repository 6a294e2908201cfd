package e2e

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/protocol"
)

// Notifications over the real binary (issue 4, "It must show"). Every receiver here verifies
// each notification itself, exactly as docs/wire.md §2.7 describes a merchant doing it, without the
// gateway's or the client package's code.

// ntArrival is one notification as a merchant's endpoint received it.
type ntArrival struct {
	at       time.Time // wall clock
	path     string
	query    string
	header   http.Header
	body     []byte
	verified error
	msg      map[string]any
}

func (a ntArrival) notifyType() string { s, _ := a.msg["notifyType"].(string); return s }

func (a ntArrival) str(key string) string { s, _ := a.msg[key].(string); return s }

func (a ntArrival) resultStatus() string {
	r, _ := a.msg["result"].(map[string]any)
	s, _ := r["resultStatus"].(string)
	return s
}

// ntReceiver is a merchant's notification endpoint on 127.0.0.1.
type ntReceiver struct {
	srv      *httptest.Server
	pub      *rsa.PublicKey
	mu       sync.Mutex
	arrivals []ntArrival
	answer   func(n int) (int, string) // n counts arrivals from 1
}

func ntGatewayKey(t *testing.T, g *gateway) *rsa.PublicKey {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(g.creds.GatewayPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PublicKey)
}

// ntVerify is docs/wire.md §2.7 by hand: "POST <path>\n<client-id>.<request-time>.<body>",
// the signature header's value after "signature=", URL-decoded, base64, RSA-SHA256.
func ntVerify(pub *rsa.PublicKey, path string, h http.Header, body []byte) error {
	for _, name := range []string{"client-id", "request-time", "signature"} {
		if h.Get(name) == "" {
			return fmt.Errorf("no %s header", name)
		}
	}
	_, enc, ok := strings.Cut(h.Get("signature"), "signature=")
	if !ok {
		return fmt.Errorf("no signature= in %q", h.Get("signature"))
	}
	b64, err := url.QueryUnescape(enc)
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return err
	}
	content := "POST " + path + "\n" + h.Get("client-id") + "." + h.Get("request-time") + "." + string(body)
	sum := sha256.Sum256([]byte(content))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}

func ntNewReceiver(t *testing.T, pub *rsa.PublicKey, answer func(n int) (int, string)) *ntReceiver {
	r := &ntReceiver{pub: pub, answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		a := ntArrival{at: time.Now(), path: req.URL.EscapedPath(), query: req.URL.RawQuery, header: req.Header.Clone(), body: body}
		a.verified = ntVerify(r.pub, a.path, req.Header, body)
		_ = json.Unmarshal(body, &a.msg)
		r.mu.Lock()
		r.arrivals = append(r.arrivals, a)
		n := len(r.arrivals)
		r.mu.Unlock()
		status, answer := r.answer(n)
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func ntAck(int) (int, string) { return http.StatusOK, client.Acknowledgement }

func ntRefuse(int) (int, string) { return http.StatusInternalServerError, "not today" }

func (r *ntReceiver) all() []ntArrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ntArrival(nil), r.arrivals...)
}

func (r *ntReceiver) count() int { return len(r.all()) }

// waitFor waits until at least n notifications arrived.
func (r *ntReceiver) waitFor(t *testing.T, n int, within time.Duration) []ntArrival {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := r.all()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notifications arrived within %v, want %d", len(got), within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ntFind waits for a notification of a type about a payment.
func (r *ntReceiver) ntFind(t *testing.T, notifyType, paymentID string) ntArrival {
	t.Helper()
	return r.ntFindBy(t, notifyType, "paymentId", paymentID)
}

// ntFindBy waits for a notification of a type whose body has key = value.
func (r *ntReceiver) ntFindBy(t *testing.T, notifyType, key, value string) ntArrival {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, a := range r.all() {
			if a.notifyType() == notifyType && a.str(key) == value {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s with %s %s; arrivals: %d", notifyType, key, value, r.count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ntPay(t *testing.T, c *client.Client, notifyURL, captureMode string) *protocol.PayResponse {
	t.Helper()
	req := payRequest("4242424242424242", "123")
	req.PaymentNotifyURL = notifyURL
	req.PaymentFactor.CaptureMode = captureMode
	resp, err := c.Pay(context.Background(), req)
	if err != nil {
		t.Fatalf("pay: %v", err)
	}
	if resp.Result.ResultStatus != "S" || resp.PaymentID == "" {
		t.Fatalf("pay: %+v", resp.Result)
	}
	return resp
}

func ntCall(t *testing.T, c *client.Client, path string, req, resp any) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Do(context.Background(), path, body)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if r.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", path, r.StatusCode, r.Body)
	}
	if err := json.Unmarshal(r.Body, resp); err != nil {
		t.Fatalf("%s: %s: %v", path, r.Body, err)
	}
}

func ntList(t *testing.T, c *client.Client, paymentID string) []protocol.Notification {
	t.Helper()
	var resp protocol.NotificationsListResponse
	ntCall(t, c, protocol.PathNotificationsList, protocol.NotificationsListRequest{PaymentID: paymentID}, &resp)
	if resp.Result.ResultStatus != "S" {
		t.Fatalf("notifications/list: %+v", resp.Result)
	}
	return resp.Notifications
}

// ntOnly lists a payment's notifications and returns the one of notifyType.
func ntOnly(t *testing.T, c *client.Client, paymentID, notifyType string) protocol.Notification {
	t.Helper()
	var found []protocol.Notification
	for _, n := range ntList(t, c, paymentID) {
		if n.NotifyType == notifyType {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s notifications for %s", len(found), notifyType, paymentID)
	}
	return found[0]
}

// TestNotificationsSignedToRealReceiver: pay → PAYMENT_RESULT (S), auto capture → CAPTURE_RESULT,
// refund → REFUND_RESULT (at refundNotifyUrl when given, else at paymentNotifyUrl); each signed so
// that the §2.7 string verifies with the gateway public key, over the notify URL's path without
// its query.
func TestNotificationsSignedToRealReceiver(t *testing.T) {
	g := startGateway(t)
	pub := ntGatewayKey(t, g)
	payRcv := ntNewReceiver(t, pub, ntAck)
	refundRcv := ntNewReceiver(t, pub, ntAck)

	pay := ntPay(t, g.client, payRcv.srv.URL+"/antom/notify?shop=42&x=%2F", "")
	pr := payRcv.ntFind(t, "PAYMENT_RESULT", pay.PaymentID)
	cr := payRcv.ntFind(t, "CAPTURE_RESULT", pay.PaymentID)

	refund := func(reqID, notifyURL string) *protocol.RefundResponse {
		resp, err := g.client.Refund(context.Background(), &protocol.RefundRequest{RefundRequestID: reqID, PaymentID: pay.PaymentID,
			RefundAmount: &protocol.Amount{Currency: "SGD", Value: "1000"}, RefundNotifyURL: notifyURL})
		if err != nil || resp.Result.ResultStatus != "S" {
			t.Fatalf("refund: %v %+v", err, resp)
		}
		return resp
	}
	// The capture is notified, so it has happened: refunds may follow.
	r1 := refund(newRequestID("nt-refund"), refundRcv.srv.URL+"/refunds/hook?token=abc")
	r2 := refund(newRequestID("nt-refund"), "")
	rr1 := refundRcv.ntFindBy(t, "REFUND_RESULT", "refundId", r1.RefundID)
	rr2 := payRcv.ntFindBy(t, "REFUND_RESULT", "refundId", r2.RefundID)

	for name, a := range map[string]ntArrival{"PAYMENT_RESULT": pr, "CAPTURE_RESULT": cr, "REFUND_RESULT 1": rr1, "REFUND_RESULT 2": rr2} {
		if a.verified != nil {
			t.Errorf("%s does not verify per docs/wire.md §2.7 over %s: %v", name, a.path, a.verified)
		}
		if got := a.header.Get("client-id"); got != g.creds.ClientID {
			t.Errorf("%s client-id %q, want %q", name, got, g.creds.ClientID)
		}
		if a.header.Get("request-time") == "" || !strings.HasPrefix(a.header.Get("signature"), "algorithm=RSA256,keyVersion=") {
			t.Errorf("%s headers: %v", name, a.header)
		}
		if ct := a.header.Get("content-type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s content-type %q", name, ct)
		}
		if a.resultStatus() != "S" {
			t.Errorf("%s result %v", name, a.msg["result"])
		}
		// The path alone is signed: the same check over path?query fails.
		if ntVerify(pub, a.path+"?"+a.query, a.header, a.body) == nil {
			t.Errorf("%s also verifies with the query in the signed path", name)
		}
	}
	if pr.path != "/antom/notify" || pr.query != "shop=42&x=%2F" || rr1.path != "/refunds/hook" {
		t.Errorf("paths: %s?%s, %s", pr.path, pr.query, rr1.path)
	}
	if pr.str("paymentRequestId") == "" || pr.msg["paymentAmount"] == nil {
		t.Errorf("PAYMENT_RESULT body: %s", pr.body)
	}
	if cr.str("captureId") == "" || cr.msg["captureAmount"] == nil {
		t.Errorf("CAPTURE_RESULT body: %s", cr.body)
	}
	if rr1.str("refundStatus") != "SUCCESS" || rr1.str("refundRequestId") == "" || rr2.str("refundStatus") != "SUCCESS" {
		t.Errorf("REFUND_RESULT bodies: %s %s", rr1.body, rr2.body)
	}
	if n := refundRcv.count(); n != 1 {
		t.Errorf("refundNotifyUrl received %d notifications, want 1", n)
	}
	// Every notification is listed as delivered at once, with its attempt.
	deadline := time.Now().Add(5 * time.Second)
	for {
		list := ntList(t, g.client, pay.PaymentID)
		delivered := 0
		for _, n := range list {
			if n.Status == "DELIVERED" && n.Attempts == 1 && len(n.AttemptLog) == 1 && n.AttemptLog[0].HTTPStatus == 200 {
				delivered++
			}
		}
		if len(list) == 4 && delivered == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notifications/list: %+v", list)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ntClock moves a sandbox gateway's clock to exact instants. The gateway clock is the wall clock
// plus the offset the sandbox stores, so it is read from the store to the millisecond (the
// answers carry whole seconds only).
type ntClock struct {
	t *testing.T
	g *gateway
}

func (c ntClock) now() time.Time {
	c.t.Helper()
	var offset int64
	if err := c.g.db().QueryRow(`SELECT offset_ms FROM sandbox_clock WHERE id = 1`).Scan(&offset); err != nil {
		c.t.Fatal(err)
	}
	return time.Now().Add(time.Duration(offset) * time.Millisecond)
}

func (c ntClock) advanceTo(target time.Time) {
	c.t.Helper()
	d := target.Sub(c.now())
	if d <= 0 {
		c.t.Fatalf("cannot move the clock back by %v", -d)
	}
	resp, err := c.g.client.AdvanceClock(context.Background(), d.Round(time.Millisecond).String())
	if err != nil || resp.Result.ResultStatus != "S" {
		c.t.Fatalf("advance %v: %v %+v", d, err, resp)
	}
}

// ntOutbox reads a payment's PAYMENT_RESULT row: when it was written (the schedule's origin) and
// its attempt count.
func ntOutbox(t *testing.T, g *gateway, paymentID string) (created time.Time, attempts int, status string) {
	t.Helper()
	var ms int64
	err := g.db().QueryRow(`SELECT created_at, attempts, status FROM outbox WHERE payment_id = ? AND notify_type = 'PAYMENT_RESULT'`, paymentID).
		Scan(&ms, &attempts, &status)
	if err != nil {
		t.Fatal(err)
	}
	return time.UnixMilli(ms), attempts, status
}

// ntWaitAttempts waits until the first attempt is recorded (the receiver logs an arrival before
// it answers).
func ntWaitAttempts(t *testing.T, g *gateway, paymentID string, want int) time.Time {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		created, n, _ := ntOutbox(t, g, paymentID)
		if n == want {
			return created
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts recorded, want %d", n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scheduleOffsets are docs/design.md's due times of the 8 deliveries, after the result.
var scheduleOffsets = []time.Duration{0, 2 * time.Minute, 12 * time.Minute, 22 * time.Minute, 82 * time.Minute,
	202 * time.Minute, 562 * time.Minute, 1462 * time.Minute}

// ntStep moves the clock to 1 s before a due time (no new arrival) and to 1 s after it (exactly
// one new arrival), and returns the new arrival.
func ntStep(t *testing.T, clk ntClock, rcv *ntReceiver, due time.Time, before int) ntArrival {
	t.Helper()
	clk.advanceTo(due.Add(-time.Second))
	if n := rcv.count(); n != before {
		t.Fatalf("1 s before the attempt due at %s: %d arrivals, want %d", due.Format(time.TimeOnly), n, before)
	}
	clk.advanceTo(due.Add(time.Second))
	got := rcv.all()
	if len(got) != before+1 {
		t.Fatalf("1 s after the attempt due at %s: %d arrivals, want %d", due.Format(time.TimeOnly), len(got), before+1)
	}
	a := got[before]
	if a.verified != nil || a.notifyType() != "PAYMENT_RESULT" {
		t.Fatalf("attempt %d: %s, verification %v", before+1, a.notifyType(), a.verified)
	}
	return a
}

// TestNotifyScheduleOverClock: a receiver that answers wrongly gets exactly the 8 scheduled
// deliveries, each at its due time (1 s before: none; 1 s after: exactly one), then none in the
// next 24 hours; the notification is listed FAILED with 8 attempts.
func TestNotifyScheduleOverClock(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	rcv := ntNewReceiver(t, ntGatewayKey(t, g), func(n int) (int, string) {
		if n%2 == 0 {
			return http.StatusOK, `{"result":{"resultCode":"ERROR","resultStatus":"F","resultMessage":"signature check failed"}}`
		}
		return http.StatusInternalServerError, "down"
	})
	clk := ntClock{t, g}
	pay := ntPay(t, g.client, rcv.srv.URL+"/notify", "MANUAL")
	rcv.waitFor(t, 1, 5*time.Second)
	created := ntWaitAttempts(t, g, pay.PaymentID, 1)
	for i, off := range scheduleOffsets[1:] {
		ntStep(t, clk, rcv, created.Add(off), i+1)
	}
	clk.advanceTo(clk.now().Add(24 * time.Hour))
	if n := rcv.count(); n != 8 {
		t.Fatalf("%d deliveries after the schedule ran out and 24 h more, want 8", n)
	}
	n := ntOnly(t, g.client, pay.PaymentID, "PAYMENT_RESULT")
	if n.Status != "FAILED" || n.Attempts != 8 || len(n.AttemptLog) != 8 || n.NextAttemptTime != "" {
		t.Fatalf("after 8 refused deliveries: %+v", n)
	}
	for i, a := range n.AttemptLog {
		at, err := time.Parse(protocol.WireTimeLayout, a.Time)
		want := created.Add(scheduleOffsets[i])
		if err != nil || at.Before(want.Add(-time.Second)) || at.After(want.Add(2*time.Second)) {
			t.Errorf("attempt %d logged at %s, due %s", i+1, a.Time, want.UTC().Format(time.RFC3339))
		}
		if a.Attempt != i+1 || a.Manual || a.Delivered || a.Error == "" {
			t.Errorf("attempt log %d: %+v", i+1, a)
		}
	}
	if n.AttemptLog[0].HTTPStatus != 500 || n.AttemptLog[1].HTTPStatus != 200 || !strings.Contains(n.AttemptLog[1].Response, "ERROR") {
		t.Errorf("attempt log keeps the answers: %+v %+v", n.AttemptLog[0], n.AttemptLog[1])
	}
}

// TestNotifyScheduleStopsOnAck: a receiver that recovers after the 3rd attempt gets the 4th at its
// due time, acknowledges it, and gets nothing more.
func TestNotifyScheduleStopsOnAck(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	rcv := ntNewReceiver(t, ntGatewayKey(t, g), func(n int) (int, string) {
		if n <= 3 {
			return ntRefuse(n)
		}
		return ntAck(n)
	})
	clk := ntClock{t, g}
	pay := ntPay(t, g.client, rcv.srv.URL+"/notify", "MANUAL")
	rcv.waitFor(t, 1, 5*time.Second)
	created := ntWaitAttempts(t, g, pay.PaymentID, 1)
	for i, off := range scheduleOffsets[1:4] {
		ntStep(t, clk, rcv, created.Add(off), i+1)
	}
	clk.advanceTo(clk.now().Add(24 * time.Hour))
	if n := rcv.count(); n != 4 {
		t.Fatalf("%d deliveries, want 4: the schedule must stop at the acknowledgement", n)
	}
	n := ntOnly(t, g.client, pay.PaymentID, "PAYMENT_RESULT")
	if n.Status != "DELIVERED" || n.Attempts != 4 || len(n.AttemptLog) != 4 || !n.AttemptLog[3].Delivered || n.DeliveredTime == "" {
		t.Fatalf("after an acknowledged 4th delivery: %+v", n)
	}
}

// TestNotifyResendKeepsSchedule: a resend delivers a freshly signed copy (another request-time,
// another signature, same body), is logged as a manual attempt, and the next scheduled attempt
// still arrives at its original due time.
func TestNotifyResendKeepsSchedule(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	rcv := ntNewReceiver(t, ntGatewayKey(t, g), ntRefuse)
	clk := ntClock{t, g}
	pay := ntPay(t, g.client, rcv.srv.URL+"/notify", "MANUAL")
	rcv.waitFor(t, 1, 5*time.Second)
	created := ntWaitAttempts(t, g, pay.PaymentID, 1)
	second := ntStep(t, clk, rcv, created.Add(scheduleOffsets[1]), 1)

	// request-time has whole seconds: let one pass so that a fresh signature must differ.
	time.Sleep(time.Until(second.at.Add(1100 * time.Millisecond)))
	n := ntOnly(t, g.client, pay.PaymentID, "PAYMENT_RESULT")
	var resp protocol.NotificationsResendResponse
	ntCall(t, g.client, protocol.PathNotificationsResend, protocol.NotificationsResendRequest{NotificationID: n.NotificationID}, &resp)
	if resp.Result.ResultStatus != "S" || resp.Attempt == nil || !resp.Attempt.Manual || resp.Attempt.Delivered || resp.Attempt.HTTPStatus != 500 {
		t.Fatalf("resend: %+v %+v", resp.Result, resp.Attempt)
	}
	got := rcv.all()
	if len(got) != 3 {
		t.Fatalf("%d arrivals after the resend, want 3", len(got))
	}
	resent := got[2]
	if resent.verified != nil {
		t.Errorf("the resent copy does not verify: %v", resent.verified)
	}
	if string(resent.body) != string(second.body) {
		t.Errorf("the resent body differs:\n%s\n%s", resent.body, second.body)
	}
	if resent.header.Get("request-time") == second.header.Get("request-time") || resent.header.Get("signature") == second.header.Get("signature") {
		t.Errorf("the resend is not freshly signed: request-time %s / %s", resent.header.Get("request-time"), second.header.Get("request-time"))
	}
	n = ntOnly(t, g.client, pay.PaymentID, "PAYMENT_RESULT")
	// The resend counts as an attempt and is numbered after the two before it; it is not one of
	// the schedule's, which stays where it was.
	if n.Status != "PENDING" || n.Attempts != 3 || n.ScheduledAttempts != 2 || len(n.AttemptLog) != 3 || !n.AttemptLog[2].Manual ||
		n.AttemptLog[2].Attempt != 3 || n.AttemptLog[1].Manual {
		t.Fatalf("after the resend: %+v", n)
	}
	next, err := time.Parse(protocol.WireTimeLayout, n.NextAttemptTime)
	if err != nil || next.Unix() != created.Add(scheduleOffsets[2]).Unix() {
		t.Errorf("nextAttemptTime %q, want %s", n.NextAttemptTime, created.Add(scheduleOffsets[2]).UTC())
	}
	// The schedule goes on as if the resend had not happened.
	ntStep(t, clk, rcv, created.Add(scheduleOffsets[2]), 3)
	if _, attempts, _ := ntOutbox(t, g, pay.PaymentID); attempts != 3 {
		t.Errorf("%d scheduled attempts, want 3", attempts)
	}
	// An unknown id is ORDER_NOT_EXIST.
	ntCall(t, g.client, protocol.PathNotificationsResend, protocol.NotificationsResendRequest{NotificationID: "999999"}, &resp)
	if resp.Result.ResultCode != "ORDER_NOT_EXIST" {
		t.Errorf("resend of an unknown id: %+v", resp.Result)
	}
}

// TestNotifyHangingMerchantDoesNotStallOthers: merchant A's endpoint never answers; merchant B's
// notifications still arrive within about a second of each payment.
func TestNotifyHangingMerchantDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	// A bound of 4 (the default is 32), below the 10 notifications A's hanging endpoint is owed.
	g := startGateway(t, "--notify-timeout", "2s", "--notify-per-merchant", "4")
	var hanging, hangingTotal atomic.Int32
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hanging.Add(1)
		hangingTotal.Add(1)
		defer hanging.Add(-1)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop); hang.Close() })

	b, _ := credentials(t, cardgate(t, "merchant", "create", "--data", g.dir, "--name", "Merchant B", "--json"))
	cb, err := client.New(client.Config{BaseURL: g.url, ClientID: b.ClientID, PrivateKey: b.MerchantPrivateKey, GatewayPublicKey: b.GatewayPublicKey})
	if err != nil {
		t.Fatal(err)
	}
	rcvB := ntNewReceiver(t, ntGatewayKey(t, g), ntAck)

	for range 5 {
		ntPay(t, g.client, hang.URL+"/a", "")
	}
	deadline := time.Now().Add(5 * time.Second)
	for hanging.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("merchant A's endpoint was never called")
		}
		time.Sleep(10 * time.Millisecond)
	}
	paidAt := map[string]time.Time{}
	var last time.Time
	for range 5 {
		resp := ntPay(t, cb, rcvB.srv.URL+"/b", "")
		last = time.Now()
		paidAt[resp.PaymentID] = last
	}
	var done time.Time
	for id, at := range paidAt {
		a := rcvB.ntFind(t, "PAYMENT_RESULT", id)
		if a.verified != nil || a.header.Get("client-id") != b.ClientID {
			t.Errorf("B's notification: client-id %s, %v", a.header.Get("client-id"), a.verified)
		}
		if lag := a.at.Sub(at); lag > 1500*time.Millisecond {
			t.Errorf("B's PAYMENT_RESULT for %s came %v after its pay", id, lag)
		}
		if a.at.After(done) {
			done = a.at
		}
	}
	t.Logf("B's 5 PAYMENT_RESULTs all in %v after B's last pay; A had %d deliveries hanging", done.Sub(last), hanging.Load())
	if done.Sub(last) > 1500*time.Millisecond {
		t.Errorf("B's notifications took %v after its last pay", done.Sub(last))
	}
	if hanging.Load() == 0 {
		t.Errorf("A's deliveries were no longer hanging: the test proved nothing")
	}
	if n := hanging.Load(); n > 4 {
		t.Errorf("%d deliveries in flight to one merchant (bound 4)", n)
	}
}

// ntCountingListener counts the connections a loopback listener accepts.
type ntCountingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *ntCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func ntListen(t *testing.T, network, addr string, handler http.Handler) *ntCountingListener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil
	}
	cl := &ntCountingListener{Listener: ln}
	srv := &http.Server{Handler: handler}
	go srv.Serve(cl)
	t.Cleanup(func() { srv.Close() })
	return cl
}

// TestNotifyProductionAddressPolicy: in production mode notify URLs at 127.0.0.1, 10.0.0.1, [::1]
// and a name resolving to loopback are refused at connect time (the counting listeners see no
// connection, the attempt log names the policy); --notify-allow 127.0.0.0/8 opens loopback. The
// metadata address is refused at pay already (TestSSRFProductionNotifyURLs).
func TestNotifyProductionAddressPolicy(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, client.Acknowledgement)
	})
	v4 := ntListen(t, "tcp4", "127.0.0.1:0", handler)
	if v4 == nil {
		t.Fatal("no IPv4 loopback")
	}
	port := v4.Addr().(*net.TCPAddr).Port
	v6 := ntListen(t, "tcp6", "[::1]:0", handler)
	v6URL := fmt.Sprintf("http://[::1]:%d/n", port)
	if v6 != nil {
		v6URL = fmt.Sprintf("http://[::1]:%d/n", v6.Addr().(*net.TCPAddr).Port)
	} else {
		t.Log("no IPv6 loopback here: [::1] is refused by policy but not counted")
	}

	g := startGateway(t, "--mode", "production")
	urls := []string{
		fmt.Sprintf("http://127.0.0.1:%d/n", port),
		"http://10.0.0.1/n",
		v6URL,
		fmt.Sprintf("http://localhost:%d/n", port),
	}
	payments := map[string]string{}
	for _, u := range urls {
		payments[u] = ntPay(t, g.client, u, "MANUAL").PaymentID
	}
	for _, u := range urls {
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := ntOnly(t, g.client, payments[u], "PAYMENT_RESULT")
			if len(n.AttemptLog) > 0 {
				a := n.AttemptLog[0]
				if a.Delivered || a.HTTPStatus != 0 || !strings.Contains(a.Error, "notify: address policy refuses") ||
					!(strings.Contains(a.Error, "loopback") || strings.Contains(a.Error, "private") || strings.Contains(a.Error, "metadata")) {
					t.Errorf("%s: attempt %+v, want a refusal by the address policy", u, a)
				}
				if n.Status != "PENDING" {
					t.Errorf("%s: status %s", u, n.Status)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no attempt within 10 s", u)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := v4.n.Load(); n != 0 {
		t.Errorf("the IPv4 loopback listener saw %d connections in production mode", n)
	}
	if v6 != nil && v6.n.Load() != 0 {
		t.Errorf("the IPv6 loopback listener saw %d connections in production mode", v6.n.Load())
	}

	// Opened by --notify-allow, the same receiver gets its notification.
	g2 := startGateway(t, "--mode", "production", "--notify-allow", "127.0.0.0/8")
	pay := ntPay(t, g2.client, fmt.Sprintf("http://127.0.0.1:%d/n", port), "MANUAL")
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := ntOnly(t, g2.client, pay.PaymentID, "PAYMENT_RESULT")
		if n.Status == "DELIVERED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("--notify-allow 127.0.0.0/8: %+v", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v4.n.Load() == 0 || served.Load() != 1 {
		t.Errorf("with --notify-allow: %d connections, %d notifications served", v4.n.Load(), served.Load())
	}
}

// TestNotifyMerchantSettings: the merchant's default notify URL, set by the signed settings call
// or by `cardgate merchant set`, receives the notifications of payments that name no URL;
// {} reads it back.
func TestNotifyMerchantSettings(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	pub := ntGatewayKey(t, g)
	byAPI := ntNewReceiver(t, pub, ntAck)
	byCLI := ntNewReceiver(t, pub, ntAck)
	explicit := ntNewReceiver(t, pub, ntAck)

	settings := func(req protocol.MerchantSettingsRequest) protocol.MerchantSettingsResponse {
		var resp protocol.MerchantSettingsResponse
		ntCall(t, g.client, protocol.PathMerchantSettings, req, &resp)
		return resp
	}
	if s := settings(protocol.MerchantSettingsRequest{}); s.Result.ResultStatus != "S" || s.NotifyURL != "" {
		t.Fatalf("initial settings: %+v", s)
	}
	u1 := byAPI.srv.URL + "/default"
	if s := settings(protocol.MerchantSettingsRequest{NotifyURL: &u1}); s.Result.ResultStatus != "S" || s.NotifyURL != u1 || s.ClientID != g.creds.ClientID {
		t.Fatalf("set notifyUrl: %+v", s)
	}
	if s := settings(protocol.MerchantSettingsRequest{}); s.NotifyURL != u1 {
		t.Fatalf("read back: %+v", s)
	}
	bad := "ftp://example.com/n"
	if s := settings(protocol.MerchantSettingsRequest{NotifyURL: &bad}); s.Result.ResultCode != "PARAM_ILLEGAL" {
		t.Errorf("an ftp notifyUrl: %+v", s.Result)
	}
	if s := settings(protocol.MerchantSettingsRequest{}); s.NotifyURL != u1 {
		t.Fatalf("a refused change changed the setting: %+v", s)
	}

	p1 := ntPay(t, g.client, "", "MANUAL")
	if a := byAPI.ntFind(t, "PAYMENT_RESULT", p1.PaymentID); a.verified != nil || a.path != "/default" {
		t.Errorf("default URL notification: %s %v", a.path, a.verified)
	}
	// A URL named in the pay wins over the default.
	p2 := ntPay(t, g.client, explicit.srv.URL+"/explicit", "MANUAL")
	explicit.ntFind(t, "PAYMENT_RESULT", p2.PaymentID)

	u2 := byCLI.srv.URL + "/from-cli"
	out := cardgate(t, "merchant", "set", "--data", g.dir, "--client-id", g.creds.ClientID, "--notify-url", u2)
	if !strings.Contains(string(out), u2) {
		t.Errorf("merchant set printed %q", out)
	}
	// Another process changed the merchant: the gateway's cache of it (internal/store/sqlstore,
	// cache.go) takes the change up within a second, and every read begun after that sees it.
	changed := time.Now()
	for settings(protocol.MerchantSettingsRequest{}).NotifyURL != u2 && time.Since(changed) < time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if s := settings(protocol.MerchantSettingsRequest{}); s.NotifyURL != u2 {
		t.Fatalf("a second after merchant set: %+v", s)
	}
	t.Logf("merchant set seen by serve within %v", time.Since(changed).Round(10*time.Millisecond))
	p3 := ntPay(t, g.client, "", "MANUAL")
	if a := byCLI.ntFind(t, "PAYMENT_RESULT", p3.PaymentID); a.verified != nil || a.path != "/from-cli" {
		t.Errorf("CLI default URL notification: %s %v", a.path, a.verified)
	}
	time.Sleep(200 * time.Millisecond)
	if byAPI.count() != 1 || byCLI.count() != 1 || explicit.count() != 1 {
		t.Errorf("arrivals: api %d, cli %d, explicit %d; want 1 each", byAPI.count(), byCLI.count(), explicit.count())
	}
}
