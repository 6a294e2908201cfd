package payments

import (
	"fmt"

	"github.com/cardgate/cardgate/protocol"
)

// State is a payment's paymentStatus (docs/design.md "State machine").
type State string

const (
	StateProcessing State = "PROCESSING"
	StateSuccess    State = "SUCCESS"
	StateFail       State = "FAIL"
	StateCancelled  State = "CANCELLED"
)

// Stage refines State with what happened after the authorization, because the rules depend on
// it: a SUCCESS payment may be authorized only, capturing, or captured; a FAIL one declined or
// expired; a CANCELLED one cancelled by the merchant or voided after 7 days. Stage is derived from
// the stored fields (State, Capture, CloseReason), never stored itself.
type Stage string

const (
	StageNew        Stage = ""
	StageProcessing Stage = "PROCESSING" // authorization outcome not known yet
	StageAuthorized Stage = "AUTHORIZED" // approved, not captured (or its capture failed)
	StageCapturing  Stage = "CAPTURING"  // a capture is in process at the acquirer
	StageCaptured   Stage = "CAPTURED"   // captured; refunds attach from here
	StageDeclined   Stage = "DECLINED"   // refused by the issuer or the acquirer
	StageExpired    Stage = "EXPIRED"    // not finished by paymentExpiryTime
	StageCancelled  Stage = "CANCELLED"  // cancelled (voided) by the merchant
	StageVoided     Stage = "VOIDED"     // authorization not captured within 7 days
)

// Op is something that happens to a payment. Every op that is allowed leaves an event row in the
// same database transaction as its change.
type Op string

const (
	OpCreate           Op = "CREATE"            // pay accepted: the payment exists
	OpAuthPending      Op = "AUTH_PENDING"      // the acquirer did not answer in time
	OpAuthApproved     Op = "AUTH_APPROVED"     // the issuer approved the authorization
	OpAuthDeclined     Op = "AUTH_DECLINED"     // the issuer or the acquirer's risk engine declined
	OpCapture          Op = "CAPTURE"           // a capture was sent to the acquirer
	OpCaptureSucceeded Op = "CAPTURE_SUCCEEDED" // the acquirer captured
	OpCaptureFailed    Op = "CAPTURE_FAILED"    // the acquirer refused the capture; the authorization stays
	OpCapturePending   Op = "CAPTURE_PENDING"   // the acquirer will tell later; ask again at the due time
	OpCancel           Op = "CANCEL"            // the merchant cancelled
	OpExpire           Op = "EXPIRE"            // paymentExpiryTime passed while in process
	OpAutoVoid         Op = "AUTO_VOID"         // authExpiryTime passed without a capture
	OpRefund           Op = "REFUND"            // a refund was sent to the acquirer
	OpRefundSucceeded  Op = "REFUND_SUCCEEDED"  // the acquirer refunded
	OpRefundFailed     Op = "REFUND_FAILED"     // the acquirer refused the refund
	OpRefundPending    Op = "REFUND_PENDING"    // the acquirer's answer is not in; ask again at the due time
	OpLateAuthVoided   Op = "LATE_AUTH_VOIDED"  // an approval arrived after the payment closed: voided, not revived
	OpVoidSent         Op = "VOID_SENT"         // the acquirer confirmed a void the gateway owed it
	OpChallenge        Op = "CHALLENGE"         // the issuer wants the buyer challenged (3-D Secure): the page is open
	OpChallengeRetry   Op = "CHALLENGE_RETRY"   // a wrong code was typed; attempts remain
	OpAuthenticated    Op = "AUTHENTICATED"     // the right code was typed: the authorization is sent
	OpNotAuthenticated Op = "NOT_AUTHENTICATED" // three wrong codes: the payment fails
	OpCardEntered      Op = "CARD_ENTERED"      // the buyer entered the card on the hosted page; no challenge: the authorization is sent
	OpAuthUnresolved   Op = "AUTH_UNRESOLVED"   // the authorization's sender died and the acquirer knows of no authorization: failed, reversed
	OpFailover         Op = "FAILOVER"          // the acquirer did not take the authorization (a technical failure, or no answer and reversed): the next one of the route is tried
)

