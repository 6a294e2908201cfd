// Package jobs runs time-driven work: payments that expire, authorizations voided after 7 days,
// late acquirer answers, authorizations left in flight by an instance that died, captures to
// finish, voids owed, and the disputes' alerts, deadlines, judgements and chargebacks. The work itself is in the payments service; this package decides when it
// runs: on a ticker, and in the sandbox when the clock is moved forward.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
)

// Work is the due work and how to do it (payments.Service). Work is claimed with a lease before
// it runs, so several instances (and a sandbox clock advance) share it without running a piece
// twice at once.
type Work interface {
	ClaimWork(ctx context.Context, t time.Time, limit int) ([]payments.Due, error)
	ReleaseWork(ctx context.Context, d payments.Due) error
	RunDue(ctx context.Context, d payments.Due) error
}

// Deliveries are the notifications' scheduled attempts (notify.Dispatcher). In the sandbox the
// clock steps through them together with the payments' work, in one due order.
type Deliveries interface {
	DueNotifications(ctx context.Context, t time.Time, limit int) ([]notify.DueNotification, error)
	DeliverDue(ctx context.Context, id int64) error
	// Hold stops the background delivery while the clock steps, and waits for attempts in flight.
	Hold() (release func())
}

// DisputeWork is the disputes' clock work (disputes.Service): alerts, deadlines, judgements and
// announced chargebacks. Each piece checks it is still due when it runs, so two runners (or an
// advance and a pass) may both list it.
type DisputeWork interface {
	DueWork(ctx context.Context, t time.Time, limit int) ([]disputes.Due, error)
	RunDueWork(ctx context.Context, d disputes.Due) error
}

// ClockStore keeps the sandbox clock's offset where every instance sees it.
type ClockStore interface {
	// ClockOffset returns the stored offset and its epoch (the number of resets so far).
	ClockOffset(ctx context.Context) (time.Duration, int64, error)
	// SetClockOffset raises the stored offset to d (never lowers it), only while epoch is current.
	SetClockOffset(ctx context.Context, d time.Duration, epoch int64) error
	// ResetClock sets the offset to zero and starts a new epoch; it returns the epoch.
	ResetClock(ctx context.Context) (int64, error)
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
	notify  Deliveries
	dispute DisputeWork
	epoch   int64 // the clock epoch this runner's offset belongs to
}

// WithDeliveries makes Advance run due notification attempts too.
func (r *Runner) WithDeliveries(d Deliveries) *Runner {
	r.notify = d
	return r
}

// WithDisputes makes every pass (and Advance) run the disputes' due work too.
func (r *Runner) WithDisputes(d DisputeWork) *Runner {
	r.dispute = d
	return r
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
	// Notifications are the dispatcher's: it delivers them concurrently as they fall due.
	return r.runUntil(ctx, r.clock.Now(), false, false)
}

// item is one piece of due work of either kind.
type item struct {
	at      time.Time
	key     string
	desc    []any
	run     func(ctx context.Context) error
	release func(ctx context.Context) // ends a claim taken on the item (nil for notifications)
}

