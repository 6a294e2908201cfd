// Package jobs runs time-driven work: payments that expire, authorizations voided after 7 days,
// late acquirer answers, captures to finish, voids owed. The work itself is in the payments
// service; this package decides when it runs: on a ticker, and in the sandbox when the clock is
// moved forward.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/payments"
)

// Work is the due work and how to do it (payments.Service).
type Work interface {
	DueWork(ctx context.Context, t time.Time, limit int) ([]payments.Due, error)
	RunDue(ctx context.Context, d payments.Due) error
}

// ClockStore keeps the sandbox clock's offset where every instance sees it.
type ClockStore interface {
	ClockOffset(ctx context.Context) (time.Duration, error)
	SetClockOffset(ctx context.Context, d time.Duration) error
}

// Runner runs due work. One runner's passes never overlap; the payments service makes work that
// two runners both pick up harmless (every change is guarded by the payment's version).
type Runner struct {
	work    Work
	clock   clock.Clock
	sandbox *clock.Offset // nil in production: the clock cannot be moved
	store   ClockStore
	wall    clock.Clock
	log     *slog.Logger
	mu      sync.Mutex
}

// New returns a runner on a fixed clock (production).
func New(work Work, clk clock.Clock, log *slog.Logger) *Runner {
	return &Runner{work: work, clock: clk, log: log, wall: clock.Wall{}}
}

// NewSandbox returns a runner whose clock can be moved forward; its offset is kept in store.
func NewSandbox(work Work, clk *clock.Offset, store ClockStore, log *slog.Logger) *Runner {
	return &Runner{work: work, clock: clk, sandbox: clk, store: store, log: log, wall: clock.Wall{}}
}

// batch is how many due items one query fetches.
const batch = 100

// maxSteps stops a pass that keeps finding work (a bug, or a flood) so a pass always ends.
const maxSteps = 1_000_000

// RunDue runs everything due now and reports how many items ran.
func (r *Runner) RunDue(ctx context.Context) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.syncClock(ctx); err != nil {
		return 0, err
	}
	return r.runUntil(ctx, r.clock.Now())
}

// runUntil runs the work due at or before t in due order. In the sandbox the clock steps to each
// item's due time first, so work runs "at" its time: a capture that finishes a minute after it
// was sent is stamped a minute later, however far the clock jumps.
func (r *Runner) runUntil(ctx context.Context, t time.Time) (int, error) {
	failed := map[payments.Due]bool{}
	ran := 0
	for ran < maxSteps {
		items, err := r.work.DueWork(ctx, t, batch)
		if err != nil {
			return ran, fmt.Errorf("list due work: %w", err)
		}
		progressed := false
		for _, d := range items {
			if failed[d] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return ran, err
			}
			if r.sandbox != nil && d.At.After(r.clock.Now()) {
				r.sandbox.SetOffset(d.At.Sub(r.wall.Now()))
			}
			if err := r.work.RunDue(ctx, d); err != nil {
				// Leave it for the next pass; one broken item must not stop the others.
				failed[d] = true
				r.log.ErrorContext(ctx, "due work failed", "kind", d.Kind, "paymentId", d.PaymentID, "err", err)
				continue
			}
			ran++
			progressed = true
			// Work may have made earlier work due (a capture after an approval): list again.
			break
		}
		if !progressed {
			return ran, nil
		}
	}
	return ran, errors.New("jobs: pass stopped after too many steps")
}

// Advance moves the sandbox clock forward by d, running everything that becomes due on the way,
// in due order, and returns the new time.
func (r *Runner) Advance(ctx context.Context, d time.Duration) (time.Time, error) {
	if r.sandbox == nil {
		return time.Time{}, errors.New("jobs: the clock moves only in sandbox mode")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.syncClock(ctx); err != nil {
		return time.Time{}, err
	}
	target := r.clock.Now().Add(d)
	if _, err := r.runUntil(ctx, target); err != nil {
		return time.Time{}, err
	}
	r.sandbox.SetOffset(target.Sub(r.wall.Now()))
	if err := r.store.SetClockOffset(ctx, r.sandbox.Offset()); err != nil {
		return time.Time{}, err
	}
	return r.clock.Now(), nil
}

// syncClock takes up an offset another instance stored, and stores ours if it is ahead.
func (r *Runner) syncClock(ctx context.Context) error {
	if r.sandbox == nil {
		return nil
	}
	stored, err := r.store.ClockOffset(ctx)
	if err != nil {
		return err
	}
	r.sandbox.SetOffset(stored)
	if r.sandbox.Offset() > stored {
		return r.store.SetClockOffset(ctx, r.sandbox.Offset())
	}
	return nil
}

// Run runs due work every interval until ctx ends.
func (r *Runner) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := r.RunDue(ctx); err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "due work pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
