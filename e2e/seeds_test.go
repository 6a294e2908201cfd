package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

func loadFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// set replaces the value at a dotted path of a decoded JSON object.
func set(t *testing.T, m map[string]any, path string, v any) {
	t.Helper()
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			t.Fatalf("fixture has no object at %s", p)
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// seedRequest loads a seed pay request with its masked values replaced by test data and a fresh
// paymentRequestId, and returns its JSON as the seed page prints it (numbers stay numbers).
func seedRequest(t *testing.T, name string) []byte {
	t.Helper()
	m := loadFixture(t, name)
	set(t, m, "paymentRequestId", newRequestID(strings.TrimSuffix(name, ".json")))
	switch name {
	case "003-24-pay-request.json":
		meta := "paymentMethod.paymentMethodMetaData."
		set(t, m, meta+"cardNo", "4242424242424242")
		set(t, m, meta+"cvv", "123")
		set(t, m, meta+"expiryMonth", "12")
		set(t, m, meta+"expiryYear", "2030")
		set(t, m, meta+"cardholderName.firstName", "Ken")
		set(t, m, meta+"billingAddress.address1", "1 Main Street")
		set(t, m, "order.buyer.buyerEmail", "ken@example.com")
		set(t, m, "order.buyer.buyerName.firstName", "Ken")
		set(t, m, "env.clientIp", "172.16.0.1")
	case "002-23-pay-request.json":
		// Its paymentExpiryTime (2024-01-01) is past and would be refused; see hpSeedExpiry.
		set(t, m, "paymentExpiryTime", hpSeedExpiry(t, m, 30*time.Minute))
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestSeedRequests sends Antom's own sample requests: the card ones authorize, the wallet one is
// refused naming the payment method.
func TestSeedRequests(t *testing.T) {
	g := startGateway(t)
	for _, tc := range []struct {
		fixture string
		code    protocol.Code
		message string
		state   string
	}{
		{"001-06-pay-request.json", protocol.CodeSuccess, "", "SUCCESS"},
		{"003-24-pay-request.json", protocol.CodeSuccess, "", "SUCCESS"},
		{"004-34-pay-request.json", protocol.CodeSuccess, "", "SUCCESS"},
		// Hosted pays (no card data): U until the buyer enters the card on normalUrl (hosted_test.go).
		{"001-07-pay-request.json", protocol.CodePaymentInProcess, "", "PROCESSING"},
		{"002-11-pay-request.json", protocol.CodePaymentInProcess, "", "PROCESSING"},
		{"002-23-pay-request.json", protocol.CodePaymentInProcess, "", "PROCESSING"},
		{"004-50-pay-request.json", protocol.CodeParamIllegal, "paymentMethod.paymentMethodType", ""},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			var resp protocol.PayResponse
			if err := json.Unmarshal(g.post(protocol.PathPay, seedRequest(t, tc.fixture)), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Result.ResultCode != string(tc.code) || !strings.Contains(resp.Result.ResultMessage, tc.message) {
				t.Fatalf("result %+v, want %s naming %q", resp.Result, tc.code, tc.message)
			}
			if tc.state == "" {
				if resp.PaymentID != "" {
					t.Errorf("refused pay returned paymentId %s", resp.PaymentID)
				}
				return
			}
			inq := g.inquire(resp.PaymentID)
			if inq.PaymentStatus != tc.state || inq.PaymentRequestID == "" {
				t.Errorf("inquiry status %s, want %s", inq.PaymentStatus, tc.state)
			}
		})
	}
	if n := g.count(`SELECT count(*) FROM payments`); n != 6 {
		t.Errorf("payments stored: %d, want 6 (the refused wallet pay stores nothing)", n)
	}
}

// shapes lists every JSON path of v with its JSON type; array elements share the path "a[]".
func shapes(v any, path string, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		if path != "" {
			out[path] = "object"
		}
		for k, val := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			shapes(val, p, out)
		}
	case []any:
		out[path] = "array"
		for _, val := range x {
			shapes(val, path+"[]", out)
		}
	case string:
		out[path] = "string"
	case float64:
		out[path] = "number"
	case bool:
		out[path] = "bool"
	case nil:
		out[path] = "null"
	}
}