// transitions is the state machine as data: (stage, op) → next stage. A pair that is absent is
// illegal and is refused, never ignored (Kill Bill's habit).
var transitions = map[Stage]map[Op]Stage{
	StageNew: {OpCreate: StageProcessing},
	StageProcessing: {
		OpAuthPending:  StageProcessing,
		OpAuthApproved: StageAuthorized,
		OpAuthDeclined: StageDeclined,
		OpCancel:       StageCancelled,
		OpExpire:       StageExpired,
		// 3-D Secure happens before the authorization, while the payment is in process.
		OpChallenge:        StageProcessing,
		OpChallengeRetry:   StageProcessing,
		OpAuthenticated:    StageProcessing,
		OpNotAuthenticated: StageDeclined,
		// The hosted card page: the card arrives while the payment is in process.
		OpCardEntered: StageProcessing,
		// The instance that sent the authorization died and the acquirer has no answer for it.
		OpAuthUnresolved: StageDeclined,
		// The authorization moves to the next acquirer of the route.
		OpFailover: StageProcessing,
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
	// A payment failed unresolved owes a reversal, and voids an approval that turns up after all.
	StageDeclined:  {OpLateAuthVoided: StageDeclined, OpVoidSent: StageDeclined},
	StageExpired:   {OpLateAuthVoided: StageExpired, OpVoidSent: StageExpired},
	StageCancelled: {OpLateAuthVoided: StageCancelled, OpVoidSent: StageCancelled},
	StageVoided:    {OpVoidSent: StageVoided},
}

// refusals are the wire codes of the merchant operations in the stages that do not allow them
// (docs/design.md "Answer codes after authorization"); every other refused cell is ORDER_STATUS_INVALID.
var refusals = map[Op]map[Stage]protocol.Code{
	OpCapture: {
		StageCapturing: protocol.CodeMultiCaptureNotSupported,
		StageCaptured:  protocol.CodeMultiCaptureNotSupported,
		StageCancelled: protocol.CodeOrderIsCanceled,
		StageVoided:    protocol.CodeAuthExpired,
	},
	OpRefund: {
		StageCancelled: protocol.CodeOrderIsCanceled,
		StageVoided:    protocol.CodeOrderIsCanceled,
	},
}

// IllegalTransitionError reports an op that the state machine does not allow in a stage.
type IllegalTransitionError struct {
	From Stage
	Op   Op
}

func (e *IllegalTransitionError) Error() string {
	from := e.From
	if from == StageNew {
		from = "(new)"
	}
	return fmt.Sprintf("payments: %s is not allowed in stage %s", e.Op, from)
}

// Next returns the stage a payment in from moves to under op.
func Next(from Stage, op Op) (Stage, error) {
	if to, ok := transitions[from][op]; ok {
		return to, nil
	}
	return "", &IllegalTransitionError{From: from, Op: op}
}

// Refusal is the wire error a merchant operation gets in a stage that does not allow it.
func Refusal(op Op, from Stage) *protocol.Error {
	if code, ok := refusals[op][from]; ok {
		return protocol.Errorf(code, "%s is not possible: %s", opNames[op], stageReasons[from])
	}
	return protocol.Errorf(protocol.CodeOrderStatusInvalid, "%s is not possible: %s", opNames[op], stageReasons[from])
}

var opNames = map[Op]string{OpCapture: "capture", OpCancel: "cancel", OpRefund: "refund"}

var stageReasons = map[Stage]string{
	StageProcessing: "the payment is still in process",
	StageAuthorized: "the payment is authorized but not captured",
	StageCapturing:  "the payment is being captured",
	StageCaptured:   "the payment is captured",
	StageDeclined:   "the payment failed",
	StageExpired:    "the payment was closed when it expired",
	StageCancelled:  "the payment was cancelled",
	StageVoided:     "the authorization expired and was voided",
}

// CaptureState is where the payment's capture stands.
type CaptureState string

const (
	CaptureNone       CaptureState = ""
	CaptureProcessing CaptureState = "PROCESSING"
	CaptureSucceeded  CaptureState = "SUCCESS"
	CaptureFailed     CaptureState = "FAIL"
)

// CloseReason says why a payment that ended without money moving ended.
type CloseReason string

const (
	CloseNone     CloseReason = ""
	CloseExpired  CloseReason = "EXPIRED"
	CloseCancel   CloseReason = "MERCHANT_CANCEL"
	CloseAutoVoid CloseReason = "AUTO_VOID"
)

// Stage derives the payment's stage from its stored fields.
func (p Payment) Stage() Stage {
	switch p.State {
	case StateProcessing:
		return StageProcessing
	case StateSuccess:
		switch p.Capture {
		case CaptureProcessing:
			return StageCapturing
		case CaptureSucceeded:
			return StageCaptured
		}
		return StageAuthorized
	case StateFail:
		if p.CloseReason == CloseExpired {
			return StageExpired
		}
		return StageDeclined
	case StateCancelled:
		if p.CloseReason == CloseAutoVoid {
			return StageVoided
		}
		return StageCancelled
	}
	return StageNew
}

// setStage writes a stage back into the stored fields it is derived from.
func (p *Payment) setStage(s Stage) {
	switch s {
	case StageProcessing:
		p.State = StateProcessing
	case StageAuthorized:
		p.State = StateSuccess
		if p.Capture != CaptureFailed {
			p.Capture = CaptureNone
		}
	case StageCapturing:
		p.State, p.Capture = StateSuccess, CaptureProcessing
	case StageCaptured:
		p.State, p.Capture = StateSuccess, CaptureSucceeded
	case StageDeclined:
		p.State = StateFail
	case StageExpired:
		p.State, p.CloseReason = StateFail, CloseExpired
	case StageCancelled:
		p.State, p.CloseReason = StateCancelled, CloseCancel
	case StageVoided:
		p.State, p.CloseReason = StateCancelled, CloseAutoVoid
	}
}
