package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/protocol"
)

// Config tunes delivery.
type Config struct {
	Timeout     time.Duration // one delivery attempt, connect to last byte (--notify-timeout)
	PerMerchant int           // deliveries in flight to one merchant at once, at most (--notify-per-merchant)
	Concurrency int           // deliveries in flight in all
	Poll        time.Duration // how often to look for due messages when not woken
	// Coalesce is the least time between two claims: the wake-ups of many commits within it
	// make one claim, not a query each.
	Coalesce time.Duration
	// Batch and FlushEvery bound how many attempts one commit records and how long a made
	// attempt waits for its commit (well within the lease, which stays held until then).
	Batch      int
	FlushEvery time.Duration
	Policy     Policy
	// Observe, when set, is told of every attempt (metrics).
	Observe func(notifyType string, delivered bool, d time.Duration)
}

// Defaults of Config.
const (
	DefaultPerMerchant = 32
	DefaultConcurrency = 128
)

// Dispatcher delivers due notifications, concurrently, with a bound per merchant so that one slow
// endpoint never delays the others.
//
// One loop claims due messages in batches into a queue per merchant; each merchant has up to its
// limit of deliveries posting, and its limit halves whenever an attempt fails (down to one) and
// grows back by one per acknowledgement, so a merchant whose endpoint hangs or refuses holds few
// of the slots and few of the claimed messages. Attempts are recorded by a writer that commits
// many in one transaction.
type Dispatcher struct {
	store Store
	key   keyring.Key
	clock clock.Clock // the gateway clock: the schedule
	wall  clock.Clock // leases and request-time
	http  *http.Client
	log   *slog.Logger
	cfg   Config
	wake  chan struct{}

	mu         sync.Mutex
	merchants  map[string]*merchantState
	running    int             // deliveries posting
	queued     int             // claimed, waiting for a slot of their merchant
	unrecorded int             // attempts made and not yet committed
	held       int             // Hold calls outstanding (and a stopping Run): no claiming, no starting
	claiming   bool            // a claim is between its statement and its queues
	idle       *sync.Cond      // signalled when running or unrecorded falls
	recs       chan<- Recorded // the attempt writer of the Run in progress; nil outside Run
	wg         sync.WaitGroup  // deliveries posting
	runCtx     context.Context // of the Run in progress, without its cancellation
}

// merchantState is one merchant's share of the dispatcher.
type merchantState struct {
	id      string
	running int
	limit   int // deliveries at once, 1..PerMerchant
	queue   []Message
}

// New builds a dispatcher.
func New(store Store, key keyring.Key, clk clock.Clock, log *slog.Logger, cfg Config) *Dispatcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.PerMerchant <= 0 {
		cfg.PerMerchant = DefaultPerMerchant
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	cfg.PerMerchant = min(cfg.PerMerchant, cfg.Concurrency)
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Coalesce <= 0 {
		cfg.Coalesce = 10 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 128
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 20 * time.Millisecond
	}
	// One transport for every merchant, keeping as many idle connections as deliveries can be
	// in flight, so that a merchant at its limit reuses its connections instead of dialling.
	transport := &http.Transport{
		DialContext:         cfg.Policy.dialer(func() *net.Dialer { return &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second} }),
		Proxy:               nil, // a proxy would dial for us and bypass the address policy
		MaxIdleConns:        cfg.Concurrency,
		MaxIdleConnsPerHost: cfg.PerMerchant,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: cfg.Timeout,
	}
	d := &Dispatcher{
		store: store, key: key, clock: clk, wall: clock.Wall{}, log: log, cfg: cfg,
		http: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			// A redirect could lead anywhere the policy forbids; Antom's merchants answer 200.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		wake:      make(chan struct{}, 1),
		merchants: map[string]*merchantState{},
	}
	d.idle = sync.NewCond(&d.mu)
	return d
}

