// Package calllog keeps the API calls each merchant made, for `cardgate logs tail` and the
// console: when, which API, which request id (the one on the gateway's log lines), what it
// answered and how long it took. Calls are recorded in the store, so every instance behind a
// load balancer shows the same log, by a writer that batches them off the request path: a call
// never waits for its log line, and when the writer falls behind lines are dropped and counted
// rather than slowing payments.
package calllog

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Call is one API call as a merchant's log shows it.
type Call struct {
	ID           int64 // the store's, increasing: the cursor of a tail
	MerchantID   string
	At           time.Time
	RequestID    string
	Path         string
	ResultCode   string
	ResultStatus string // S, F or U
	Latency      time.Duration
}

// Store keeps calls.
type Store interface {
	RecordCalls(ctx context.Context, calls []Call) error
	// CallsAfter lists a merchant's calls with an id above afterID, oldest first; with afterID
	// negative, its latest limit calls, oldest first.
	CallsAfter(ctx context.Context, merchantID string, afterID int64, limit int) ([]Call, error)
	// PruneCalls deletes the calls before t.
	PruneCalls(ctx context.Context, before time.Time) error
}

// Retention is how long calls are kept.
const Retention = 7 * 24 * time.Hour

// Recorder batches calls into the store.
type Recorder struct {
	store   Store
	log     *slog.Logger
	queue   chan Call
	dropped atomic.Int64
	now     func() time.Time
}

// NewRecorder returns a recorder; Run writes what it is given.
func NewRecorder(st Store, log *slog.Logger, now func() time.Time) *Recorder {
	return &Recorder{store: st, log: log, queue: make(chan Call, 4096), now: now}
}

// Record queues a call, never blocking: a full queue drops it.
func (r *Recorder) Record(c Call) {
	select {
	case r.queue <- c:
	default:
		r.dropped.Add(1)
	}
}

// Dropped is how many calls were not recorded because the writer was behind.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Run writes queued calls in batches until ctx ends, then writes what is left; once an hour it
// deletes the calls older than Retention.
func (r *Recorder) Run(ctx context.Context) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var batch []Call
	lastPrune := time.Time{}
	flush := func(ctx context.Context) {
		if len(batch) == 0 {
			return
		}
		if err := r.store.RecordCalls(ctx, batch); err != nil {
			r.log.WarnContext(ctx, "call log: batch not recorded", "calls", len(batch), "err", err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case c := <-r.queue:
			batch = append(batch, c)
			if len(batch) >= 200 {
				flush(ctx)
			}
		case <-tick.C:
			flush(ctx)
			if now := r.now(); now.Sub(lastPrune) > time.Hour {
				lastPrune = now
				if err := r.store.PruneCalls(ctx, now.Add(-Retention)); err != nil {
					r.log.WarnContext(ctx, "call log: prune", "err", err)
				}
			}
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			for {
				select {
				case c := <-r.queue:
					batch = append(batch, c)
					continue
				default:
				}
				break
			}
			flush(final)
			cancel()
			return
		}
	}
}
