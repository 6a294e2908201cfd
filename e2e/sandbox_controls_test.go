package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// TestForcedResultsOverBinary: /sandbox/v1/force makes the next N calls of an operation answer
// the chosen code with any card, each forced answer used once, the answer and the inquiry naming
// it like any acquirer answer; bad requests are refused naming the field.
func TestForcedResultsOverBinary(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	count := func(n int) *int { return &n }
	force := func(req protocol.ForceRequest) *protocol.ForceResponse {
		t.Helper()
		resp, err := f.client.Force(ctx, &req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	if r := force(protocol.ForceRequest{Operation: "pay", ResultCode: "DO_NOT_HONOR", Count: count(2)}); r.Result.ResultStatus != "S" ||
		len(r.Forces) != 1 || r.Forces[0].Remaining != 2 {
		t.Fatalf("force: %+v", r)
	}
	for i := range 2 {
		p := f.payWith(f.payReq("4242424242424242", "MANUAL"), "F", "DO_NOT_HONOR")
		if !strings.Contains(p.Result.ResultMessage, "forced") {
			t.Errorf("forced pay %d: message %q", i, p.Result.ResultMessage)
		}
		if inq := f.inquire(p.PaymentID); inq.PaymentStatus != "FAIL" || inq.PaymentResultCode != "DO_NOT_HONOR" {
			t.Errorf("forced pay %d inquires as %s/%s", i, inq.PaymentStatus, inq.PaymentResultCode)
		}
	}
	paid := f.payWith(f.payReq("4242424242424242", "MANUAL"), "S", "SUCCESS") // the force is used up
	if r := force(protocol.ForceRequest{}); len(r.Forces) != 0 {
		t.Fatalf("forces after use: %+v", r.Forces)
	}

	force(protocol.ForceRequest{Operation: "capture", ResultCode: "PROCESS_FAIL"})
	if c := f.capture(paid.PaymentID, newRequestID("cap"), "4200"); c.Result.ResultCode != "PROCESS_FAIL" {
		t.Fatalf("forced capture: %+v", c.Result)
	}
	auto := f.payWith(f.payReq("4242424242424242", "AUTOMATIC"), "S", "SUCCESS")
	force(protocol.ForceRequest{Operation: "refund", ResultCode: "RISK_REJECT"})
	if r := f.refund(auto.PaymentID, newRequestID("ref"), "100"); r.Result.ResultCode != "RISK_REJECT" {
		t.Fatalf("forced refund: %+v", r.Result)
	}
	if r := f.refund(auto.PaymentID, newRequestID("ref"), "100"); r.Result.ResultStatus != "S" {
		t.Fatalf("refund after the force: %+v", r.Result)
	}

	for _, tt := range []struct {
		req  string
		want string
	}{
		{`{"operation":"void","resultCode":"PROCESS_FAIL"}`, `operation "void" is not one of pay, capture, refund`},
		{`{"operation":"pay","resultCode":"SUCCESS"}`, `resultCode "SUCCESS" cannot be forced on pay`},
		{`{"operation":"pay","resultCode":"DO_NOT_HONOR","count":-1}`, "count must be 0 (clear) to 1000"},
		{`{"operation":"pay","resultCode":"DO_NOT_HONOR","count":"two"}`, "count"},
	} {
		r, err := f.client.Do(ctx, protocol.PathSandboxForce, []byte(tt.req))
		if err != nil {
			t.Fatal(err)
		}
		var e protocol.ErrorResponse
		if err := json.Unmarshal(r.Body, &e); err != nil || e.Result.ResultCode != "PARAM_ILLEGAL" || !strings.Contains(e.Result.ResultMessage, tt.want) {
			t.Errorf("%s: answered %s, want PARAM_ILLEGAL naming %q", tt.req, r.Body, tt.want)
		}
	}
	if r := force(protocol.ForceRequest{}); len(r.Forces) != 0 {
		t.Fatalf("refused requests left forces: %+v", r.Forces)
	}
}

// TestSandboxResetOverBinary: a reset removes the merchant's payments and saved cards and puts
// the clock back on real time; the merchant's keys, notify URL and routing rules stay, so the
// next pay works at once. The CLI twins do the same.
func TestSandboxResetOverBinary(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	p := f.payWith(f.payReq("4242424242424242", "MANUAL"), "S", "SUCCESS")
	if _, err := f.client.AdvanceClock(ctx, "7d"); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--url", f.url, "--data", f.dir}
	out, errOut, code := runCLI(t, append([]string{"sandbox", "force", "--operation", "pay", "--code", "RISK_REJECT", "--count", "3"}, conn...)...)
	if code != 0 || !strings.Contains(out, `"remaining": 3`) {
		t.Fatalf("sandbox force: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, append([]string{"sandbox", "reset"}, conn...)...)
	if code != 0 {
		t.Fatalf("sandbox reset: exit %d\n%s%s", code, out, errOut)
	}
	var reset protocol.ResetResponse
	if err := json.Unmarshal([]byte(out), &reset); err != nil {
		t.Fatalf("reset printed %s: %v", out, err)
	}
	now, err := time.Parse(time.RFC3339, reset.Now)
	if err != nil || now.Sub(time.Now()).Abs() > 5*time.Second {
		t.Errorf("reset now %q, want real time (the 7 days undone)", reset.Now)
	}
	if reset.Deleted["payments"] != 1 || reset.Deleted["sandbox_forces"] != 1 {
		t.Errorf("deleted %v, want the payment and the force", reset.Deleted)
	}
	if inq := f.inquire(p.PaymentID); inq.Result.ResultCode != "ORDER_NOT_EXIST" {
		t.Errorf("the reset payment inquires as %+v", inq.Result)
	}
	// The same request id is free again, and no force is left.
	again := f.payReq("4242424242424242", "MANUAL")
	again.PaymentRequestID = p.PaymentRequestID
	f.payWith(again, "S", "SUCCESS")

	_, errOut, code = runCLI(t, append([]string{"sandbox", "force", "--operation", "void", "--code", "X"}, conn...)...)
	if code != 1 {
		t.Errorf("a refused force: exit %d, want 1 (%s)", code, errOut)
	}
	if _, errOut, code = runCLI(t, "sandbox", "rewind"); code == 0 || !strings.Contains(errOut, `unknown sandbox command "rewind"`) {
		t.Errorf("unknown subcommand: exit %d, %s", code, errOut)
	}
}

// TestSandboxControlsNotInProduction: force and reset do not exist in production (signed 404).
func TestSandboxControlsNotInProduction(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "--mode", "production")
	for _, path := range []string{protocol.PathSandboxForce, protocol.PathSandboxReset} {
		r, err := f.client.Do(context.Background(), path, []byte(`{}`))
		if err != nil {
			t.Fatalf("%s: the 404 must be signed and verifiable: %v", path, err)
		}
		if r.StatusCode != 404 {
			t.Errorf("%s: HTTP %d, want 404: %s", path, r.StatusCode, r.Body)
		}
	}
}