// Wake asks the dispatcher to look for due messages soon (after a commit wrote one). Wake-ups
// coalesce: many within Config.Coalesce make one claim.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then gives back what it claimed and did not start, waits for
// deliveries in flight and records their attempts.
func (d *Dispatcher) Run(ctx context.Context) {
	recs := make(chan Recorded, 2*d.cfg.Batch)
	writerDone := make(chan struct{})
	wctx := context.WithoutCancel(ctx)
	go func() {
		defer close(writerDone)
		d.writer(wctx, recs)
	}()
	d.mu.Lock()
	d.recs, d.runCtx = recs, wctx
	d.mu.Unlock()

	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	for {
		last := time.Now()
		d.claim(ctx)
		select {
		case <-ctx.Done():
			d.stop(wctx, recs)
			<-writerDone
			return
		case <-t.C:
		case <-d.wake:
			// Let the commits of the next few milliseconds join this claim.
			if wait := time.Until(last.Add(d.cfg.Coalesce)); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
			}
		}
	}
}

// stop ends a Run: nothing more starts, the queued leases go back, deliveries finish and the
// writer records them.
func (d *Dispatcher) stop(ctx context.Context, recs chan Recorded) {
	d.mu.Lock()
	d.held++
	back := d.takeQueuedLocked()
	d.mu.Unlock()
	d.release(ctx, back)
	d.wg.Wait()
	d.mu.Lock()
	d.recs = nil
	d.held--
	d.mu.Unlock()
	close(recs)
}

// claim leases due messages into the merchants' queues and starts what their limits allow.
func (d *Dispatcher) claim(ctx context.Context) {
	for {
		d.mu.Lock()
		if d.held > 0 || d.recs == nil {
			d.mu.Unlock()
			return
		}
		free := d.cfg.Concurrency - d.running - d.queued
		var busy []string
		for id, st := range d.merchants {
			if st.running+len(st.queue) >= st.limit {
				busy = append(busy, id)
			}
		}
		if free <= 0 {
			d.mu.Unlock()
			return
		}
		// Hold waits for this claim to be queued or given back: what a claim leases while the
		// sandbox clock steps through due work would look taken to it.
		d.claiming = true
		d.mu.Unlock()
		now := d.wall.Now()
		msgs, err := d.store.ClaimBatch(ctx, d.clock.Now(), now, now.Add(d.lease()), free, d.cfg.PerMerchant, busy)
		if err != nil {
			if ctx.Err() == nil {
				d.log.ErrorContext(ctx, "claim notifications", "err", err)
			}
			d.claimed()
			return
		}
		var back []int64
		d.mu.Lock()
		for _, m := range msgs {
			st := d.stateLocked(m.MerchantID)
			// A merchant keeps at most one limit's worth waiting beyond what it has posting: a
			// queued message must be posted well within its lease.
			if d.held > 0 || st.running+len(st.queue) >= 2*st.limit {
				back = append(back, m.ID)
				continue
			}
			st.queue = append(st.queue, m)
			d.queued++
		}
		for _, m := range msgs {
			d.startLocked(d.merchants[m.MerchantID])
		}
		d.mu.Unlock()
		d.release(ctx, back)
		d.claimed()
		if len(msgs) < free {
			return
		}
	}
}

func (d *Dispatcher) claimed() {
	d.mu.Lock()
	d.claiming = false
	d.idle.Broadcast()
	d.mu.Unlock()
}

func (d *Dispatcher) stateLocked(id string) *merchantState {
	st := d.merchants[id]
	if st == nil {
		st = &merchantState{id: id, limit: d.cfg.PerMerchant}
		d.merchants[id] = st
	}
	return st
}

// startLocked posts the merchant's queued messages its limit allows.
func (d *Dispatcher) startLocked(st *merchantState) {
	if st == nil {
		return
	}
	for d.held == 0 && st.running < st.limit && len(st.queue) > 0 {
		m := st.queue[0]
		st.queue = st.queue[1:]
		d.queued--
		st.running++
		d.running++
		d.wg.Add(1)
		go d.deliver(d.runCtx, st, m, d.recs)
	}
}

