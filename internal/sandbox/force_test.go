package sandbox_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/sandbox"
	"github.com/cardgate/cardgate/protocol"
)

func TestParseForce(t *testing.T) {
	tests := []struct {
		op, code string
		count    int
		want     string // an error fragment, or "" for success
	}{
		{"pay", "DO_NOT_HONOR", 3, ""},
		{"pay", "AUTHENTICATION_REQUIRED", 1, ""},
		{"capture", "PROCESS_FAIL", 1, ""},
		{"refund", "RISK_REJECT", 1000, ""},
		{"pay", "", 0, ""}, // clear
		{"", "DO_NOT_HONOR", 1, "operation is required"},
		{"void", "PROCESS_FAIL", 1, `operation "void" is not one of`},
		{"pay", "", 1, "resultCode is required, one of DO_NOT_HONOR"},
		{"pay", "SUCCESS", 1, `resultCode "SUCCESS" cannot be forced on pay`},
		{"capture", "DO_NOT_HONOR", 1, `cannot be forced on capture; use one of PROCESS_FAIL`},
		{"pay", "DO_NOT_HONOR", -1, "count must be 0 (clear) to 1000"},
		{"pay", "DO_NOT_HONOR", 1001, "count must be 0 (clear) to 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.op+"/"+tt.code, func(t *testing.T) {
			f, err := sandbox.ParseForce(tt.op, tt.code, tt.count)
			if tt.want == "" {
				if err != nil || string(f.Operation) != tt.op || string(f.Code) != tt.code || f.Remaining != tt.count {
					t.Fatalf("ParseForce = %+v, %v", f, err)
				}
				return
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeParamIllegal || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseForce error %v, want PARAM_ILLEGAL containing %q", err, tt.want)
			}
		})
	}
}

// forces is a Forces of fixed answers; err makes every read fail.
type forces struct {
	left map[sandbox.Operation][]protocol.Code
	err  error
}

func (f *forces) TakeForce(_ context.Context, merchantID string, op sandbox.Operation) (protocol.Code, bool, error) {
	if f.err != nil {
		return "", false, f.err
	}
	if merchantID != "M1" || len(f.left[op]) == 0 {
		return "", false, nil
	}
	c := f.left[op][0]
	f.left[op] = f.left[op][1:]
	return c, true, nil
}

// counting is an acquirer that approves everything and counts the calls that reach it.
type counting struct {
	acquirer.Acquirer
	calls int
}

func (c *counting) Name() string { return "ADYEN" }
func (c *counting) Authorize(context.Context, acquirer.AuthRequest) (acquirer.AuthResult, error) {
	c.calls++
	return acquirer.AuthResult{Outcome: acquirer.Approved, AcquirerName: "ADYEN"}, nil
}
func (c *counting) Capture(context.Context, acquirer.CaptureRequest) (acquirer.OpResult, error) {
	c.calls++
	return acquirer.OpResult{Status: acquirer.OpSucceeded}, nil
}
func (c *counting) Refund(context.Context, acquirer.RefundRequest) (acquirer.OpResult, error) {
	c.calls++
	return acquirer.OpResult{Status: acquirer.OpSucceeded}, nil
}

func TestWrapAnswersForcedResultsWithoutTheAcquirer(t *testing.T) {
	ctx := context.Background()
	inner := &counting{}
	f := &forces{left: map[sandbox.Operation][]protocol.Code{
		sandbox.Pay:     {protocol.CodeDoNotHonor},
		sandbox.Capture: {protocol.CodeProcessFail},
		sandbox.Refund:  {protocol.CodeRiskReject},
	}}
	a := sandbox.Wrap(inner, f, slog.New(slog.DiscardHandler))

	res, err := a.Authorize(ctx, acquirer.AuthRequest{MerchantID: "M1"})
	if err != nil || res.Outcome != acquirer.Declined || res.DeclineCode != protocol.CodeDoNotHonor || res.AcquirerName != "ADYEN" ||
		!strings.Contains(res.DeclineMsg, "forced") {
		t.Fatalf("forced pay: %+v %v", res, err)
	}
	if inner.calls != 0 {
		t.Fatal("a forced pay reached the acquirer")
	}
	if res, _ := a.Authorize(ctx, acquirer.AuthRequest{MerchantID: "M1"}); res.Outcome != acquirer.Approved || inner.calls != 1 {
		t.Fatalf("after the force was used: %+v, %d calls", res, inner.calls)
	}
	if res, _ := a.Authorize(ctx, acquirer.AuthRequest{MerchantID: "M2"}); res.Outcome != acquirer.Approved {
		t.Fatalf("another merchant: %+v", res)
	}
	if op, _ := a.Capture(ctx, acquirer.CaptureRequest{MerchantID: "M1"}); op.Status != acquirer.OpFailed || op.Code != protocol.CodeProcessFail {
		t.Fatalf("forced capture: %+v", op)
	}
	if op, _ := a.Refund(ctx, acquirer.RefundRequest{MerchantID: "M1"}); op.Status != acquirer.OpFailed || op.Code != protocol.CodeRiskReject {
		t.Fatalf("forced refund: %+v", op)
	}
	if inner.calls != 2 {
		t.Fatalf("%d calls reached the acquirer, want 2 (the unforced pays)", inner.calls)
	}

	// A store that cannot be read leaves the acquirer to answer.
	broken := sandbox.Wrap(inner, &forces{err: errors.New("database is locked")}, slog.New(slog.DiscardHandler))
	if res, err := broken.Authorize(ctx, acquirer.AuthRequest{MerchantID: "M1"}); err != nil || res.Outcome != acquirer.Approved {
		t.Fatalf("with the store failing: %+v %v", res, err)
	}
}
