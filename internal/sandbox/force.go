// Package sandbox holds the sandbox's test controls that act on the acquirers: forced results,
// which make the next calls of an operation answer a chosen acquirer result code whatever the card
// (a merchant's CI drives its error paths with them, as Antom's dashboard "error scenario"
// simulator does by hand). The controls are stored (Forces), so every instance on a store honours
// them and each forced answer is used exactly once.
package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/protocol"
)

// Operation is an acquirer call a result can be forced on.
type Operation string

const (
	Pay     Operation = "pay"
	Capture Operation = "capture"
	Refund  Operation = "refund"
)

// MaxCount bounds one force: a script that wants more sets it again.
const MaxCount = 1000

// codes are the result codes each operation can be forced to answer: what an acquirer can
// answer there, so the gateway handles a forced answer exactly as a real one.
var codes = map[Operation][]protocol.Code{
	Pay: {protocol.CodeDoNotHonor, protocol.CodeUserBalanceNotEnough, protocol.CodeCardExpired, protocol.CodeInvalidCVV,
		protocol.CodeSuspectedCard, protocol.CodeRiskReject, protocol.CodeAuthenticationRequired, protocol.CodeProcessFail},
	Capture: {protocol.CodeProcessFail, protocol.CodeAuthExpired, protocol.CodeRiskReject},
	Refund:  {protocol.CodeProcessFail, protocol.CodeRiskReject},
}

// Codes returns the codes op can be forced to answer (for help texts and errors).
func Codes(op Operation) []protocol.Code { return slices.Clone(codes[op]) }

// Force is a stored forced result: the next Remaining calls of Operation by the merchant answer Code.
type Force struct {
	Operation Operation
	Code      protocol.Code
	Remaining int
}

// ParseForce checks a force request, naming the field at fault. count 0 clears the operation's
// force.
func ParseForce(op, code string, count int) (Force, error) {
	o := Operation(op)
	allowed, ok := codes[o]
	switch {
	case op == "":
		return Force{}, protocol.Errorf(protocol.CodeParamIllegal, "operation is required: pay, capture or refund")
	case !ok:
		return Force{}, protocol.Errorf(protocol.CodeParamIllegal, "operation %q is not one of pay, capture, refund", op)
	case count < 0 || count > MaxCount:
		return Force{}, protocol.Errorf(protocol.CodeParamIllegal, "count must be 0 (clear) to %d, not %d", MaxCount, count)
	case count == 0 && code == "":
		return Force{Operation: o}, nil
	case code == "":
		return Force{}, protocol.Errorf(protocol.CodeParamIllegal, "resultCode is required, one of %s", join(allowed))
	case !slices.Contains(allowed, protocol.Code(code)):
		return Force{}, protocol.Errorf(protocol.CodeParamIllegal, "resultCode %q cannot be forced on %s; use one of %s", code, op, join(allowed))
	}
	return Force{Operation: o, Code: protocol.Code(code), Remaining: count}, nil
}

func join(cs []protocol.Code) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// Forces is where forced results are kept.
type Forces interface {
	// TakeForce uses one of the merchant's forced answers for op, if any is left: exactly one
	// caller gets each, whichever instance asks.
	TakeForce(ctx context.Context, merchantID string, op Operation) (protocol.Code, bool, error)
}

// Wrap returns a with forced results in front of it: a forced call answers the chosen code
// without reaching a, so it leaves nothing held there.
func Wrap(a acquirer.Acquirer, f Forces, log *slog.Logger) acquirer.Acquirer {
	return &forcing{Acquirer: a, forces: f, log: log}
}

type forcing struct {
	acquirer.Acquirer
	forces Forces
	log    *slog.Logger
}

// take reports the forced code for op, if any. A store error does not fail the call: forces are
// a test aid, and the real acquirer's answer is the safe default.
func (f *forcing) take(ctx context.Context, merchantID string, op Operation) (protocol.Code, bool) {
	if merchantID == "" {
		return "", false
	}
	code, ok, err := f.forces.TakeForce(ctx, merchantID, op)
	if err != nil {
		f.log.WarnContext(ctx, "forced result not read; the acquirer answers", "operation", op, "err", err)
		return "", false
	}
	if ok {
		f.log.InfoContext(ctx, "forced result", "operation", op, "resultCode", code, "acquirer", f.Name())
	}
	return code, ok
}

func message(code protocol.Code) string {
	return fmt.Sprintf("%s, forced by /sandbox/v1/force.", code)
}

// Authorize implements acquirer.Acquirer.
func (f *forcing) Authorize(ctx context.Context, req acquirer.AuthRequest) (acquirer.AuthResult, error) {
	code, ok := f.take(ctx, req.MerchantID, Pay)
	if !ok {
		return f.Acquirer.Authorize(ctx, req)
	}
	// A declined answer, final: a forced PROCESS_FAIL is the acquirer's refusal, not a technical
	// failure, so the payment does not fail over to another acquirer and use another force.
	return acquirer.AuthResult{Outcome: acquirer.Declined, AcquirerName: f.Name(), DeclineCode: code, DeclineMsg: message(code),
		AcquirerResultCode: string(code), AcquirerResultMessage: message(code)}, nil
}

// Capture implements acquirer.Acquirer.
func (f *forcing) Capture(ctx context.Context, req acquirer.CaptureRequest) (acquirer.OpResult, error) {
	if code, ok := f.take(ctx, req.MerchantID, Capture); ok {
		return acquirer.OpResult{Status: acquirer.OpFailed, Code: code, Message: message(code)}, nil
	}
	return f.Acquirer.Capture(ctx, req)
}

// Refund implements acquirer.Acquirer.
func (f *forcing) Refund(ctx context.Context, req acquirer.RefundRequest) (acquirer.OpResult, error) {
	if code, ok := f.take(ctx, req.MerchantID, Refund); ok {
		return acquirer.OpResult{Status: acquirer.OpFailed, Code: code, Message: message(code)}, nil
	}
	return f.Acquirer.Refund(ctx, req)
}
