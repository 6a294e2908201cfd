package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
)

// Automatic captures run off the request path. The approval of an automatic payment commits
// with its capture reserved (AUTH_APPROVED then CAPTURE, one commit, the transaction PROCESSING
// with its due time), so the pay answers after two commits: the payment created, the
// authorization recorded. The capture is then sent to the acquirer and its answer recorded with
// those of the other captures that ended meanwhile, in one commit.
//
// Nothing is lost across a crash: a capture reserved and never recorded is due work
// (DueCaptureStatus at the transaction's due time, Config.AcquirerRetry after the reservation),
// which sends it again. The queue in memory is only the fast path.
//
// How captures run depends on the caller:
//   - inline (a Service as NewService returns it): right after the approval's commit, in the
//     request, as a capture the merchant asked for;
//   - StartCaptures: each capture in its own goroutine, answers recorded in batches by one writer;
//   - DeferCaptures: held until FlushCaptures, which runs them in order and records them as one
//     batch (the deterministic simulation decides when, and whether a crash comes first).
type captureQueue struct {
	mu       sync.Mutex
	mode     captureMode
	owed     int           // captures handed over and not yet recorded
	idle     chan struct{} // closed while owed is 0
	deferred []captureJob
	results  chan capturedResult
	slots    chan struct{} // bounds the captures in flight at the acquirer
}

type captureMode int

const (
	captureInline captureMode = iota
	captureAsync
	captureDeferred
)

type captureJob struct {
	p Payment // as the reservation's commit left it
	t Txn
}

type capturedResult struct {
	job captureJob
	res acquirer.OpResult
}

// MaxCaptureBatch bounds the capture answers one commit records.
const MaxCaptureBatch = 128

// maxCapturesInFlight bounds the captures at the acquirer at once; beyond it a capture runs in
// its request, which slows the callers down rather than letting memory grow.
const maxCapturesInFlight = 1024

func (q *captureQueue) setIdle() {
	if q.idle == nil {
		q.idle = make(chan struct{})
	}
	select {
	case <-q.idle:
	default:
		close(q.idle)
	}
}

// add counts one capture handed over; done counts n recorded.
func (q *captureQueue) add() {
	if q.owed == 0 {
		q.idle = make(chan struct{})
	}
	q.owed++
}

func (q *captureQueue) done(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.owed -= n
	if q.owed == 0 {
		q.setIdle()
	}
}

// StartCaptures makes automatic captures run in the background until ctx ends; the returned
// function waits for the captures handed over before that to be recorded.
func (s *Service) StartCaptures(ctx context.Context) (wait func()) {
	q := &s.captures
	q.mu.Lock()
	q.mode = captureAsync
	q.results = make(chan capturedResult, maxCapturesInFlight)
	q.slots = make(chan struct{}, maxCapturesInFlight)
	q.mu.Unlock()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.recordCaptures(ctx)
	}()
	return func() { <-stopped }
}

// DeferCaptures holds automatic captures until FlushCaptures.
func (s *Service) DeferCaptures() {
	s.captures.mu.Lock()
	s.captures.mode = captureDeferred
	s.captures.mu.Unlock()
}

// FlushCaptures sends the deferred captures to the acquirer, in the order they were reserved,
// and records their answers in one batch.
func (s *Service) FlushCaptures(ctx context.Context) {
	q := &s.captures
	q.mu.Lock()
	jobs := q.deferred
	q.deferred = nil
	q.mu.Unlock()
	if len(jobs) == 0 {
		return
	}
	batch := make([]capturedResult, len(jobs))
	for i, j := range jobs {
		batch[i] = capturedResult{job: j, res: s.sendCapture(ctx, j.p, j.t)}
	}
	s.recordCaptureBatch(ctx, batch)
	q.done(len(jobs))
}

// CapturesOwed is the number of captures handed over and not yet recorded.
func (s *Service) CapturesOwed() int {
	s.captures.mu.Lock()
	defer s.captures.mu.Unlock()
	return s.captures.owed
}

// CapturesIdle waits until every capture handed over has been recorded (or ctx ends).
func (s *Service) CapturesIdle(ctx context.Context) error {
	q := &s.captures
	q.mu.Lock()
	if q.owed == 0 {
		q.mu.Unlock()
		return nil
	}
	idle := q.idle
	q.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// captureOwed hands over the capture that p's approval reserved. It returns the payment as the
// caller should show it: captured already when the capture ran inline.
func (s *Service) captureOwed(ctx context.Context, p Payment, t Txn) Payment {
	ctx = context.WithoutCancel(ctx) // reserved: the answer must be recorded
	q := &s.captures
	q.mu.Lock()
	switch q.mode {
	case captureDeferred:
		q.add()
		q.deferred = append(q.deferred, captureJob{p: p, t: t})
		q.mu.Unlock()
		return p
	case captureAsync:
		select {
		case q.slots <- struct{}{}:
			q.add()
			q.mu.Unlock()
			go func() {
				r := capturedResult{job: captureJob{p: p, t: t}, res: s.sendCapture(ctx, p, t)}
				<-q.slots
				q.results <- r // buffered as deep as the slots: never blocks
			}()
			return p
		default: // full: this request waits for its own capture
		}
	}
	q.mu.Unlock()
	_, captured, err := s.recordCapture(ctx, p, t, s.sendCapture(ctx, p, t))
	if err != nil {
		s.log.ErrorContext(ctx, "automatic capture", "paymentId", p.ID, "err", err)
		return p
	}
	return captured
}

// recordCaptures is the one writer of the background captures' answers: it takes what has
// arrived, up to MaxCaptureBatch, and records it in one commit. Under load the answers that
// arrive during one commit make the next batch; alone, a capture is recorded at once.
func (s *Service) recordCaptures(ctx context.Context) {
	q := &s.captures
	batch := make([]capturedResult, 0, MaxCaptureBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-q.results:
			batch = append(batch, r)
		case <-ctx.Done():
			// Stopping: what was handed over is still recorded, so that a clean shutdown leaves no
			// capture for the due work to find.
			s.finishCaptures()
			return
		}
	more:
		for len(batch) < MaxCaptureBatch {
			select {
			case r := <-q.results:
				batch = append(batch, r)
			default:
				break more
			}
		}
		s.recordCaptureBatch(context.WithoutCancel(ctx), batch)
		q.done(len(batch))
	}
}

