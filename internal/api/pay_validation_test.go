package api_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestPayRequiredPaths drops each required pay field (docs/design.md "Required pay fields") from an
// otherwise valid request: PARAM_ILLEGAL naming the field, and nothing stored or notified.
func TestPayRequiredPaths(t *testing.T) {
	s := newStack(t)
	const meta = "paymentMethod.paymentMethodMetaData."
	cases := []struct {
		path string   // the path the message must name
		drop []string // what is removed; path itself when empty
	}{
		{path: "productCode"},
		{path: "paymentRequestId"},
		{path: "paymentAmount"},
		{path: "paymentAmount.currency"},
		{path: "paymentAmount.value"},
		{path: "paymentMethod"},
		{path: "paymentMethod.paymentMethodType"},
		{path: "paymentRedirectUrl"},
		{path: "paymentFactor"},
		{path: "paymentFactor.isAuthorization"},
		{path: "order"},
		{path: "order.referenceOrderId"},
		{path: "order.orderDescription"},
		{path: "order.buyer"},
		// env may come at the top level or inside order: a field is missing only when both lack it.
		{path: "env", drop: []string{"env", "order.env"}},
		{path: "env.terminalType", drop: []string{"env.terminalType", "order.env.terminalType"}},
		{path: "env.clientIp", drop: []string{"env.clientIp", "order.env.clientIp"}},
		{path: meta + "cardNo"},
		{path: meta + "expiryYear"},
		{path: meta + "expiryMonth"},
		{path: meta + "cardholderName"},
	}
	for i, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			req := payRequest(t, fmt.Sprintf("required-%02d", i))
			drop := tc.drop
			if drop == nil {
				drop = []string{tc.path}
			}
			for _, p := range drop {
				if getPath(req, p) == nil {
					t.Fatalf("test bug: %s is not in the base request", p)
				}
				deletePath(req, p)
			}
			before := s.counts(t)
			r := s.pay(t, req)
			expectResult(t, r, "PARAM_ILLEGAL", "F")
			if !strings.Contains(r.message(), tc.path) {
				t.Errorf("resultMessage %q does not name %s", r.message(), tc.path)
			}
			s.expectNothingStored(t, before)
		})
	}

	// The same request with everything in place is accepted: the cases above fail for the field
	// they drop, not for something else in the base request.
	r := s.pay(t, payRequest(t, "required-control"))
	expectResult(t, r, "SUCCESS", "S")
}

// TestPayEnvInEitherPlace: env is accepted at the top level or only inside order (docs/wire.md §4.1).
func TestPayEnvInEitherPlace(t *testing.T) {
	s := newStack(t)
	for _, drop := range []string{"env", "order.env"} {
		req := payRequest(t, "env-"+drop)
		deletePath(req, drop)
		expectResult(t, s.pay(t, req), "SUCCESS", "S")
	}
}

