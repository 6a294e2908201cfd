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
	PerMerchant int           // deliveries in flight to one merchant at once
	Concurrency int           // deliveries in flight in all
	Poll        time.Duration // how often to look for due messages when not woken
	Policy      Policy
	// Observe, when set, is told of every attempt (metrics).
	Observe func(notifyType string, delivered bool, d time.Duration)
}

// Dispatcher delivers due notifications, concurrently, with a bound per merchant so that one slow
// endpoint never delays the others.
type Dispatcher struct {
	store   Store
	key     keyring.Key
	clock   clock.Clock // the gateway clock: the schedule
	wall    clock.Clock // leases and request-time
	http    *http.Client
	log     *slog.Logger
	cfg     Config
	wake    chan struct{}
	sem     chan struct{}
	mu      sync.Mutex
	busy    map[string]int // deliveries in flight per merchant
	held    int            // Hold calls outstanding: no claiming meanwhile
	idle    *sync.Cond     // signalled when deliveries finish
	running int
}

// New builds a dispatcher.
func New(store Store, key keyring.Key, clk clock.Clock, log *slog.Logger, cfg Config) *Dispatcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.PerMerchant <= 0 {
		cfg.PerMerchant = 4
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	transport := &http.Transport{
		DialContext:         cfg.Policy.dialer(func() *net.Dialer { return &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second} }),
		Proxy:               nil, // a proxy would dial for us and bypass the address policy
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
		wake: make(chan struct{}, 1),
		sem:  make(chan struct{}, cfg.Concurrency),
		busy: map[string]int{},
	}
	d.idle = sync.NewCond(&d.mu)
	return d
}

// Wake asks the dispatcher to look for due messages now (after a commit wrote one).
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for deliveries in flight.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		d.dispatch(ctx, &wg)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

func (d *Dispatcher) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	for {
		d.mu.Lock()
		if d.held > 0 {
			d.mu.Unlock()
			return
		}
		free := cap(d.sem) - len(d.sem)
		var busy []string
		for m, n := range d.busy {
			if n >= d.cfg.PerMerchant {
				busy = append(busy, m)
			}
		}
		d.mu.Unlock()
		if free == 0 {
			return
		}
		// Claim at most one merchant's bound at a time: a larger batch would lease many messages
		// of one merchant only to release all but a few again, one write each.
		limit := min(free, d.cfg.PerMerchant)
		now := d.wall.Now()
		msgs, err := d.store.ClaimDue(ctx, d.clock.Now(), now, now.Add(d.lease()), limit, busy)
		if err != nil {
			if ctx.Err() == nil {
				d.log.ErrorContext(ctx, "claim notifications", "err", err)
			}
			return
		}
		for _, m := range msgs {
			d.mu.Lock()
			if d.held > 0 || d.busy[m.MerchantID] >= d.cfg.PerMerchant {
				// Held meanwhile (the sandbox clock steps through due attempts itself), or this
				// merchant filled up within the batch: release the message for a later pass.
				d.mu.Unlock()
				d.release(ctx, m)
				continue
			}
			d.busy[m.MerchantID]++
			d.running++
			d.mu.Unlock()
			d.sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer d.done(m.MerchantID)
				if err := d.attempt(context.WithoutCancel(ctx), m); err != nil {
					d.log.ErrorContext(ctx, "record notification attempt", "notificationId", m.ID, "err", err)
				}
			}()
		}
		if len(msgs) < limit {
			return
		}
	}
}

func (d *Dispatcher) done(merchantID string) {
	<-d.sem
	d.mu.Lock()
	d.busy[merchantID]--
	if d.busy[merchantID] == 0 {
		delete(d.busy, merchantID)
	}
	d.running--
	d.idle.Broadcast()
	d.mu.Unlock()
	d.Wake() // a slot is free: another message of this merchant may be waiting
}

// lease is how long a claimed message stays ours: longer than any attempt can take.
func (d *Dispatcher) lease() time.Duration { return 2*d.cfg.Timeout + 5*time.Second }

func (d *Dispatcher) release(ctx context.Context, m Message) {
	if err := d.store.Release(ctx, m.ID); err != nil {
		d.log.WarnContext(ctx, "release notification", "notificationId", m.ID, "err", err)
	}
}

// Hold stops claiming and waits for deliveries in flight; release resumes. The sandbox clock
// holds the dispatcher while it steps through due work, so every due attempt runs exactly once,
// in order, before the advance answers.
func (d *Dispatcher) Hold() (release func()) {
	d.mu.Lock()
	d.held++
	for d.running > 0 {
		d.idle.Wait()
	}
	d.mu.Unlock()
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
	a := d.post(ctx, m)
	a.Manual, a.Attempt = true, m.Attempts
	if a.Delivered {
		m.Status, m.DeliveredAt = StatusDelivered, a.At
	}
	m.LastAttemptAt = a.At
	return a, d.store.RecordAttempt(ctx, m, a)
}

// attempt posts a claimed message and records the scheduled attempt with its consequence.
func (d *Dispatcher) attempt(ctx context.Context, m Message) error {
	a := d.post(ctx, m)
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
	return d.store.RecordAttempt(ctx, m, a)
}

// post signs and posts the message once.
func (d *Dispatcher) post(ctx context.Context, m Message) Attempt {
	a := Attempt{OutboxID: m.ID, At: d.clock.Now()}
	start := time.Now()
	defer func() { a.Latency = time.Since(start) }()
	u, err := url.Parse(m.URL)
	if err != nil {
		a.Error = "bad notify URL: " + err.Error()
		return a
	}
	// The merchant verifies over the path of its notify URL, without the query (antom-wire §2.7).
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	reqTime := protocol.FormatTime(d.wall.Now().UTC())
	sig, err := protocol.Sign(d.key.Private, protocol.SigningContent(http.MethodPost, path, m.MerchantID, reqTime, m.Body))
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