// deliver posts one claimed message and hands its attempt to the writer.
func (d *Dispatcher) deliver(ctx context.Context, st *merchantState, m Message, recs chan<- Recorded) {
	defer d.wg.Done()
	a := d.post(ctx, m)
	m = d.scheduled(ctx, m, &a)
	d.mu.Lock()
	d.unrecorded++
	d.mu.Unlock()
	recs <- Recorded{Message: m, Attempt: a} // blocks while the writer is a full batch behind
	d.finished(ctx, st, a.Delivered)
}

// finished frees the delivery's slot, adjusts the merchant's limit and starts its next message.
func (d *Dispatcher) finished(ctx context.Context, st *merchantState, delivered bool) {
	var back []int64
	d.mu.Lock()
	st.running--
	d.running--
	if delivered {
		st.limit = min(st.limit+1, d.cfg.PerMerchant)
	} else {
		// Halved on every failure: a merchant that hangs or refuses keeps few slots busy, and
		// what it has queued beyond its new limit goes back for whoever is free.
		st.limit = max(st.limit/2, 1)
		if keep := st.limit; len(st.queue) > keep {
			for _, m := range st.queue[keep:] {
				back = append(back, m.ID)
			}
			d.queued -= len(st.queue) - keep
			st.queue = st.queue[:keep:keep]
		}
	}
	d.startLocked(st)
	if st.running == 0 && len(st.queue) == 0 && st.limit == d.cfg.PerMerchant {
		delete(d.merchants, st.id) // a failing merchant's limit is remembered while it recovers
	}
	d.idle.Broadcast()
	d.mu.Unlock()
	d.release(ctx, back)
	d.Wake() // a slot is free: more may be due
}

// takeQueuedLocked empties every queue and returns the ids to release.
func (d *Dispatcher) takeQueuedLocked() []int64 {
	var ids []int64
	for id, st := range d.merchants {
		for _, m := range st.queue {
			ids = append(ids, m.ID)
		}
		st.queue = nil
		if st.running == 0 && st.limit == d.cfg.PerMerchant {
			delete(d.merchants, id)
		}
	}
	d.queued = 0
	return ids
}

