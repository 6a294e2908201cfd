package payments_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// refusedNotifyURLs are the notify URLs refused when given, each with a word of the reason: the
// forms of issue 11's attack and the URLs that parsers read two ways.
var refusedNotifyURLs = []struct{ url, reason string }{
	{"http://[::1%25x]:27992/secret", "zone"},
	{"http://[::1%25lo]:27992/secret", "zone"},
	{"http://[::1%251]:27992/secret", "zone"},
	{"http://[::1%25eth0]:27992/secret", "zone"},
	{"http://[::%25lo]:27992/secret", "zone"},
	{"http://[fd00:ec2::254%25x]/latest/meta-data/", "zone"},
	{"https://shop.example@10.0.0.1/notify", "user information"},
	{"https://user:pw@shop.example/notify", "user information"},
	{"https://shop.example\\@10.0.0.1/notify", "backslash"},
	{"https://shop.example/a\\b", "backslash"},
	{"http://2130706433/notify", "numeric"},
	{"http://0177.0.0.1/notify", "numeric"},
	{"http://0x7f.1/notify", "numeric"},
	{"http://127.1/notify", "numeric"},
	{"http://metadata.google.internal/computeMetadata/v1/", "metadata"},
	{"http://169.254.169.254/latest/meta-data/", "metadata"},
	{"http://[::ffff:169.254.169.254]/latest/meta-data/", "metadata"},
}

// TestNotifyURLRefusedAtPay: pay answers PARAM_ILLEGAL naming paymentNotifyUrl and the reason;
// ordinary URLs, loopback ones included (the mode decides those at delivery), still pass.
func TestNotifyURLRefusedAtPay(t *testing.T) {
	for _, tc := range refusedNotifyURLs {
		t.Run(tc.url, func(t *testing.T) {
			m := base(t)
			set(m, "paymentNotifyUrl", tc.url)
			_, err := payments.ParsePayRequest(decodePay(t, m), testNow)
			assertRefused(t, err, protocol.CodeParamIllegal, "paymentNotifyUrl")
			if err != nil && !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("%v does not say %q", err, tc.reason)
			}
		})
	}
	for _, ok := range []string{"https://shop.example/notify?a=b", "http://127.0.0.1:9000/n", "http://[::1]:9000/n", "http://localhost/n"} {
		m := base(t)
		set(m, "paymentNotifyUrl", ok)
		if _, err := payments.ParsePayRequest(decodePay(t, m), testNow); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}

// TestNotifyURLRefusedAtRefund: refund answers PARAM_ILLEGAL naming refundNotifyUrl, and writes
// nothing.
func TestNotifyURLRefusedAtRefund(t *testing.T) {
	h := newHarness(t)
	p := h.pay(t, "4242424242424242", "ssrf", payments.CaptureAutomatic)
	before := h.store.rows()
	for _, tc := range refusedNotifyURLs {
		_, _, err := h.svc.Refund(context.Background(), merchantA, &protocol.RefundRequest{
			RefundRequestID: "r", PaymentID: p.ID, RefundAmount: amt("1"), RefundNotifyURL: tc.url})
		assertRefused(t, err, protocol.CodeParamIllegal, "refundNotifyUrl")
		if err != nil && !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: %v does not say %q", tc.url, err, tc.reason)
		}
	}
	if after := h.store.rows(); after != before {
		t.Fatalf("refused refunds wrote rows: %v -> %v", before, after)
	}
}
