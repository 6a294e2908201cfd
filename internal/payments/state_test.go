package payments

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/protocol"
)

// allStages and allOps list every stage (with StageNew for a payment that does not exist yet) and
// every op, written out here rather than taken from Stages and Ops: a new constant must be added
// here too, which forces the tables below to say what it does.
var (
	allStages = []Stage{StageNew, StageProcessing, StageAuthorized, StageCapturing, StageCaptured,
		StageDeclined, StageExpired, StageCancelled, StageVoided}
	allOps = []Op{OpCreate, OpAuthPending, OpAuthApproved, OpAuthDeclined, OpCapture, OpCaptureSucceeded,
		OpCaptureFailed, OpCapturePending, OpCancel, OpExpire, OpAutoVoid, OpRefund, OpRefundSucceeded,
		OpRefundFailed, OpRefundPending, OpLateAuthVoided, OpVoidSent,
		OpChallenge, OpChallengeRetry, OpAuthenticated, OpNotAuthenticated, OpCardEntered, OpAuthUnresolved, OpFailover}
)

// wantTransitions is docs/design.md's state machine written out independently of the transitions map:
//
//   - a payment is created PROCESSING and stays there while the acquirer owes an answer; the answer
//     approves or declines it; the merchant may cancel it, and paymentExpiryTime closes it;
//   - an approved payment is captured once, for the full amount; a capture the acquirer refuses
//     leaves the authorization as it was; until captured it can be cancelled, and authExpiryTime
//     voids it;
//   - 3-D Secure happens while the payment is in process: a challenge opens, wrong codes are
//     retried, the right code sends the authorization, three wrong codes decline the payment;
//   - a hosted payment's card arrives from the buyer's page while it is in process;
//   - refunds attach to a captured payment only;
//   - a payment that closed while the acquirer still owed its answer voids a late approval and
//     stays closed; a closed payment whose authorization the gateway holds owes the acquirer a void;
//   - an authorization whose sender died and that the acquirer does not know of fails the payment
//     (PROCESS_FAIL), which reverses it and voids an approval that turns up later.
//
// Every cell not listed is refused.
var wantTransitions = map[Stage]map[Op]Stage{
	StageNew: {OpCreate: StageProcessing},
	StageProcessing: {
		OpAuthPending:      StageProcessing,
		OpAuthApproved:     StageAuthorized,
		OpAuthDeclined:     StageDeclined,
		OpCancel:           StageCancelled,
		OpExpire:           StageExpired,
		OpChallenge:        StageProcessing,
		OpChallengeRetry:   StageProcessing,
		OpAuthenticated:    StageProcessing,
		OpNotAuthenticated: StageDeclined,
		OpCardEntered:      StageProcessing,
		OpAuthUnresolved:   StageDeclined,
		OpFailover:         StageProcessing,
	},
	StageAuthorized: {
		OpCapture:  StageCapturing,
		OpCancel:   StageCancelled,
		OpAutoVoid: StageVoided,
	},
	StageCapturing: {
		OpCaptureSucceeded: StageCaptured,
		OpCaptureFailed:    StageAuthorized,
		OpCapturePending:   StageCapturing,
	},
	StageCaptured: {
		OpRefund:          StageCaptured,
		OpRefundSucceeded: StageCaptured,
		OpRefundFailed:    StageCaptured,
		OpRefundPending:   StageCaptured,
	},
	StageDeclined: {
		OpLateAuthVoided: StageDeclined,
		OpVoidSent:       StageDeclined,
	},
	StageExpired: {
		OpLateAuthVoided: StageExpired,
		OpVoidSent:       StageExpired,
	},
	StageCancelled: {
		OpLateAuthVoided: StageCancelled,
		OpVoidSent:       StageCancelled,
	},
	StageVoided: {
		OpVoidSent: StageVoided,
	},
}

