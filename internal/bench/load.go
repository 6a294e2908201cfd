package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/protocol"
)

// Mixes are the workloads: each iteration is one business flow of one or more signed calls.
var Mixes = map[string]Mix{
	"pay": {Calls: 1, Notifications: 2, Run: func(ctx context.Context, it *Iteration) error {
		_, err := it.Pay(ctx, PayCard, "AUTOMATIC", false)
		return err
	}},
	"pay-inquiry": {Calls: 2, Notifications: 2, Run: func(ctx context.Context, it *Iteration) error {
		id, err := it.Pay(ctx, PayCard, "AUTOMATIC", false)
		if err != nil {
			return err
		}
		return it.Inquire(ctx, id)
	}},
	"manual": {Calls: 3, Notifications: 3, Run: func(ctx context.Context, it *Iteration) error {
		id, err := it.Pay(ctx, PayCard, "MANUAL", false)
		if err != nil {
			return err
		}
		if err := it.Capture(ctx, id); err != nil {
			return err
		}
		return it.Refund(ctx, id)
	}},
	"3ds-frictionless": {Calls: 1, Notifications: 2, Run: func(ctx context.Context, it *Iteration) error {
		_, err := it.Pay(ctx, FrictionlessCard, "AUTOMATIC", true)
		return err
	}},
}

// MixNames lists the mixes for usage texts.
func MixNames() string {
	names := make([]string, 0, len(Mixes))
	for n := range Mixes {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Test cards (docs/design.md "The sandbox test cards").
const (
	PayCard          = "4242424242424242" // approved
	FrictionlessCard = "4000000000003220" // 3-D Secure frictionless: approved without a page
)

// Amount is what every bench payment is for: 42.00 SGD in minor units.
const (
	Currency    = "SGD"
	AmountMinor = "4200"
)

// Mix is one workload.
type Mix struct {
	// Calls is the number of API calls of one iteration; Notifications the number of
	// notifications a successful iteration owes when a notify URL is given.
	Calls, Notifications int
	Run                  func(ctx context.Context, it *Iteration) error
}

// Config is one measured run.
type Config struct {
	Mix         string
	Concurrency int           // closed loop: this many workers, each starting its next iteration when the last ends
	Rate        float64       // open loop when > 0: iterations started per second, whatever the answers' latency
	Duration    time.Duration // how long to measure, unless Count is set
	Count       int64         // iterations to run (0: Duration decides)
	NotifyURL   string        // paymentNotifyUrl and refundNotifyUrl; empty: none
	RunID       string        // makes request ids unique across runs on one store
	// Progress receives a line per second (done, rps, p99 of the last second, errors); nil: none.
	Progress io.Writer
	// ProgressCR rewrites the progress line in place (a terminal) instead of a line per second.
	ProgressCR bool
	Label      string // prefixes the progress line: "gateway", "baseline"
}

// Result is what one run measured. Latencies are per API call.
type Result struct {
	Mix         string
	Concurrency int
	Rate        float64
	Elapsed     time.Duration
	Iterations  int64
	Calls       int64
	Errors      int64
	FirstError  string
	Codes       map[string]int64 // "pay S/SUCCESS": count
	Latency     *Snapshot
	// CPU is the CPU time this process used during the run: the load generator's, plus the
	// server's when it runs in this process (a started gateway, the baseline). Unlike
	// throughput it hardly moves when other work shares the machine.
	CPU time.Duration
}

// RPS is API calls per second.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Calls) / r.Elapsed.Seconds()
}

// Iteration is one worker's view of the run: it signs calls, records their latency and result.
type Iteration struct {
	r       *runner
	c       *client.Client
	started time.Time // when the iteration was due: the first call's latency counts from here
}

type runner struct {
	cfg     Config
	hist    Histogram
	errs    atomic.Int64
	firstMu sync.Mutex
	first   string
	codesMu sync.Mutex
	codes   map[string]int64
	iters   atomic.Int64 // iterations started
	done    atomic.Int64 // iterations finished, with or without error
}

func (r *runner) fail(err error) {
	r.errs.Add(1)
	r.firstMu.Lock()
	if r.first == "" {
		r.first = err.Error()
	}
	r.firstMu.Unlock()
}

// call times one API call and records its answer. A call that is not S is an error of the run:
// every mix is built of calls that succeed on a healthy gateway.
func (it *Iteration) call(ctx context.Context, api string, req, resp any, result func() protocol.Result) error {
	start := it.started
	if start.IsZero() {
		start = time.Now()
	}
	it.started = time.Time{}
	err := it.c.Call(ctx, api, req, resp)
	it.r.hist.Record(time.Since(start))
	name := strings.TrimPrefix(api, "/v1/payments/")
	if err != nil {
		it.r.count(name + " error")
		return fmt.Errorf("%s: %w", name, err)
	}
	res := result()
	it.r.count(name + " " + res.ResultStatus + "/" + res.ResultCode)
	if res.ResultStatus != "S" {
		return fmt.Errorf("%s answered %s/%s: %s", name, res.ResultStatus, res.ResultCode, res.ResultMessage)
	}
	return nil
}

func (r *runner) count(key string) {
	r.codesMu.Lock()
	r.codes[key]++
	r.codesMu.Unlock()
}

// requestSeq numbers request ids across every run of the process (warm-up, template, measured
// run), so that none reuses another's id within one RunID.
var requestSeq atomic.Int64

func (it *Iteration) requestID(kind string) string {
	return "bench-" + it.r.cfg.RunID + "-" + kind + "-" + strconv.FormatInt(requestSeq.Add(1), 10)
}

// Pay pays 42.00 SGD with cardNo and returns the paymentId.
func (it *Iteration) Pay(ctx context.Context, cardNo, captureMode string, threeDS bool) (string, error) {
	id := it.requestID("pay")
	amount := &protocol.Amount{Currency: Currency, Value: AmountMinor}
	req := &protocol.PayRequest{
		ProductCode: "CASHIER_PAYMENT", PaymentRequestID: id, PaymentAmount: amount,
		PaymentRedirectURL: "https://merchant.example/return", PaymentNotifyURL: it.r.cfg.NotifyURL,
		PaymentFactor: &protocol.PaymentFactor{IsAuthorization: true, CaptureMode: captureMode},
		PaymentMethod: &protocol.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodMetaData: &protocol.CardMetaData{
			CardNo: cardNo, ExpiryMonth: "12", ExpiryYear: "30", CVV: "123", Is3DSAuthentication: threeDS,
			CardholderName: &protocol.UserName{FirstName: "Bench", LastName: "Buyer"},
		}},
		Order: &protocol.Order{ReferenceOrderID: id, OrderDescription: "cardgate bench", OrderAmount: amount,
			Buyer: &protocol.Buyer{ReferenceBuyerID: "bench-buyer"}},
		Env: &protocol.Env{TerminalType: "WEB", ClientIP: "127.0.0.1"},
	}
	var resp protocol.PayResponse
	if err := it.call(ctx, protocol.PathPay, req, &resp, func() protocol.Result { return resp.Result }); err != nil {
		return "", err
	}
	return resp.PaymentID, nil
}