// claim takes the payments' work due at or before t and, when asked, lists the notifications'
// scheduled attempts, earliest first.
func (r *Runner) claim(ctx context.Context, t time.Time, withNotify bool) ([]item, error) {
	work, err := r.work.ClaimWork(ctx, t, batch)
	if err != nil {
		return nil, fmt.Errorf("claim due work: %w", err)
	}
	items := make([]item, 0, len(work))
	for _, d := range work {
		items = append(items, item{at: d.At, key: fmt.Sprint(d), desc: []any{"kind", d.Kind, "paymentId", d.PaymentID},
			run: func(ctx context.Context) error { return r.work.RunDue(ctx, d) },
			release: func(ctx context.Context) {
				if err := r.work.ReleaseWork(ctx, d); err != nil {
					r.log.WarnContext(ctx, "release due work", "paymentId", d.PaymentID, "err", err)
				}
			}})
	}
	if r.dispute != nil {
		due, err := r.dispute.DueWork(ctx, t, batch)
		if err != nil {
			releaseAll(ctx, items)
			return nil, fmt.Errorf("list due dispute work: %w", err)
		}
		for _, d := range due {
			items = append(items, item{at: d.At, key: fmt.Sprint("dispute ", d.PaymentID, " ", d.DisputeID, " ", d.At.UnixMilli()),
				desc: []any{"kind", "DISPUTE", "paymentId", d.PaymentID, "disputeId", d.DisputeID},
				run:  func(ctx context.Context) error { return r.dispute.RunDueWork(ctx, d) }})
		}
	}
	if withNotify && r.notify != nil {
		due, err := r.notify.DueNotifications(ctx, t, batch)
		if err != nil {
			releaseAll(ctx, items)
			return nil, fmt.Errorf("list due notifications: %w", err)
		}
		for _, n := range due {
			items = append(items, item{at: n.At, key: fmt.Sprint("notify ", n.ID, " ", n.At.UnixMilli()), desc: []any{"kind", "NOTIFY", "notificationId", n.ID},
				run: func(ctx context.Context) error { return r.notify.DeliverDue(ctx, n.ID) }})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	return items, nil
}

func releaseAll(ctx context.Context, items []item) {
	for _, it := range items {
		if it.release != nil {
			it.release(ctx)
		}
	}
}

// runUntil runs the work due at or before t. ordered (the sandbox clock) runs one item at a time
// in due order, stepping the clock to each item's due time first, so work runs "at" its time: a
// capture that finishes a minute after it was sent is stamped a minute later, a notification
// retried at +2 minutes is signed then, however far the clock jumps. Otherwise every claimed item
// runs, in due order, batch after batch.
func (r *Runner) runUntil(ctx context.Context, t time.Time, withNotify, ordered bool) (int, error) {
	// tried holds the items this pass already ran, whether they failed or not: an item listed again
	// unchanged made no progress (its work failed, or succeeded without ceasing to be due), and
	// running it again would spin the pass and starve the items after it. It waits for the next pass.
	tried := map[string]bool{}
	ran := 0
	for ran < maxSteps {
		items, err := r.claim(ctx, t, withNotify)
		if err != nil {
			return ran, err
		}
		progressed := false
		for i, it := range items {
			if tried[it.key] {
				if it.release != nil {
					it.release(ctx)
				}
				continue
			}
			tried[it.key] = true
			if err := ctx.Err(); err != nil {
				releaseAll(ctx, items[i:])
				return ran, err
			}
			if r.sandbox != nil && it.at.After(r.clock.Now()) {
				r.sandbox.SetOffset(it.at.Sub(r.wall.Now()))
			}
			err := it.run(ctx)
			if it.release != nil {
				it.release(ctx)
			}
			if err != nil {
				// Leave it for the next pass; one broken item must not stop the others.
				r.log.ErrorContext(ctx, "due work failed", append(it.desc, "err", err)...)
				continue
			}
			ran++
			progressed = true
			if ordered {
				// Work may have made earlier work due (a capture after an approval): claim again.
				releaseAll(ctx, items[i+1:])
				break
			}
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
	if r.notify != nil {
		release := r.notify.Hold()
		defer release()
	}
	target := r.clock.Now().Add(d)
	if _, err := r.runUntil(ctx, target, true, true); err != nil {
		return time.Time{}, err
	}
	r.sandbox.SetOffset(target.Sub(r.wall.Now()))
	if err := r.store.SetClockOffset(ctx, r.sandbox.Offset(), r.epoch); err != nil {
		return time.Time{}, err
	}
	return r.clock.Now(), nil
}

// syncClock takes up an offset another instance stored, and stores ours if it is ahead. After a
// reset (a new epoch) it takes the stored offset even though that moves its clock back.
func (r *Runner) syncClock(ctx context.Context) error {
	if r.sandbox == nil {
		return nil
	}
	stored, epoch, err := r.store.ClockOffset(ctx)
	if err != nil {
		return err
	}
	if epoch != r.epoch {
		r.sandbox.Reset(stored)
		r.epoch = epoch
		return nil
	}
	r.sandbox.SetOffset(stored)
	if r.sandbox.Offset() > stored {
		return r.store.SetClockOffset(ctx, r.sandbox.Offset(), r.epoch)
	}
	return nil
}

// ResetClock puts the sandbox clock back on real time, for this instance at once and for the
// others at their next pass. It returns the time now.
func (r *Runner) ResetClock(ctx context.Context) (time.Time, error) {
	if r.sandbox == nil {
		return time.Time{}, errors.New("jobs: the clock moves only in sandbox mode")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	epoch, err := r.store.ResetClock(ctx)
	if err != nil {
		return time.Time{}, err
	}
	r.sandbox.Reset(0)
	r.epoch = epoch
	return r.clock.Now(), nil
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