// TestPayIllegalValues: values that are present but wrong get the code that fits, name the field,
// and store nothing.
func TestPayIllegalValues(t *testing.T) {
	s := newStack(t)
	const meta = "paymentMethod.paymentMethodMetaData."
	type edit func(m map[string]any)
	set := func(path string, v any) edit { return func(m map[string]any) { setPath(m, path, v) } }
	cases := []struct {
		name  string
		edit  edit
		code  string
		inMsg string
	}{
		{"unknown currency", set("paymentAmount.currency", "ABC"), "CURRENCY_NOT_SUPPORT", "paymentAmount.currency"},
		{"test currency XTS", set("paymentAmount.currency", "XTS"), "CURRENCY_NOT_SUPPORT", "paymentAmount.currency"},
		{"lowercase currency", set("paymentAmount.currency", "sgd"), "CURRENCY_NOT_SUPPORT", "paymentAmount.currency"},
		{"decimal amount 42.00", set("paymentAmount.value", "42.00"), "PARAM_ILLEGAL", "paymentAmount.value"},
		{"negative amount", set("paymentAmount.value", "-1"), "PARAM_ILLEGAL", "paymentAmount.value"},
		{"zero amount", set("paymentAmount.value", "0"), "PARAM_ILLEGAL", "paymentAmount.value"},
		{"amount with leading zero", set("paymentAmount.value", "04200"), "PARAM_ILLEGAL", "paymentAmount.value"},
		{"Luhn failure", set(meta+"cardNo", "4054695723100769"), "INVALID_CARD_NUMBER", "cardNo"},
		{"card number with spaces", set(meta+"cardNo", "4054 6957 2310 0768"), "INVALID_CARD_NUMBER", "cardNo"},
		{"past expiry", func(m map[string]any) {
			setPath(m, meta+"expiryYear", "20")
			setPath(m, meta+"expiryMonth", "01")
		}, "INVALID_EXPIRATION_DATE", "expir"},
		{"month 13", set(meta+"expiryMonth", "13"), "INVALID_EXPIRATION_DATE", meta + "expiryMonth"},
		{"non-CARD payment method", set("paymentMethod.paymentMethodType", "ALIPAY_CN"), "PARAM_ILLEGAL", "paymentMethod.paymentMethodType"},
		{"terminalType TV", func(m map[string]any) {
			setPath(m, "env.terminalType", "TV")
			setPath(m, "order.env.terminalType", "TV")
		}, "PARAM_ILLEGAL", "env.terminalType"},
		{"WAP without osType", func(m map[string]any) {
			setPath(m, "env.terminalType", "WAP")
			setPath(m, "order.env.terminalType", "WAP")
		}, "PARAM_ILLEGAL", "env.osType"},
		{"paymentRequestId of 65 characters", set("paymentRequestId", strings.Repeat("r", 65)), "PARAM_ILLEGAL", "paymentRequestId"},
		{"captureMode LATER", set("paymentFactor.captureMode", "LATER"), "PARAM_ILLEGAL", "paymentFactor.captureMode"},
		{"isAuthorization false", set("paymentFactor.isAuthorization", false), "PARAM_ILLEGAL", "paymentFactor.isAuthorization"},
		{"productCode AGREEMENT_PAYMENT", set("productCode", "AGREEMENT_PAYMENT"), "PARAM_ILLEGAL", "productCode"},
		{"relative redirect URL", set("paymentRedirectUrl", "/back"), "PARAM_ILLEGAL", "paymentRedirectUrl"},
		{"notify URL not http", set("paymentNotifyUrl", "ftp://example.com/n"), "PARAM_ILLEGAL", "paymentNotifyUrl"},
		{"buyer without identifier", set("order.buyer", map[string]any{"buyerName": map[string]any{"firstName": "A"}}), "PARAM_ILLEGAL", "order.buyer"},
		{"amount as a JSON object", set("paymentAmount.value", map[string]any{"v": 1}), "PARAM_ILLEGAL", "paymentAmount.value"},
		{"amount of 18 nines (the attack)", set("paymentAmount.value", "999999999999999999"), "PARAM_ILLEGAL", "at most 16 digits"},
		{"paymentExpiryTime 9999-12-31 (the attack)", set("paymentExpiryTime", "9999-12-31T23:59:59+08:00"), "PARAM_ILLEGAL", "paymentExpiryTime must be at most 7 days"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := payRequest(t, fmt.Sprintf("illegal-%02d", i))
			tc.edit(req)
			before := s.counts(t)
			r := s.pay(t, req)
			expectResult(t, r, tc.code, "F")
			if !strings.Contains(r.message(), tc.inMsg) {
				t.Errorf("resultMessage %q does not mention %s", r.message(), tc.inMsg)
			}
			if strings.Contains(string(r.raw), "4054695723100") {
				t.Errorf("answer echoes the card number: %s", r.raw)
			}
			s.expectNothingStored(t, before)
			// A refused pay leaves no trace an inquiry could find (docs/design.md test cards).
			// An id that pay refuses is refused by inquiry the same way.
			if id, ok := req["paymentRequestId"].(string); ok {
				want := "ORDER_NOT_EXIST"
				if len(id) > 64 {
					want = "PARAM_ILLEGAL"
				}
				expectResult(t, s.inquire(t, map[string]any{"paymentRequestId": id}), want, "F")
			}
		})
	}
}

// TestPayLenientScalars: SDKs serialise differently (docs/wire.md §1.4): .NET sends null for every
// unset field, some samples send numbers and "true" strings. Such a request is still a valid pay.
func TestPayLenientScalars(t *testing.T) {
	s := newStack(t)
	req := payRequest(t, "lenient-1")
	setPath(req, "paymentFactor.isAuthorization", "true")
	setPath(req, "paymentMethod.paymentMethodMetaData.expiryMonth", 6)
	setPath(req, "paymentMethod.paymentMethodMetaData.expiryYear", 99)
	setPath(req, "paymentMethod.paymentMethodId", nil)
	setPath(req, "settlementStrategy", nil)
	setPath(req, "env.colorDepth", 24)
	setPath(req, "env.osType", "IOS") // .NET always sends its enum's first member
	expectResult(t, s.pay(t, req), "SUCCESS", "S")
}