// wantRefusals is docs/design.md's "Answer codes after authorization" for the merchant operations in
// the stages that refuse them. A cell that is absent here and from wantTransitions answers
// ORDER_STATUS_INVALID ("every other case"). Cancel of a cancelled or voided payment is not a
// refusal: it answers S (idempotent), which the service does before asking the table.
var wantRefusals = map[Op]map[Stage]protocol.Code{
	OpCapture: {
		StageNew:        protocol.CodeOrderStatusInvalid,
		StageProcessing: protocol.CodeOrderStatusInvalid,
		// A capture is under way or done: a new captureRequestId is a second capture.
		StageCapturing: protocol.CodeMultiCaptureNotSupported,
		StageCaptured:  protocol.CodeMultiCaptureNotSupported,
		StageDeclined:  protocol.CodeOrderStatusInvalid,
		StageExpired:   protocol.CodeOrderStatusInvalid,
		StageCancelled: protocol.CodeOrderIsCanceled,
		StageVoided:    protocol.CodeAuthExpired,
	},
	OpCancel: {
		StageNew:       protocol.CodeOrderStatusInvalid,
		StageCapturing: protocol.CodeOrderStatusInvalid,
		StageCaptured:  protocol.CodeOrderStatusInvalid,
		StageDeclined:  protocol.CodeOrderStatusInvalid,
		StageExpired:   protocol.CodeOrderStatusInvalid,
		StageCancelled: protocol.CodeOrderStatusInvalid, // never asked: the service answers S
		StageVoided:    protocol.CodeOrderStatusInvalid, // never asked: the service answers S
	},
	OpRefund: {
		StageNew:        protocol.CodeOrderStatusInvalid,
		StageProcessing: protocol.CodeOrderStatusInvalid,
		StageAuthorized: protocol.CodeOrderStatusInvalid,
		StageCapturing:  protocol.CodeOrderStatusInvalid,
		StageDeclined:   protocol.CodeOrderStatusInvalid,
		StageExpired:    protocol.CodeOrderStatusInvalid,
		StageCancelled:  protocol.CodeOrderIsCanceled,
		// A voided payment inquires as CANCELLED (docs/design.md "Voids"): the "refund | cancelled" row.
		StageVoided: protocol.CodeOrderIsCanceled,
	},
}

func stageName(s Stage) string {
	if s == StageNew {
		return "new"
	}
	return string(s)
}

func TestStagesAndOpsAreListed(t *testing.T) {
	if !slices.Equal(Stages, allStages) {
		t.Errorf("Stages = %v, want %v", Stages, allStages)
	}
	if !slices.Equal(Ops, allOps) {
		t.Errorf("Ops = %v, want %v", Ops, allOps)
	}
	for _, s := range allStages {
		if _, ok := wantTransitions[s]; !ok {
			t.Errorf("wantTransitions has no row for stage %s", stageName(s))
		}
	}
}

// TestNextEveryCell walks every cell of Stages × Ops.
func TestNextEveryCell(t *testing.T) {
	for _, from := range allStages {
		for _, op := range allOps {
			t.Run(stageName(from)+"/"+string(op), func(t *testing.T) {
				to, err := Next(from, op)
				want, allowed := wantTransitions[from][op]
				if allowed {
					if err != nil || to != want {
						t.Fatalf("Next(%s, %s) = %q, %v; want %s", stageName(from), op, to, err, want)
					}
					return
				}
				var ite *IllegalTransitionError
				if !errors.As(err, &ite) {
					t.Fatalf("Next(%s, %s) = %q, %v; want *IllegalTransitionError", stageName(from), op, to, err)
				}
				if ite.From != from || ite.Op != op {
					t.Errorf("error names %q/%s, want %q/%s", ite.From, ite.Op, from, op)
				}
				if to != "" {
					t.Errorf("Next returned stage %q alongside an error", to)
				}
				if !strings.Contains(err.Error(), string(op)) || !strings.Contains(err.Error(), map[bool]string{true: "(new)", false: string(from)}[from == StageNew]) {
					t.Errorf("error %q does not name the op and the stage", err)
				}
			})
		}
	}
}

// TestTransitionsTableHasNoStrays makes sure the production table holds nothing the walk above
// did not visit (an unknown stage or op would be a cell no test covers), and never leads back to
// "new".
func TestTransitionsTableHasNoStrays(t *testing.T) {
	for from, ops := range transitions {
		if !slices.Contains(allStages, from) {
			t.Errorf("transitions has unknown stage %q", from)
		}
		for op, to := range ops {
			if !slices.Contains(allOps, op) {
				t.Errorf("transitions has unknown op %q", op)
			}
			if !slices.Contains(allStages, to) || to == StageNew {
				t.Errorf("transitions leads to stage %q", to)
			}
		}
	}
}