// threeDS lists the 3-D Secure paths of the seed samples: cardgate shows them once 3DS exists
// (the 3DS issue), not for payments made without it.
var threeDS = map[string]string{
	"paymentResultInfo.threeDSResult.threeDSVersion":  "3DS fields come with 3-D Secure",
	"paymentResultInfo.threeDSResult.caav":            "3DS field (and a misspelling of cavv in Antom's page)",
	"paymentResultInfo.threeDSResult.dsTransactionId": "3DS fields come with 3-D Secure",
	"paymentResultInfo.threeDSResult.xid":             "3DS fields come with 3-D Secure",
	"paymentResultInfo.threeDSResult.threeDSType":     "3DS fields come with 3-D Secure",
}

// redirect lists the paths of a 3DS or hosted-page redirect; cardgate's in-process answer for
// the timeout card has no page to send the buyer to.
var redirect = map[string]string{
	"normalUrl":                      "a redirect page exists only for 3DS and the hosted page",
	"paymentActionForm":              "a redirect page exists only for 3DS and the hosted page",
	"redirectActionForm":             "a redirect page exists only for 3DS and the hosted page",
	"redirectActionForm.method":      "a redirect page exists only for 3DS and the hosted page",
	"redirectActionForm.redirectUrl": "a redirect page exists only for 3DS and the hosted page",
	"authExpiryTime":                 "cardgate states a capture deadline once the payment is authorized",
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestFixtureShapes walks every seed response and notification of the flows this version
// covers: each JSON path of the sample, with its type, must be in cardgate's matching answer.
func TestFixtureShapes(t *testing.T) {
	g := startGateway(t)
	approved := g.pay(payRequest("4054695723100768", "712"))
	declined := g.pay(payRequest("4000000000000002", "712"))
	pending := g.pay(payRequest("4000000000000119", "712"))
	if approved.Result.ResultStatus != "S" || declined.Result.ResultStatus != "F" || pending.Result.ResultStatus != "U" {
		t.Fatalf("set-up results: %v %v %v", approved.Result, declined.Result, pending.Result)
	}
	answers := map[string]any{
		"pay-S":     approved,
		"pay-F":     declined,
		"pay-U":     pending,
		"inquiry-S": g.inquire(approved.PaymentID),
	}
	var body string
	if err := g.db().QueryRow(`SELECT body FROM outbox WHERE payment_id = ?`, approved.PaymentID).Scan(&body); err != nil {
		t.Fatalf("outbox row of the approved payment: %v", err)
	}
	answers["notify-S"] = json.RawMessage(body)

	for _, tc := range []struct {
		fixture, answer string
		except          map[string]string
	}{
		{"001-08-pay-response-S.json", "pay-S", nil},
		{"003-25-pay-response-S.json", "pay-S", nil},
		{"004-35-pay-response-S.json", "pay-S", nil},
		{"003-26-pay-response-F.json", "pay-F", nil},
		{"004-36-pay-response-F.json", "pay-F", nil},
		{"000-02-pay-response-U.json", "pay-U", merge(redirect, threeDS)},
		{"003-27-pay-response-U.json", "pay-U", redirect},
		{"004-37-pay-response-U.json", "pay-U", redirect},
		{"000-05-inquiry-response.json", "inquiry-S", nil},
		{"002-16-inquiry-response.json", "inquiry-S", nil},
		{"003-33-inquiry-response.json", "inquiry-S", threeDS},
		{"004-40-inquiry-response.json", "inquiry-S", threeDS},
		{"004-41-inquiry-response.json", "inquiry-S", nil},
		{"000-03-notify-payment-result.json", "notify-S", nil},
		{"001-09-notify-payment-result.json", "notify-S", threeDS},
		{"001-10-notify-payment-result.json", "notify-S", nil},
		{"002-13-notify-payment-result.json", "notify-S", threeDS},
		{"002-14-notify-payment-result.json", "notify-S", nil},
		{"004-38-notify-payment-result.json", "notify-S", threeDS},
		{"004-39-notify-payment-result.json", "notify-S", nil},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			want := map[string]string{}
			shapes(loadFixture(t, tc.fixture), "", want)
			raw, err := json.Marshal(answers[tc.answer])
			if err != nil {
				t.Fatal(err)
			}
			var gotV any
			if err := json.Unmarshal(raw, &gotV); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			shapes(gotV, "", got)
			var missing []string
			for path, typ := range want {
				if _, excepted := tc.except[path]; excepted {
					continue
				}
				if got[path] != typ {
					missing = append(missing, path+" ("+typ+", cardgate has "+orNone(got[path])+")")
				}
			}
			sort.Strings(missing)
			if len(missing) > 0 {
				t.Errorf("cardgate's %s lacks seed paths:\n  %s\nanswer: %s", tc.answer, strings.Join(missing, "\n  "), raw)
			}
		})
	}
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
