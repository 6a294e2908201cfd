package acquirer

import (
	"context"
	"sync"
	"time"
)

// BreakerConfig is when an acquirer that keeps failing technically is set aside.
type BreakerConfig struct {
	// Failures in a row (technical failures: Unavailable answers and calls with no answer) that
	// open the breaker (default 5).
	Failures int
	// Cooldown is how long an open breaker sets the acquirer aside before one authorization
	// probes it again (default 30 s).
	Cooldown time.Duration
	// Now is the wall clock (breakers measure real elapsed time, not the sandbox's).
	Now func() time.Time
	// OnChange, when set, is told each time the breaker opens (true) or closes (false).
	OnChange func(acquirer string, open bool)
}

// Breaker is an acquirer's circuit breaker: after Failures technical failures in a row its
// authorizations are set aside (Open reports it, and routing moves the acquirer to the end of
// every route) for Cooldown; then the next authorization probes it, and one answer closes the
// breaker while another technical failure opens it again. Only authorizations count: captures,
// refunds and voids must go to the acquirer that authorized whatever its health. The state is
// the instance's own: each instance learns from its own calls.
type Breaker struct {
	Acquirer
	cfg BreakerConfig

	mu        sync.Mutex
	failures  int
	openUntil time.Time // zero: closed
	probing   bool      // half-open: a probe is in flight
}

// NewBreaker wraps a with a breaker.
func NewBreaker(a Acquirer, cfg BreakerConfig) *Breaker {
	if cfg.Failures <= 0 {
		cfg.Failures = 5
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Breaker{Acquirer: a, cfg: cfg}
}

// Open reports whether the acquirer is set aside now: open and not yet due for a probe, or
// half-open with a probe already in flight.
func (b *Breaker) Open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return false
	}
	return b.probing || b.cfg.Now().Before(b.openUntil)
}

// Authorize implements Acquirer, counting technical failures.
func (b *Breaker) Authorize(ctx context.Context, req AuthRequest) (AuthResult, error) {
	b.mu.Lock()
	if !b.openUntil.IsZero() && !b.cfg.Now().Before(b.openUntil) {
		b.probing = true
	}
	b.mu.Unlock()
	res, err := b.Acquirer.Authorize(ctx, req)
	b.record(err != nil || res.Outcome == Unavailable)
	return res, err
}

func (b *Breaker) record(failed bool) {
	b.mu.Lock()
	wasOpen := !b.openUntil.IsZero()
	b.probing = false
	if !failed {
		b.failures, b.openUntil = 0, time.Time{}
	} else {
		b.failures++
		if b.failures >= b.cfg.Failures {
			b.openUntil = b.cfg.Now().Add(b.cfg.Cooldown)
		}
	}
	isOpen := !b.openUntil.IsZero()
	b.mu.Unlock()
	if wasOpen != isOpen && b.cfg.OnChange != nil {
		b.cfg.OnChange(b.Name(), isOpen)
	}
}