// TestRefusalEveryCell checks the wire code of capture, cancel and refund in every stage that
// refuses them, against docs/design.md's table.
func TestRefusalEveryCell(t *testing.T) {
	for _, op := range []Op{OpCapture, OpCancel, OpRefund} {
		for _, from := range allStages {
			t.Run(string(op)+"/"+stageName(from), func(t *testing.T) {
				_, allowed := wantTransitions[from][op]
				want, refused := wantRefusals[op][from]
				if allowed == refused {
					t.Fatalf("test table bug: %s in %s is both or neither allowed and refused", op, stageName(from))
				}
				if _, err := Next(from, op); (err == nil) != allowed {
					t.Fatalf("Next(%s, %s) error %v; allowed is %v", stageName(from), op, err, allowed)
				}
				if allowed {
					return
				}
				perr := Refusal(op, from)
				if perr == nil || perr.Code != want {
					t.Fatalf("Refusal(%s, %s) = %v, want %s", op, stageName(from), perr, want)
				}
				if perr.Code.Status() != protocol.StatusFail {
					t.Errorf("%s has status %s, want F", perr.Code, perr.Code.Status())
				}
				if !strings.Contains(perr.Message, strings.ToLower(string(op))) {
					t.Errorf("message %q does not name the operation", perr.Message)
				}
				if from != StageNew && strings.HasSuffix(perr.Message, ": ") {
					t.Errorf("message %q gives no reason", perr.Message)
				}
				if r := protocol.ResultOf(perr); r.ResultCode != string(want) || r.ResultStatus != "F" {
					t.Errorf("wire result %+v", r)
				}
			})
		}
	}
}

// TestRefusalsTableHasNoStrays: the production refusals name only merchant ops and stages that
// refuse them (a code for an allowed cell would never be seen, a sign the two tables disagree).
func TestRefusalsTableHasNoStrays(t *testing.T) {
	for op, stages := range refusals {
		if op != OpCapture && op != OpCancel && op != OpRefund {
			t.Errorf("refusals has non-merchant op %s", op)
		}
		for from := range stages {
			if _, err := Next(from, op); err == nil {
				t.Errorf("refusals has a code for %s in %s, which is allowed", op, stageName(from))
			}
		}
	}
}

// TestStageDerivation: Stage is derived from State, Capture and CloseReason as the stored columns
// hold them.
func TestStageDerivation(t *testing.T) {
	for _, tc := range []struct {
		p    Payment
		want Stage
	}{
		{Payment{}, StageNew},
		{Payment{State: StateProcessing}, StageProcessing},
		{Payment{State: StateProcessing, VoidState: VoidPending}, StageProcessing},
		{Payment{State: StateSuccess}, StageAuthorized},
		{Payment{State: StateSuccess, Capture: CaptureFailed}, StageAuthorized},
		{Payment{State: StateSuccess, Capture: CaptureProcessing}, StageCapturing},
		{Payment{State: StateSuccess, Capture: CaptureSucceeded, CapturedMinor: 1}, StageCaptured},
		{Payment{State: StateFail}, StageDeclined},
		{Payment{State: StateFail, CloseReason: CloseExpired}, StageExpired},
		{Payment{State: StateCancelled, CloseReason: CloseCancel}, StageCancelled},
		{Payment{State: StateCancelled}, StageCancelled},
		{Payment{State: StateCancelled, CloseReason: CloseAutoVoid}, StageVoided},
		{Payment{State: "BOGUS"}, StageNew},
	} {
		if got := tc.p.Stage(); got != tc.want {
			t.Errorf("%+v: Stage() = %s, want %s", tc.p, stageName(got), stageName(tc.want))
		}
	}
}

// TestSetStageRoundTrip: writing a stage into the stored fields and deriving it back gives the
// same stage, from any reachable starting stage.
func TestSetStageRoundTrip(t *testing.T) {
	for from, ops := range wantTransitions {
		for op, to := range ops {
			p := Payment{}
			p.setStage(from)
			if from != StageNew && p.Stage() != from {
				t.Fatalf("setStage(%s) derives %s", stageName(from), stageName(p.Stage()))
			}
			p.setStage(to)
			if p.Stage() != to {
				t.Errorf("%s --%s--> %s: derived %s (state %s, capture %q, close %q)", stageName(from), op, to, stageName(p.Stage()), p.State, p.Capture, p.CloseReason)
			}
		}
	}
	// A failed capture stays visible on the authorization it left in place.
	p := Payment{State: StateSuccess, Capture: CaptureFailed}
	p.setStage(StageAuthorized)
	if p.Capture != CaptureFailed {
		t.Errorf("setStage(AUTHORIZED) cleared the failed capture")
	}
}
