package payments

import (
	"errors"
	"strings"
	"testing"
)

// allStates and allOps list every state (with "" for a payment that does not exist yet) and every
// op. A new constant must be added here, which forces the table below to say what it does.
var (
	allStates = []State{"", StateProcessing, StateSuccess, StateFail, StateCancelled}
	allOps    = []Op{OpCreate, OpAuthPending, OpAuthApproved, OpAuthDeclined}
)

// wantTransitions is the state machine as design.md states it, written out independently of the
// transitions map: a payment is created PROCESSING, stays there while the acquirer owes an
// answer, and the answer makes it SUCCESS or FAIL. Every cell not listed must be refused.
var wantTransitions = map[State]map[Op]State{
	"": {
		OpCreate: StateProcessing,
	},
	StateProcessing: {
		OpAuthPending:  StateProcessing,
		OpAuthApproved: StateSuccess,
		OpAuthDeclined: StateFail,
	},
}

func TestNextEveryCell(t *testing.T) {
	for _, from := range allStates {
		for _, op := range allOps {
			name := string(from)
			if name == "" {
				name = "new"
			}
			t.Run(name+"/"+string(op), func(t *testing.T) {
				to, err := Next(from, op)
				want, allowed := wantTransitions[from][op]
				if allowed {
					if err != nil {
						t.Fatalf("Next(%q, %s) error = %v, want %s", from, op, err, want)
					}
					if to != want {
						t.Fatalf("Next(%q, %s) = %s, want %s", from, op, to, want)
					}
					return
				}
				var ite *IllegalTransitionError
				if !errors.As(err, &ite) {
					t.Fatalf("Next(%q, %s) = %q, %v; want *IllegalTransitionError", from, op, to, err)
				}
				if ite.From != from || ite.Op != op {
					t.Errorf("error names %q/%s, want %q/%s", ite.From, ite.Op, from, op)
				}
				if to != "" {
					t.Errorf("Next returned state %q alongside an error", to)
				}
				if !strings.Contains(err.Error(), string(op)) {
					t.Errorf("error %q does not name the op", err)
				}
			})
		}
	}
}

// TestTransitionsTableHasNoStrays makes sure the production table holds nothing the walk above
// did not visit (an unknown state or op would be a cell no test covers).
func TestTransitionsTableHasNoStrays(t *testing.T) {
	known := map[State]bool{}
	for _, s := range allStates {
		known[s] = true
	}
	knownOp := map[Op]bool{}
	for _, o := range allOps {
		knownOp[o] = true
	}
	for from, ops := range transitions {
		if !known[from] {
			t.Errorf("transitions has unknown state %q", from)
		}
		for op, to := range ops {
			if !knownOp[op] {
				t.Errorf("transitions has unknown op %q", op)
			}
			if !known[to] || to == "" {
				t.Errorf("transitions leads to unknown state %q", to)
			}
		}
	}
}

func TestIllegalTransitionErrorNamesNewState(t *testing.T) {
	_, err := Next("", OpAuthApproved)
	if err == nil || !strings.Contains(err.Error(), "(new)") {
		t.Fatalf("Next(new, AUTH_APPROVED) error = %v, want one naming (new)", err)
	}
}
