package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/protocol"
)

// runCLI runs the cardgate binary and returns its output and exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("cardgate %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// TestCLIAfterAuthorization: the client commands against a running gateway, with the sandbox
// merchant read from --data; exit 0 on S, 1 on F, 3 on U.
func TestCLIAfterAuthorization(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	conn := []string{"--url", f.url, "--data", f.dir}
	call := func(wantCode int, args ...string) map[string]any {
		t.Helper()
		out, errOut, code := runCLI(t, append(args, conn...)...)
		if code != wantCode {
			t.Fatalf("cardgate %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("cardgate %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
		return m
	}
	f.card("4242424242424242", "123") // the CLI's defaults
	pay := call(0, "pay", "--capture-mode", "MANUAL")
	paymentID, _ := pay["paymentId"].(string)
	if paymentID == "" {
		t.Fatalf("pay printed no paymentId: %v", pay)
	}
	f.status(paymentID, "SUCCESS")

	capture := call(0, "capture", "--payment-id", paymentID, "--amount", "4200", "--currency", "SGD")
	if id, _ := capture["captureId"].(string); id == "" {
		t.Errorf("capture printed no captureId: %v", capture)
	}
	out, _, code := runCLI(t, append([]string{"refund", "--payment-id", paymentID, "--amount", "99999"}, conn...)...)
	if code != 1 || !strings.Contains(out, "REFUND_AMOUNT_EXCEED") {
		t.Errorf("refund above the capture: exit %d, output %s", code, out)
	}
	refund := call(0, "refund", "--payment-id", paymentID, "--amount", "100", "--currency", "SGD", "--request-id", "cli-refund-1")
	refundID, _ := refund["refundId"].(string)
	q := call(0, "inquire", "--refund-request-id", "cli-refund-1")
	if q["refundId"] != refundID || q["refundStatus"] != "SUCCESS" {
		t.Errorf("inquire --refund-request-id: %v", q)
	}
	inq := call(0, "inquire", "--payment-id", paymentID)
	if txns, _ := inq["transactions"].([]any); len(txns) != 2 {
		t.Errorf("inquire --payment-id: transactions %v, want the capture and the refund", inq["transactions"])
	}

	before := f.advance("0s")
	adv := call(0, "clock", "advance", "--by", "1m")
	if now, _ := adv["now"].(string); now == "" || parseWireTime(t, now).Sub(before) < 59e9 {
		t.Errorf("clock advance --by 1m: %v (clock was %s)", adv, before)
	}

	f.card("4000000000000044", "123")
	pending := call(3, "pay", "--card", "4000000000000044")
	pendingID, _ := pending["paymentId"].(string)
	if pendingID == "" {
		t.Fatalf("pay U printed no paymentId: %v", pending)
	}
	call(0, "cancel", "--payment-id", pendingID)
	f.status(pendingID, "CANCELLED")
	call(1, "capture", "--payment-id", pendingID, "--amount", "4200")
}

// TestAfterAuthFixtureShapes extends TestFixtureShapes to the samples of what follows the
// authorization: every JSON path of the seed's transactions[] samples must be in cardgate's
// inquiry of a captured payment, of a failed capture and of a capture in process; every path of
// the capture notifications must be in cardgate's CAPTURE_RESULT outbox bodies.
func TestAfterAuthFixtureShapes(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	captured := f.approvedManual("4054695723100768")
	wantResult(t, "capture", f.capture(captured.PaymentID, newRequestID("cap"), "4200").Result, "S", "SUCCESS")
	failed := f.approvedManual("4000000000000036")
	wantResult(t, "capture", f.capture(failed.PaymentID, newRequestID("cap"), "4200").Result, "F", "PROCESS_FAIL")
	processing := f.approvedManual("4000000000000028")
	wantResult(t, "capture", f.capture(processing.PaymentID, newRequestID("cap"), "4200").Result, "U", "CAPTURE_IN_PROCESS")

	notice := func(paymentID string) json.RawMessage {
		rows := ofType(f.outbox(paymentID), protocol.NotifyTypeCaptureResult)
		if len(rows) != 1 {
			t.Fatalf("CAPTURE_RESULT rows of %s: %d", paymentID, len(rows))
		}
		return json.RawMessage(rows[0].body)
	}
	answers := map[string]any{
		"inquiry-captured":   f.inquire(captured.PaymentID),
		"inquiry-cap-failed": f.inquire(failed.PaymentID),
		"inquiry-capturing":  f.inquire(processing.PaymentID),
		"notify-capture-S":   notice(captured.PaymentID),
		"notify-capture-F":   notice(failed.PaymentID),
	}
	// 003-32 is a 3-D Secure payment through Checkout.com: its threeDSResult has the fields of an
	// authentication this payment (made without 3DS) did not have.
	threeDS32 := map[string]string{
		"paymentResultInfo.threeDSResult.threeDSVersion": "3DS fields come with 3-D Secure",
		"paymentResultInfo.threeDSResult.xid":            "3DS fields come with 3-D Secure",
		"paymentResultInfo.threeDSResult.threeDSType":    "3DS fields come with 3-D Secure",
	}
	for _, tc := range []struct {
		fixture, answer string
		except          map[string]string
	}{
		{"002-20-inquiry-response-transactions.json", "inquiry-captured", nil},
		{"004-47-inquiry-response-transactions.json", "inquiry-captured", nil},
		{"003-32-inquiry-response-transactions.json", "inquiry-captured", threeDS32},
		{"002-21-inquiry-response-transactions.json", "inquiry-cap-failed", nil},
		{"004-48-inquiry-response-transactions.json", "inquiry-cap-failed", nil},
		{"002-22-inquiry-response-transactions.json", "inquiry-capturing", nil},
		{"004-49-inquiry-response-transactions.json", "inquiry-capturing", nil},
		{"002-18-notify-capture-result.json", "notify-capture-S", nil},
		{"002-19-notify-capture-result.json", "notify-capture-F", nil},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			checkShape(t, tc.fixture, answers[tc.answer], tc.except)
		})
	}
}

// checkShape asserts that every JSON path of the fixture, with its type, is in the answer.
func checkShape(t *testing.T, fixture string, answer any, except map[string]string) {
	t.Helper()
	want := map[string]string{}
	shapes(loadFixture(t, fixture), "", want)
	raw, err := json.Marshal(answer)
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
		if _, excepted := except[path]; excepted {
			continue
		}
		if got[path] != typ {
			missing = append(missing, path+" ("+typ+", cardgate has "+orNone(got[path])+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("cardgate's answer lacks seed paths:\n  %s\nanswer: %s", strings.Join(missing, "\n  "), raw)
	}
}
