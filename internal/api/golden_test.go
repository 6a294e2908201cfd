package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite internal/api/testdata/*.golden from the current answers")

// volatile are the fields whose values change from run to run. Each is checked for its shape and
// then replaced by "<name>", so the golden files keep the key set and the types.
var volatile = map[string]*regexp.Regexp{
	"paymentId":             regexp.MustCompile(`^[0-9]{35}$`),
	"referenceRequestId":    regexp.MustCompile(`^[0-9]{35}$`), // the paymentId, as Antom's orchestration samples show
	"paymentCreateTime":     nil,                               // times: RFC 3339, checked below
	"paymentTime":           nil,
	"authExpiryTime":        nil,
	"transactionTime":       nil,
	"networkTransactionId":  regexp.MustCompile(`^[0-9]{15}$`),
	"acquirerTransactionId": simReference,
	"acquirerReferenceNo":   simReference,
	"authorizationCode":     regexp.MustCompile(`^[0-9]{6}$`),
	"fingerprint":           regexp.MustCompile(`^[0-9a-f]{64}$`),
	"transactionId":         regexp.MustCompile(`^[0-9]{35}$`),
	"captureId":             regexp.MustCompile(`^[0-9]{35}$`),
	"refundId":              regexp.MustCompile(`^[0-9]{35}$`),
	"captureTime":           nil,
	"refundTime":            nil,
	"cancelTime":            nil,
	"now":                   nil, // the sandbox clock
	"updatedAt":             nil, // routing rules
	// Disputes.
	"disputeId":             regexp.MustCompile(`^dsp_[A-Za-z0-9_-]{16}$`),
	"disputeTime":           nil,
	"defenseDueTime":        nil,
	"defenseTime":           nil,
	"resolvedTime":          nil,
	"disputeResolutionTime": nil,
	// The template names its dispute, so it differs with every dispute id: a Word document, in base64.
	"disputeEvidence": regexp.MustCompile(`^UEsDB[A-Za-z0-9+/=]+$|^JVBERi0xLjQgYSBkZWZlbnNl$`),
}

// simReference is the simulator's stateless reference, "sim<kind>_<scenario>_<ready unix ms>_<16
// digits>": an authorization's, or on a capture, a refund or a transaction, the capture's or refund's.
// simReference is an id of one of the sandbox's simulated acquirers, in its shape: ALIPAY's 35
// digits, ADYEN's pspReference, CHECKOUT's pay_/act_ ids, or the single simulator's of before.
var simReference = regexp.MustCompile(`^(sim(auth|cap|ref)_(ok|cf|cd|to|na)_[0-9]+_[0-9]{16}|20[0-9]{33}|[A-Z2-7]{16}|(pay|act)_[a-z2-7]{26})$`)

// normalise replaces volatile values by placeholders, after checking each has the expected shape.
func normalise(t testing.TB, v any) any {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			re, isVolatile := volatile[k]
			s, isString := val.(string)
			if !isVolatile || !isString || s == "" {
				out[k] = normalise(t, val)
				continue
			}
			if timeKeys[k] {
				if _, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasPrefix(s[19:], "+") && !strings.HasPrefix(s[19:], "-") {
					t.Errorf("%s = %q: want ISO 8601 with a numeric offset, seconds precision", k, s)
				}
			} else if re != nil && !re.MatchString(s) {
				t.Errorf("%s = %q does not match %s", k, s, re)
			}
			out[k] = "<" + k + ">"
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = normalise(t, val)
		}
		return out
	}
	return v
}

// canonical renders a body as the golden files hold it: normalised, sorted keys, indented, no HTML
// escaping (so placeholders read "<paymentId>").
func canonical(t testing.TB, body map[string]any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(normalise(t, body)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func checkGolden(t *testing.T, name string, r response) {
	t.Helper()
	got := canonical(t, r.body)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/api -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (rerun with -update if the change is intended)\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// TestGolden pins the wire shape of pay and inquiryPayment answers for each kind of outcome, and of
// an error answer.
func TestGolden(t *testing.T) {
	s := newStack(t)
	const meta = "paymentMethod.paymentMethodMetaData."
	for _, tc := range []struct {
		name, card, code string
	}{
		{"approved", approvedCard, "SUCCESS"},
		{"declined", declinedCard, "DO_NOT_HONOR"},
		{"in-process", timeoutCard, "PAYMENT_IN_PROCESS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := payRequest(t, "golden-"+tc.name)
			setPath(req, meta+"cardNo", tc.card)
			pay := s.pay(t, req)
			expectResult(t, pay, tc.code, codeStatus(tc.code))
			checkGolden(t, "pay-"+tc.name, pay)

			inq := s.inquire(t, map[string]any{"paymentRequestId": "golden-" + tc.name})
			expectResult(t, inq, "SUCCESS", "S")
			if got := str(inq.body, "paymentResultCode"); got != tc.code {
				t.Errorf("inquiry paymentResultCode %q, want the pay's %q", got, tc.code)
			}
			if str(inq.body, "paymentId") != str(pay.body, "paymentId") {
				t.Errorf("inquiry is about %q, pay answered %q", str(inq.body, "paymentId"), str(pay.body, "paymentId"))
			}
			checkGolden(t, "inquiry-"+tc.name, inq)
		})
	}

	t.Run("errors", func(t *testing.T) {
		req := payRequest(t, "golden-param-illegal")
		deletePath(req, "order.buyer")
		r := s.pay(t, req)
		expectResult(t, r, "PARAM_ILLEGAL", "F")
		checkGolden(t, "error-param-illegal", r)

		body := mustJSON(t, payRequest(t, "golden-bad-signature"))
		h := signedWith(t, otherKey(t), "1", livePay, s.merchant.ClientID, nowMS(), body)
		r = s.send(t, http.MethodPost, livePay, h, body)
		expectResult(t, r, "INVALID_SIGNATURE", "F")
		checkGolden(t, "error-invalid-signature", r)

		r = s.inquire(t, map[string]any{"paymentRequestId": "golden-none"})
		expectResult(t, r, "ORDER_NOT_EXIST", "F")
		checkGolden(t, "error-order-not-exist", r)
	})
}
