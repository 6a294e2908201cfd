package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cardgate/cardgate/protocol"
)

// ssrfSecret is what the internal service on loopback answers.
var ssrfSecret = "INTERNAL-SECRET\x1b[0m\r\n" + strings.Repeat("k3y=s3cr3t;", 100)

// TestSSRFProductionNotifyURLs is issue 11's attack on the built binary in production mode. The
// zone forms, user information, backslashes, non-canonical numeric hosts and metadata hosts are
// refused at pay, refund and merchant settings with PARAM_ILLEGAL naming the field, nothing
// written; the loopback forms pay accepts (the mode decides those) are refused by the dispatcher
// at connect time, with 0 connections to real listeners on 127.0.0.1 and [::1] and no answer in
// notifications/list. The sandbox control reaches the same [::1] listener, and what it keeps of
// the internal answer is a short printable excerpt.
func TestSSRFProductionNotifyURLs(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, ssrfSecret)
	})
	v4 := ntListen(t, "tcp4", "127.0.0.1:0", handler)
	v6 := ntListen(t, "tcp6", "[::1]:0", handler)
	if v4 == nil || v6 == nil {
		t.Fatal("no IPv4 or IPv6 loopback to listen on")
	}
	p4 := v4.Addr().(*net.TCPAddr).Port
	p6 := v6.Addr().(*net.TCPAddr).Port
	at := func(format string) string {
		return strings.NewReplacer("{4}", fmt.Sprint(p4), "{6}", fmt.Sprint(p6)).Replace(format)
	}

	g := startGateway(t, "--mode", "production")
	ctx := context.Background()

	refusedAtPay := []struct{ url, reason string }{
		{"http://[::1%25x]:{6}/secret", "zone"},
		{"http://[::1%25lo]:{6}/secret", "zone"},
		{"http://[::1%251]:{6}/secret", "zone"},
		{"http://[::1%25eth0]:{6}/secret", "zone"},
		{"http://[::%25lo]:{6}/secret", "zone"},
		{"http://[fd00:ec2::254%25x]/latest/meta-data/", "zone"},
		{"http://shop.example@127.0.0.1:{4}/secret", "user information"},
		{"http://shop.example\\@127.0.0.1:{4}/secret", "backslash"},
		{"http://2130706433:{4}/secret", "numeric"},
		{"http://0177.0.0.1:{4}/secret", "numeric"},
		{"http://0x7f.1:{4}/secret", "numeric"},
		{"http://127.1:{4}/secret", "numeric"},
		{"http://metadata.google.internal/computeMetadata/v1/", "metadata"},
		{"http://169.254.169.254/latest/meta-data/", "metadata"},
		{"http://0.0.0.0:{4}/secret", "unspecified"},
	}
	payRows := g.count(`SELECT COUNT(*) FROM payments`)
	for _, tc := range refusedAtPay {
		u := at(tc.url)
		req := payRequest("4242424242424242", "123")
		req.PaymentNotifyURL = u
		resp, err := g.client.Pay(ctx, req)
		if err != nil {
			t.Fatalf("pay %s: %v", u, err)
		}
		wantIllegal(t, "pay "+u, resp.Result, "paymentNotifyUrl", tc.reason)
	}
	if n := g.count(`SELECT COUNT(*) FROM payments`); n != payRows {
		t.Errorf("refused pays wrote %d payments", n-payRows)
	}

	// Refund and merchant settings check their URLs the same way.
	paid := ntPay(t, g.client, "", "MANUAL")
	for _, tc := range refusedAtPay {
		u := at(tc.url)
		refund, err := g.client.Refund(ctx, &protocol.RefundRequest{RefundRequestID: newRequestID("r"), PaymentID: paid.PaymentID,
			RefundAmount: &protocol.Amount{Currency: "SGD", Value: "100"}, RefundNotifyURL: u})
		if err != nil {
			t.Fatalf("refund %s: %v", u, err)
		}
		wantIllegal(t, "refund "+u, refund.Result, "refundNotifyUrl", tc.reason)
		var settings protocol.MerchantSettingsResponse
		ntCall(t, g.client, protocol.PathMerchantSettings, protocol.MerchantSettingsRequest{NotifyURL: &u}, &settings)
		wantIllegal(t, "settings "+u, settings.Result, "notifyUrl", tc.reason)
	}
	if n := g.count(`SELECT COUNT(*) FROM transactions WHERE payment_id = ?`, paid.PaymentID); n != 0 {
		t.Errorf("refused refunds wrote %d transactions", n)
	}
	var settings protocol.MerchantSettingsResponse
	if ntCall(t, g.client, protocol.PathMerchantSettings, protocol.MerchantSettingsRequest{}, &settings); settings.NotifyURL != "" {
		t.Errorf("a refused notifyUrl was set: %q", settings.NotifyURL)
	}

	// Accepted at pay, refused where it matters: on the address dialled.
	refusedAtDial := []string{
		"http://127.0.0.1:{4}/secret",
		"http://localhost:{4}/secret",
		"http://[::1]:{6}/secret",
		"http://[::ffff:127.0.0.1]:{4}/secret",
		"http://[::ffff:7f00:1]:{4}/secret",
		"http://[::127.0.0.1]:{4}/secret",
		"http://[64:ff9b::127.0.0.1]:{4}/secret",
		"http://[2002:7f00:1::1]:{4}/secret",
		"http://[2001:0:5db8:d822::80ff:fffe]:{4}/secret",
		"http://[fd12:3456::1]:{6}/secret",
	}
	ids := map[string]string{}
	for _, f := range refusedAtDial {
		ids[f] = ntPay(t, g.client, at(f), "MANUAL").PaymentID
	}
	for _, f := range refusedAtDial {
		a := firstAttempt(t, g, ids[f])
		if a.Delivered || a.HTTPStatus != 0 || a.Response != "" || !strings.Contains(a.Error, "notify: address policy refuses") {
			t.Errorf("%s: attempt %+v, want the policy's refusal and no answer", at(f), a)
		}
	}
	if v4.n.Load() != 0 || v6.n.Load() != 0 || served.Load() != 0 {
		t.Fatalf("production reached the internal service: %d IPv4 and %d IPv6 connections, %d requests served",
			v4.n.Load(), v6.n.Load(), served.Load())
	}

	// The control: a sandbox reaches the same listener, so the counts above could have failed;
	// what it keeps of the internal service's answer is an excerpt.
	sb := startGateway(t)
	a := firstAttempt(t, sb, ntPay(t, sb.client, at("http://[::1]:{6}/secret"), "MANUAL").PaymentID)
	if v6.n.Load() != 1 || a.HTTPStatus != 200 {
		t.Fatalf("sandbox control: %d connections, attempt %+v", v6.n.Load(), a)
	}
	if n := utf8.RuneCountInString(a.Response); n > 200 || !strings.HasPrefix(a.Response, "INTERNAL-SECRET[0m  k3y=") ||
		strings.ContainsAny(a.Response, "\x1b\r\n") || !strings.HasSuffix(a.Response, "…") {
		t.Errorf("sandbox attempt response of %d characters: %q", n, a.Response)
	}
}

func wantIllegal(t *testing.T, what string, r protocol.Result, field, reason string) {
	t.Helper()
	if r.ResultStatus != "F" || r.ResultCode != "PARAM_ILLEGAL" || !strings.Contains(r.ResultMessage, field) ||
		!strings.Contains(r.ResultMessage, reason) {
		t.Errorf("%s: %+v, want PARAM_ILLEGAL naming %s and saying %q", what, r, field, reason)
	}
}

// firstAttempt waits for the first attempt of a payment's PAYMENT_RESULT, as notifications/list
// shows it to the merchant.
func firstAttempt(t *testing.T, g *gateway, paymentID string) protocol.NotificationAttempt {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if n := ntOnly(t, g.client, paymentID, "PAYMENT_RESULT"); len(n.AttemptLog) > 0 {
			return n.AttemptLog[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no attempt within 10 s", paymentID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
