package acquirer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
)

// scripted answers each authorization with the next outcome of its script (an error for 0).
type scripted struct {
	acquirer.Acquirer
	outcomes []acquirer.Outcome
}

func (s *scripted) Name() string { return "SCRIPTED" }

func (s *scripted) Authorize(context.Context, acquirer.AuthRequest) (acquirer.AuthResult, error) {
	o := s.outcomes[0]
	s.outcomes = s.outcomes[1:]
	if o == 0 {
		return acquirer.AuthResult{}, errors.New("no answer")
	}
	return acquirer.AuthResult{Outcome: o}, nil
}

func TestBreaker(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var changes []bool
	const U, A, D = acquirer.Unavailable, acquirer.Approved, acquirer.Declined
	s := &scripted{outcomes: []acquirer.Outcome{U, 0, A, U, U, 0, D, U, A}}
	b := acquirer.NewBreaker(s, acquirer.BreakerConfig{Failures: 3, Cooldown: time.Minute, Now: func() time.Time { return now },
		OnChange: func(_ string, open bool) { changes = append(changes, open) }})
	call := func() { _, _ = b.Authorize(context.Background(), acquirer.AuthRequest{}) }

	call()
	call()
	call() // two failures, then an answer: the count starts again
	if b.Open() {
		t.Fatal("open after failures that an answer interrupted")
	}
	call()
	call()
	call() // three technical failures in a row
	if !b.Open() {
		t.Fatal("closed after three technical failures in a row")
	}
	now = now.Add(59 * time.Second)
	if !b.Open() {
		t.Fatal("closed before the cooldown")
	}
	now = now.Add(time.Second)
	if b.Open() {
		t.Fatal("not due for a probe after the cooldown")
	}
	call() // the probe: a decline is an answer, so the acquirer is healthy again
	if b.Open() {
		t.Fatal("a decline did not close the breaker")
	}
	call()
	if b.Open() {
		t.Fatal("one failure reopened the breaker")
	}
	call()
	if want := []bool{true, false}; len(changes) != 2 || changes[0] != want[0] || changes[1] != want[1] {
		t.Fatalf("changes %v, want %v", changes, want)
	}
}