// Inquire asks for the payment's state.
func (it *Iteration) Inquire(ctx context.Context, paymentID string) error {
	var resp protocol.InquiryPaymentResponse
	return it.call(ctx, protocol.PathInquiryPayment, &protocol.InquiryPaymentRequest{PaymentID: paymentID}, &resp,
		func() protocol.Result { return resp.Result })
}

// Capture captures the full amount.
func (it *Iteration) Capture(ctx context.Context, paymentID string) error {
	var resp protocol.CaptureResponse
	req := &protocol.CaptureRequest{CaptureRequestID: it.requestID("cap"), PaymentID: paymentID,
		CaptureAmount: &protocol.Amount{Currency: Currency, Value: AmountMinor}}
	return it.call(ctx, protocol.PathCapture, req, &resp, func() protocol.Result { return resp.Result })
}

// Refund refunds the full amount.
func (it *Iteration) Refund(ctx context.Context, paymentID string) error {
	var resp protocol.RefundResponse
	req := &protocol.RefundRequest{RefundRequestID: it.requestID("ref"), PaymentID: paymentID,
		RefundAmount: &protocol.Amount{Currency: Currency, Value: AmountMinor}, RefundNotifyURL: it.r.cfg.NotifyURL}
	return it.call(ctx, protocol.PathRefund, req, &resp, func() protocol.Result { return resp.Result })
}

// Warm runs one untimed iteration per worker: it opens the connections and touches every path
// once, so that the measurement starts on a warm gateway.
func Warm(ctx context.Context, c *client.Client, cfg Config) error {
	mix, ok := Mixes[cfg.Mix]
	if !ok {
		return fmt.Errorf("unknown mix %q (one of %s)", cfg.Mix, MixNames())
	}
	r := &runner{cfg: cfg, codes: map[string]int64{}}
	var wg sync.WaitGroup
	for range max(cfg.Concurrency, 1) {
		wg.Go(func() {
			if err := mix.Run(ctx, &Iteration{r: r, c: c}); err != nil {
				r.fail(err)
			}
		})
	}
	wg.Wait()
	if r.first != "" {
		return fmt.Errorf("warm-up: %s", r.first)
	}
	return nil
}

