package payments

import "fmt"

// State is a payment's lifecycle state (design.md "State machine").
type State string

const (
	StateProcessing State = "PROCESSING"
	StateSuccess    State = "SUCCESS"
	StateFail       State = "FAIL"
	StateCancelled  State = "CANCELLED"
)

// Op is something that happens to a payment. Every op that changes a payment is a row in
// transitions and leaves an event row in the same database transaction.
type Op string

const (
	OpCreate       Op = "CREATE"        // pay accepted: the payment exists, authorization not yet known
	OpAuthPending  Op = "AUTH_PENDING"  // the acquirer did not answer in time; the result comes later
	OpAuthApproved Op = "AUTH_APPROVED" // the issuer approved the authorization
	OpAuthDeclined Op = "AUTH_DECLINED" // the issuer or the acquirer's risk engine declined
)

// transitions is the state machine as data: (state, op) → next state. A pair that is absent is an
// illegal transition and is refused, never ignored (Kill Bill's habit, style.md).
var transitions = map[State]map[Op]State{
	"": {
		OpCreate: StateProcessing,
	},
	StateProcessing: {
		OpAuthPending:  StateProcessing,
		OpAuthApproved: StateSuccess,
		OpAuthDeclined: StateFail,
	},
}

// IllegalTransitionError reports an op that the state machine does not allow in a state.
type IllegalTransitionError struct {
	From State
	Op   Op
}

func (e *IllegalTransitionError) Error() string {
	from := e.From
	if from == "" {
		from = "(new)"
	}
	return fmt.Sprintf("payments: %s is not allowed in state %s", e.Op, from)
}

// Next returns the state a payment in from moves to under op.
func Next(from State, op Op) (State, error) {
	if to, ok := transitions[from][op]; ok {
		return to, nil
	}
	return "", &IllegalTransitionError{From: from, Op: op}
}
