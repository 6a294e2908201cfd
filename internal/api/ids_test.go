package api_test

import (
	"bytes"
	"strings"
	"testing"
)

// badIDLiterals are ids as raw JSON string literals, the way an attacker writes them: escapes
// that encoding/json would have turned into a NUL or silently into U+FFFD, and raw bytes.
var badIDLiterals = []struct{ name, literal, says string }{
	{"NUL escape", `"R\u0000"`, "control characters"},
	{"line break escape", `"R\nforged"`, "control characters"},
	{"escaped C1 control", `"R\u0085"`, "control characters"},
	{"lone high surrogate", `"R\ud800"`, "lone UTF-16 surrogate"},
	{"last high surrogate", `"R\udbff"`, "lone UTF-16 surrogate"},
	{"lone low surrogate", `"R\udfff"`, "lone UTF-16 surrogate"},
	{"reversed pair", `"R\ude00\ud83d"`, "lone UTF-16 surrogate"},
	{"raw invalid UTF-8", "\"R\xff\"", "not valid UTF-8"},
	{"raw encoded surrogate", "\"R\xed\xa0\x80\"", "not valid UTF-8"},
	{"65 characters", `"` + strings.Repeat("r", 65) + `"`, "at most 64"},
}

// TestIDsRefusedOnEveryAPI: every id field of every API refuses a bad id as a signed
// F/PARAM_ILLEGAL that names the field, and stores nothing.
func TestIDsRefusedOnEveryAPI(t *testing.T) {
	s := newStack(t)
	const placeholder = `"@ID@"`
	payWith := func(path string) []byte {
		req := payRequest(t, "ids-good")
		setPath(req, path, "@ID@")
		return mustJSON(t, req)
	}
	token := payRequest(t, "ids-token")
	setPath(token, "paymentMethod.paymentMethodId", "@ID@")
	deletePath(token, "paymentMethod.paymentMethodMetaData")
	apis := []struct {
		path, field string
		body        []byte
	}{
		{livePay, "paymentRequestId", payWith("paymentRequestId")},
		{livePay, "order.referenceOrderId", payWith("order.referenceOrderId")},
		{livePay, "order.buyer.referenceBuyerId", payWith("order.buyer.referenceBuyerId")},
		{livePay, "paymentMethod.paymentMethodId", mustJSON(t, token)},
		{liveInquiry, "paymentId", []byte(`{"paymentId":"@ID@"}`)},
		{liveInquiry, "paymentRequestId", []byte(`{"paymentRequestId":"@ID@"}`)},
		{liveCapture, "captureRequestId", []byte(`{"captureRequestId":"@ID@","paymentId":"P1","captureAmount":{"currency":"SGD","value":"4200"}}`)},
		{liveCapture, "paymentId", []byte(`{"captureRequestId":"C1","paymentId":"@ID@","captureAmount":{"currency":"SGD","value":"4200"}}`)},
		{liveCancel, "paymentId", []byte(`{"paymentId":"@ID@"}`)},
		{liveCancel, "paymentRequestId", []byte(`{"paymentRequestId":"@ID@"}`)},
		{liveRefund, "refundRequestId", []byte(`{"refundRequestId":"@ID@","paymentId":"P1","refundAmount":{"currency":"SGD","value":"100"}}`)},
		{liveRefund, "paymentId", []byte(`{"refundRequestId":"F1","paymentId":"@ID@","refundAmount":{"currency":"SGD","value":"100"}}`)},
		{liveRefund, "referenceRefundId", []byte(`{"refundRequestId":"F1","paymentId":"P1","refundAmount":{"currency":"SGD","value":"100"},"referenceRefundId":"@ID@"}`)},
		{liveInquiryRefund, "refundId", []byte(`{"refundId":"@ID@"}`)},
		{liveInquiryRefund, "refundRequestId", []byte(`{"refundRequestId":"@ID@"}`)},
	}
	before := s.counts(t)
	for _, a := range apis {
		for _, bad := range badIDLiterals {
			if bad.name == "65 characters" && a.field == "paymentMethod.paymentMethodId" {
				bad.literal, bad.says = `"`+strings.Repeat("t", 129)+`"`, "at most 128" // a card token may be longer
			}
			t.Run(strings.TrimPrefix(a.path, "/ams/api/v1/payments/")+"/"+a.field+"/"+bad.name, func(t *testing.T) {
				body := bytes.Replace(a.body, []byte(placeholder), []byte(bad.literal), 1)
				r := s.call(t, a.path, body)
				expectResult(t, r, "PARAM_ILLEGAL", "F")
				if !strings.HasPrefix(r.message(), a.field+" ") || !strings.Contains(r.message(), bad.says) {
					t.Errorf("resultMessage %q, want it to name %s and say %q", r.message(), a.field, bad.says)
				}
			})
		}
	}
	s.expectNothingStored(t, before)
}

// TestLoneSurrogatesAreDistinctFromEachOther: the attack's three paymentRequestIds no longer
// collapse into one idempotency key (R + U+FFFD): each is refused, while a real pair is an id.
func TestLoneSurrogatesAreDistinctFromEachOther(t *testing.T) {
	s := newStack(t)
	for _, lit := range []string{`"R\ud800"`, `"R\udbff"`, `"R\udfff"`} {
		body := bytes.Replace(mustJSON(t, payRequest(t, "@ID@")), []byte(`"@ID@"`), []byte(lit), 1)
		expectResult(t, s.call(t, livePay, body), "PARAM_ILLEGAL", "F")
	}
	body := bytes.Replace(mustJSON(t, payRequest(t, "@ID@")), []byte(`"@ID@"`), []byte(`"R\ud83d\ude00"`), 1)
	r := s.call(t, livePay, body)
	expectResult(t, r, "SUCCESS", "S")
	if got := str(r.body, "paymentRequestId"); got != "R\U0001F600" {
		t.Errorf("paymentRequestId %q, want R😀", got)
	}
	expectResult(t, s.inquire(t, map[string]any{"paymentRequestId": "R\U0001F600"}), "SUCCESS", "S")
	expectResult(t, s.inquire(t, map[string]any{"paymentRequestId": "R\ufffd"}), "ORDER_NOT_EXIST", "F")
}