// finishCaptures records the captures still at the acquirer when the writer stops; new ones
// run inline from now on.
func (s *Service) finishCaptures() {
	q := &s.captures
	q.mu.Lock()
	q.mode = captureInline
	owed := q.owed
	q.mu.Unlock()
	ctx := context.Background()
	for owed > 0 {
		batch := []capturedResult{<-q.results}
		s.recordCaptureBatch(ctx, batch)
		q.done(1)
		owed--
	}
}

// recordCaptureBatch records capture answers, in one commit when the store can.
func (s *Service) recordCaptureBatch(ctx context.Context, batch []capturedResult) {
	bs, ok := s.store.(BatchStore)
	if ok && len(batch) > 1 {
		changes := make([]Change, 0, len(batch))
		built := make([]capturedResult, 0, len(batch))
		var alone []capturedResult
		for _, r := range batch {
			ch, err := s.change(r.job.p, s.txnStep(r.job.p, r.job.t, r.res, s.captureOutcome(r.job.t)))
			if err != nil {
				alone = append(alone, r) // recordCapture reports it with the fresh payment
				continue
			}
			changes, built = append(changes, ch), append(built, r)
		}
		errs, err := bs.ApplyAll(ctx, changes)
		if err == nil {
			for i, r := range built {
				switch {
				case errs[i] == nil:
					s.committed(ctx, r.job.p, changes[i])
				case errors.Is(errs[i], ErrConflict):
					alone = append(alone, r) // the payment moved on: judged again on fresh data
				}
			}
			batch = alone
		} else {
			s.log.WarnContext(ctx, "capture batch not recorded; recording one by one", "captures", len(changes), "err", err)
		}
	}
	for _, r := range batch {
		if _, _, err := s.recordCapture(ctx, r.job.p, r.job.t, r.res); err != nil {
			// The transaction stays in process with its due time: the due work asks again.
			s.log.ErrorContext(ctx, "automatic capture not recorded", "paymentId", r.job.p.ID, "err", err)
		}
	}
}

// afterAutoCapture is p once its automatic capture, reserved with the approval and not yet
// answered, is recorded: an inquiry, capture, cancel or refund sent as soon as the pay answered
// is answered as it would have been when the capture ran in the request (captured: refundable,
// not cancellable). The wait is for a capture in flight, so it is bounded by the acquirer's timeout
// and runs on the wall clock; a capture the acquirer answered as pending is not waited for.
func (s *Service) afterAutoCapture(ctx context.Context, p Payment) (Payment, error) {
	if p.Stage() != StageCapturing || p.CaptureMode != CaptureAutomatic || s.cfg.DuplicateWait < 0 {
		return p, nil
	}
	txns, err := s.store.Txns(ctx, p.MerchantID, p.ID)
	if err != nil {
		return Payment{}, fmt.Errorf("load captures of %s: %w", p.ID, err)
	}
	unanswered, recorded := false, false
	for _, t := range txns {
		if t.Type != TxnCapture || !t.Internal {
			continue
		}
		if t.Status != TxnProcessing {
			recorded = true
		} else if t.Details.AcquirerReference == "" && s.clock.Now().Sub(t.CreatedAt) < s.cfg.AcquirerTimeout {
			unanswered = true
		}
	}
	if recorded {
		// The capture was recorded between the read of p and that of its transactions: p is
		// stale, and the caller would judge a captured payment as still capturing.
		cur, err := s.store.PaymentByID(ctx, p.MerchantID, p.ID)
		if err != nil {
			return Payment{}, fmt.Errorf("reload %s: %w", p.ID, err)
		}
		return cur, nil
	}
	if !unanswered {
		return p, nil // a capture the acquirer answered as pending is not waited for
	}
	deadline := s.cfg.Wall.Now().Add(min(s.cfg.DuplicateWait, s.cfg.AcquirerTimeout+time.Second))
	version := p.Version
	return s.awaitPayment(ctx, p, deadline, time.Millisecond, 50*time.Millisecond,
		func(cur Payment) bool { return cur.Version != version })
}

// awaitPayment reloads p until moved says a reload has moved on, the deadline passes or ctx
// ends, and returns the last reload (p when there was none). It waits for another goroutine's
// real work (an acquirer call), so the pauses, from first doubling up to most, and the deadline
// are on the wall clock (Config.Wall), never the gateway clock: a fixed or time-travelled clock
// would make the wait end at once or never.
func (s *Service) awaitPayment(ctx context.Context, p Payment, deadline time.Time, first, most time.Duration,
	moved func(Payment) bool) (Payment, error) {
	for wait := first; s.cfg.Wall.Now().Before(deadline); wait = min(wait*2, most) {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return p, nil
		case <-timer.C:
		}
		cur, err := s.store.PaymentByID(ctx, p.MerchantID, p.ID)
		if err != nil {
			return Payment{}, fmt.Errorf("reload %s: %w", p.ID, err)
		}
		if moved(cur) {
			return cur, nil
		}
		p = cur
	}
	return p, nil
}