// writer records attempts in batches: when Batch have come, or FlushEvery after the first of
// a batch, whichever is sooner; what is left is written when recs closes.
func (d *Dispatcher) writer(ctx context.Context, recs <-chan Recorded) {
	var (
		batch []Recorded
		timer = time.NewTimer(time.Hour)
	)
	timer.Stop()
	flush := func() {
		timer.Stop()
		if len(batch) == 0 {
			return
		}
		d.record(ctx, batch)
		batch = batch[:0]
	}
	for {
		select {
		case r, ok := <-recs:
			if !ok {
				flush()
				return
			}
			batch = append(batch, r)
			if len(batch) == 1 {
				timer.Reset(d.cfg.FlushEvery)
			}
			if len(batch) >= d.cfg.Batch {
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

// record commits a batch of attempts; if the batch fails, each is tried alone, so that one bad
// row costs its own attempt only. An attempt that cannot be recorded keeps its lease until the
// lease runs out, and is then made again: delivery is at least once.
func (d *Dispatcher) record(ctx context.Context, batch []Recorded) {
	if err := d.store.RecordAttempts(ctx, batch); err != nil {
		d.log.WarnContext(ctx, "record notification attempts in one transaction", "n", len(batch), "err", err)
		for _, r := range batch {
			if err := d.store.RecordAttempt(ctx, r.Message, r.Attempt); err != nil {
				d.log.ErrorContext(ctx, "record notification attempt", "notificationId", r.Message.ID, "err", err)
			}
		}
	}
	d.mu.Lock()
	d.unrecorded -= len(batch)
	d.idle.Broadcast()
	d.mu.Unlock()
}

// lease is how long a claimed message stays ours: longer than any attempt can take.
func (d *Dispatcher) lease() time.Duration { return 2*d.cfg.Timeout + 5*time.Second }

func (d *Dispatcher) release(ctx context.Context, ids []int64) {
	if len(ids) == 0 {
		return
	}
	if err := d.store.Release(ctx, ids...); err != nil {
		d.log.WarnContext(ctx, "release notifications", "n", len(ids), "err", err)
	}
}

// Hold stops claiming and waits for deliveries in flight and their records; release resumes.
// The sandbox clock holds the dispatcher while it steps through due work, so every due attempt
// runs exactly once, in order, before the advance answers.
func (d *Dispatcher) Hold() (release func()) {
	d.mu.Lock()
	d.held++
	back := d.takeQueuedLocked()
	d.mu.Unlock()
	d.release(context.Background(), back)
	d.mu.Lock()
	for d.running > 0 || d.unrecorded > 0 || d.claiming {
		d.idle.Wait()
	}
	back = d.takeQueuedLocked() // queued by a claim that was under way
	d.mu.Unlock()
	d.release(context.Background(), back)
	return func() {
		d.mu.Lock()
		d.held--
		d.mu.Unlock()
		d.Wake()
	}
}

// DeliverDue makes the scheduled attempt of one message now, synchronously, if it is still
// pending and unleased (the sandbox clock runs due attempts this way, in due order).
func (d *Dispatcher) DeliverDue(ctx context.Context, id int64) error {
	now := d.wall.Now()
	m, ok, err := d.store.Claim(ctx, id, now, now.Add(d.lease()))
	if err != nil {
		return err
	}
	if !ok {
		// Delivered meanwhile, or leased by a dispatcher that has not given it back yet: the
		// caller must not count this attempt as made.
		return fmt.Errorf("notification %d is leased or no longer pending", id)
	}
	return d.attempt(ctx, m)
}

// DueNotification is a scheduled attempt that is due.
type DueNotification struct {
	ID int64
	At time.Time
}

// DueNotifications lists the attempts due at or before t, earliest first.
func (d *Dispatcher) DueNotifications(ctx context.Context, t time.Time, limit int) ([]DueNotification, error) {
	msgs, err := d.store.DueMessages(ctx, t, limit)
	if err != nil {
		return nil, err
	}
	out := make([]DueNotification, len(msgs))
	for i, m := range msgs {
		out[i] = DueNotification{ID: m.ID, At: m.NextAttemptAt}
	}
	return out, nil
}

// Resend makes one extra, freshly signed attempt of a merchant's notification. It is logged like
// any attempt and does not reset the schedule; if the merchant acknowledges it, the message is
// delivered and the schedule stops.
func (d *Dispatcher) Resend(ctx context.Context, merchantID string, id int64) (Attempt, error) {
	m, err := d.store.Message(ctx, merchantID, id)
	if err != nil {
		return Attempt{}, err
	}
	// Numbered after every attempt made so far, scheduled or manual, so the attempt log counts
	// 1, 2, 3… whatever made each; the schedule's own count (m.Attempts) is left alone, so a
	// resend never takes one of the 8 scheduled attempts away.
	made, err := d.store.Attempts(ctx, id)
	if err != nil {
		return Attempt{}, err
	}
	a := d.post(ctx, m)
	a.Manual, a.Attempt = true, len(made)+1
	if a.Delivered {
		m.Status, m.DeliveredAt = StatusDelivered, a.At
	}
	m.LastAttemptAt = a.At
	return a, d.store.RecordAttempt(ctx, m, a)
}

// attempt posts a claimed message and records the scheduled attempt with its consequence.
func (d *Dispatcher) attempt(ctx context.Context, m Message) error {
	a := d.post(ctx, m)
	m = d.scheduled(ctx, m, &a)
	return d.store.RecordAttempt(ctx, m, a)
}

// scheduled is the message after its scheduled attempt a: delivered, failed for good, or due
// again on the schedule. It numbers the attempt, and reports it to Observe and the log.
func (d *Dispatcher) scheduled(ctx context.Context, m Message, a *Attempt) Message {
	m.Attempts++
	a.Attempt = m.Attempts
	m.LastAttemptAt = a.At
	switch {
	case a.Delivered:
		m.Status, m.DeliveredAt = StatusDelivered, a.At
	case m.Attempts >= len(Schedule):
		m.Status = StatusFailed
	default:
		// Counted from this attempt's due time, not from when it ran, so a dispatcher that was
		// busy or down does not push the whole schedule later.
		base := m.NextAttemptAt
		if base.IsZero() {
			base = a.At
		}
		m.NextAttemptAt = base.Add(Schedule[m.Attempts])
	}
	if d.cfg.Observe != nil {
		d.cfg.Observe(m.NotifyType, a.Delivered, a.Latency)
	}
	d.log.InfoContext(ctx, "notification attempt", "notificationId", m.ID, "notifyType", m.NotifyType, "paymentId", m.PaymentID,
		"attempt", a.Attempt, "status", a.HTTPStatus, "delivered", a.Delivered, "ms", a.Latency.Milliseconds(), "err", a.Error)
	return m
}

// post signs and posts the message once.
func (d *Dispatcher) post(ctx context.Context, m Message) (a Attempt) {
	a = Attempt{OutboxID: m.ID, At: d.clock.Now()}
	start := time.Now()
	// a is the named result, so the deferred assignment reaches the caller: measured on every
	// return path, the refused ones included.
	defer func() { a.Latency = time.Since(start) }()
	u, err := url.Parse(m.URL)
	if err != nil {
		a.Error = "bad notify URL: " + err.Error()
		return a
	}
	// The merchant verifies over the path of its notify URL, without the query (docs/wire.md §2.7).
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	reqTime := protocol.FormatTime(d.wall.Now().UTC())
	sig, err := protocol.SignWith(d.key.SignerOrKey(), protocol.SigningContent(http.MethodPost, path, m.MerchantID, reqTime, m.Body))
	if err != nil {
		a.Error = "sign: " + err.Error()
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		a.Error = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	// Lowercase names, as Antom sends them and as merchants' samples read them.
	req.Header["client-id"] = []string{m.MerchantID}
	req.Header["request-time"] = []string{reqTime}
	req.Header["signature"] = []string{protocol.SignatureHeader{KeyVersion: d.key.Version, Signature: sig}.String()}
	resp, err := d.http.Do(req)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	defer resp.Body.Close()
	a.HTTPStatus = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	a.Response = Excerpt(string(body))
	if err != nil {
		a.Error = "read answer: " + err.Error()
		return a
	}
	a.Delivered, a.Error = acknowledged(resp.StatusCode, body)
	return a
}

// acknowledged judges the merchant's answer: only HTTP 200 with result SUCCESS / S counts
// (seed 000-04); Antom's Java sample answers F when its signature check fails, and that must
// bring a retry.
func acknowledged(status int, body []byte) (bool, string) {
	if status != http.StatusOK {
		return false, fmt.Sprintf("HTTP %d", status)
	}
	var ack protocol.ErrorResponse
	if err := json.Unmarshal(body, &ack); err != nil {
		return false, "answer is not the JSON acknowledgement"
	}
	if ack.Result.ResultCode != string(protocol.CodeSuccess) || ack.Result.ResultStatus != string(protocol.StatusSuccess) {
		// Quoted and cut: the codes are the endpoint's words, shown back to the merchant.
		return false, fmt.Sprintf("answer result %.32q/%.32q is not SUCCESS/S", ack.Result.ResultCode, ack.Result.ResultStatus)
	}
	return true, ""
}