// Run measures cfg's mix against the gateway behind c.
func Run(ctx context.Context, c *client.Client, cfg Config) (*Result, error) {
	mix, ok := Mixes[cfg.Mix]
	if !ok {
		return nil, fmt.Errorf("unknown mix %q (one of %s)", cfg.Mix, MixNames())
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Count <= 0 && cfg.Duration <= 0 {
		return nil, errors.New("give a duration or a count")
	}
	r := &runner{cfg: cfg, codes: map[string]int64{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Count <= 0 && cfg.Rate <= 0 {
		// The open loop ends by its schedule instead (rate × duration iterations).
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, cfg.Duration)
		defer stop()
	}
	// The calls themselves must not be cut short when the measured time ends: a cancelled call
	// would show as an error. They finish; no new iteration starts.
	callCtx := context.WithoutCancel(ctx)
	next := func() bool {
		if ctx.Err() != nil {
			return false
		}
		if cfg.Count > 0 {
			return r.iters.Add(1) <= cfg.Count
		}
		r.iters.Add(1)
		return true
	}
	iterate := func(due time.Time) {
		if err := mix.Run(callCtx, &Iteration{r: r, c: c, started: due}); err != nil {
			r.fail(err)
		}
		r.done.Add(1)
	}

	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	cpu0 := processCPU()
	start := time.Now()
	go func() {
		defer close(progressDone)
		r.progress(start, stopProgress)
	}()

	var wg sync.WaitGroup
	if cfg.Rate > 0 {
		// Open loop: iteration i is due at start + i/rate whether or not earlier ones have
		// answered, and its first call's latency counts from when it was due, so a slow gateway
		// shows as latency rather than as a lower offered rate (no coordinated omission).
		interval := time.Duration(float64(time.Second) / cfg.Rate)
		end := start.Add(cfg.Duration)
		for i := int64(0); ; i++ {
			due := start.Add(time.Duration(i) * interval)
			if cfg.Count <= 0 && !due.Before(end) {
				break // exactly rate × duration iterations, however late the timer fires
			}
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
			if !next() {
				break
			}
			wg.Go(func() { iterate(due) })
		}
	} else {
		for range cfg.Concurrency {
			wg.Go(func() {
				for next() {
					iterate(time.Time{})
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	close(stopProgress)
	<-progressDone

	res := &Result{Mix: cfg.Mix, Concurrency: cfg.Concurrency, Rate: cfg.Rate, Elapsed: elapsed,
		Errors: r.errs.Load(), FirstError: r.first, Codes: r.codes, Latency: r.hist.Snapshot(), CPU: cpu}
	res.Calls = res.Latency.N
	res.Iterations = r.done.Load()
	return res, nil
}

// progress writes a line a second: calls done, calls/s and p99 over the last second, errors.
func (r *runner) progress(start time.Time, stop <-chan struct{}) {
	if r.cfg.Progress == nil {
		<-stop
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	prev, prevAt := r.hist.Snapshot(), start
	for {
		select {
		case <-stop:
			if r.cfg.ProgressCR {
				fmt.Fprint(r.cfg.Progress, "\r\033[K")
			}
			return
		case now := <-t.C:
			cur := r.hist.Snapshot()
			win := cur.Since(prev)
			line := fmt.Sprintf("%-8s %5.0fs  done %7d  rps %7.1f  p99 %7.1fms  errors %d",
				r.cfg.Label, now.Sub(start).Seconds(), cur.N, float64(win.N)/now.Sub(prevAt).Seconds(),
				ms(win.Percentile(0.99)), r.errs.Load())
			if r.cfg.ProgressCR {
				fmt.Fprint(r.cfg.Progress, "\r\033[K"+line)
			} else {
				fmt.Fprintln(r.cfg.Progress, line)
			}
			prev, prevAt = cur, now
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Merge adds up the rounds of one side of an alternating run (gateway, baseline, gateway, …)
// into one result, as if they were one run of their summed length.
func Merge(rs ...*Result) *Result {
	if len(rs) == 0 {
		return nil
	}
	m := &Result{Mix: rs[0].Mix, Concurrency: rs[0].Concurrency, Rate: rs[0].Rate, Codes: map[string]int64{}, Latency: &Snapshot{}}
	for _, r := range rs {
		m.Elapsed += r.Elapsed
		m.Iterations += r.Iterations
		m.Calls += r.Calls
		m.Errors += r.Errors
		m.CPU += r.CPU
		if m.FirstError == "" {
			m.FirstError = r.FirstError
		}
		for k, v := range r.Codes {
			m.Codes[k] += v
		}
		for i, c := range r.Latency.counts {
			m.Latency.counts[i] += c
		}
		m.Latency.N += r.Latency.N
		m.Latency.Max = max(m.Latency.Max, r.Latency.Max)
	}
	return m
}
