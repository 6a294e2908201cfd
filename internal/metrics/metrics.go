// Package metrics exposes what an operator watches: API calls by API and result code with their
// latency, acquirer latency by operation and outcome, notification attempts, and the depth and age
// of the outbox. The acquirer is observed by a decorator over its interface, the API by a wrapper
// around its handler: the domain knows nothing of metrics.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cardgate/cardgate/internal/acquirer"
)

// Metrics holds the collectors of one gateway process.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	acqCalls  *prometheus.HistogramVec
	attempts  *prometheus.CounterVec
	attemptMS *prometheus.HistogramVec
	badBodies *prometheus.CounterVec
	failovers *prometheus.CounterVec
	breakers  *prometheus.GaugeVec
	signer    *prometheus.GaugeVec
}

// OutboxStats reports the outbox for the depth and age gauges.
type OutboxStats interface {
	OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error)
}

// New registers the collectors; stats may be nil.
func New(stats OutboxStats, now func() time.Time) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardgate_api_requests_total", Help: "API calls by API and result code.",
		}, []string{"api", "result_code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cardgate_api_request_duration_seconds", Help: "API call latency, from first byte read to last byte written.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"api"}),
		acqCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cardgate_acquirer_call_duration_seconds", Help: "Acquirer call latency by acquirer, operation and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"acquirer", "op", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardgate_notification_attempts_total", Help: "Notification delivery attempts by type and whether the merchant acknowledged.",
		}, []string{"notify_type", "delivered"}),
		attemptMS: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cardgate_notification_attempt_duration_seconds", Help: "Notification delivery latency.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"delivered"}),
		badBodies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardgate_http_bad_bodies_total", Help: "API request bodies that could not be read: timeout, aborted or too_large.",
		}, []string{"reason"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardgate_acquirer_failovers_total", Help: "Authorizations moved from one acquirer to the next of their route.",
		}, []string{"from", "to"}),
		breakers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cardgate_acquirer_breaker_open", Help: "1 while an acquirer is set aside after technical failures in a row, else 0.",
		}, []string{"acquirer"}),
		signer: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cardgate_signer_info", Help: "1 for the implementation that makes the gateway's signatures: go (crypto/rsa) or openssl (libcrypto, an openssl build).",
		}, []string{"signer"}),
	}
	for _, reason := range []string{"timeout", "aborted", "too_large"} {
		m.badBodies.WithLabelValues(reason) // present at 0 before the first, so a rate can be taken
	}
	m.reg.MustRegister(m.badBodies, m.requests, m.latency, m.acqCalls, m.attempts, m.attemptMS, m.failovers, m.breakers, m.signer,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if stats != nil {
		m.reg.MustRegister(&outboxCollector{stats: stats, now: now,
			depth: prometheus.NewDesc("cardgate_outbox_pending", "Notifications not yet delivered nor given up.", nil, nil),
			age:   prometheus.NewDesc("cardgate_outbox_oldest_pending_age_seconds", "Age of the oldest pending notification.", nil, nil),
		})
	}
	return m
}

// ObserveGroupCommits exports SQLite's group commit (stats is the store's GroupStats): its
// commits and the transactions they recorded, so that the mean group size is a rate's ratio.
func (m *Metrics) ObserveGroupCommits(stats func() (groups, members int64)) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cardgate_sqlite_group_commits_total", Help: "SQLite commits, each recording a group of transactions.",
		}, func() float64 { g, _ := stats(); return float64(g) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cardgate_sqlite_grouped_transactions_total", Help: "Transactions SQLite's group commits recorded; over the commits, the mean group size.",
		}, func() float64 { _, n := stats(); return float64(n) }),
	)
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveAPI records one API call. The path is reduced to the API's name so that the label set
// stays small whatever paths clients send.
func (m *Metrics) ObserveAPI(path, resultCode string, d time.Duration) {
	api := apiName(path)
	m.requests.WithLabelValues(api, resultCode).Inc()
	m.latency.WithLabelValues(api).Observe(d.Seconds())
}

func apiName(path string) string {
	for _, prefix := range []string{"/ams/sandbox/api/v1/", "/ams/api/v1/", "/cardgate/v1/", "/sandbox/v1/"} {
		if rest, ok := strings.CutPrefix(path, prefix); ok && rest != "" && len(rest) < 64 {
			return rest
		}
	}
	return "unknown"
}

// ObserveBadBody records an API request whose body could not be read (api.BodyTimeout, …).
func (m *Metrics) ObserveBadBody(reason string) { m.badBodies.WithLabelValues(reason).Inc() }

// ObserveFailover counts an authorization moved from one acquirer to the next.
func (m *Metrics) ObserveFailover(from, to string) { m.failovers.WithLabelValues(from, to).Inc() }

// SetSigner reports which signer makes the gateway's signatures (internal/signer's Name).
func (m *Metrics) SetSigner(name string) {
	m.signer.Reset()
	m.signer.WithLabelValues(name).Set(1)
}

// ObserveBreaker sets an acquirer's breaker state (present at 0 from the start once called so).
func (m *Metrics) ObserveBreaker(acquirer string, open bool) {
	v := 0.0
	if open {
		v = 1
	}
	m.breakers.WithLabelValues(acquirer).Set(v)
}

// ObserveAttempt records one notification attempt.
func (m *Metrics) ObserveAttempt(notifyType string, delivered bool, d time.Duration) {
	label := "false"
	if delivered {
		label = "true"
	}
	m.attempts.WithLabelValues(notifyType, label).Inc()
	m.attemptMS.WithLabelValues(label).Observe(d.Seconds())
}

type outboxCollector struct {
	stats      OutboxStats
	now        func() time.Time
	depth, age *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.age }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, oldest, err := c.stats.OutboxStats(ctx)
	if err != nil {
		return // a scrape must not fail because the store is slow; the gauges are simply absent
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n))
	age := 0.0
	if n > 0 && !oldest.IsZero() {
		age = c.now().Sub(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age)
}

// Acquirer wraps an acquirer so every call is timed by operation and outcome.
func (m *Metrics) Acquirer(a acquirer.Acquirer) acquirer.Acquirer {
	return &observed{Acquirer: a, m: m}
}

type observed struct {
	acquirer.Acquirer
	m *Metrics
}

func (o *observed) observe(op string, start time.Time, outcome string) {
	o.m.acqCalls.WithLabelValues(o.Name(), op, outcome).Observe(time.Since(start).Seconds())
}

func authOutcome(r acquirer.AuthResult, err error) string {
	if err != nil {
		return "error"
	}
	return r.Outcome.String()
}

func opOutcome(r acquirer.OpResult, err error) string {
	switch {
	case err != nil:
		return "error"
	case r.Status == acquirer.OpSucceeded:
		return "succeeded"
	case r.Status == acquirer.OpFailed:
		return "failed"
	}
	return "pending"
}

func (o *observed) Authorize(ctx context.Context, req acquirer.AuthRequest) (acquirer.AuthResult, error) {
	start := time.Now()
	r, err := o.Acquirer.Authorize(ctx, req)
	o.observe("authorize", start, authOutcome(r, err))
	return r, err
}

func (o *observed) InquireAuthorization(ctx context.Context, id string) (acquirer.AuthResult, error) {
	start := time.Now()
	r, err := o.Acquirer.InquireAuthorization(ctx, id)
	o.observe("inquire_authorization", start, authOutcome(r, err))
	return r, err
}

func (o *observed) Capture(ctx context.Context, req acquirer.CaptureRequest) (acquirer.OpResult, error) {
	start := time.Now()
	r, err := o.Acquirer.Capture(ctx, req)
	o.observe("capture", start, opOutcome(r, err))
	return r, err
}

func (o *observed) InquireCapture(ctx context.Context, ref string) (acquirer.OpResult, error) {
	start := time.Now()
	r, err := o.Acquirer.InquireCapture(ctx, ref)
	o.observe("inquire_capture", start, opOutcome(r, err))
	return r, err
}

func (o *observed) Refund(ctx context.Context, req acquirer.RefundRequest) (acquirer.OpResult, error) {
	start := time.Now()
	r, err := o.Acquirer.Refund(ctx, req)
	o.observe("refund", start, opOutcome(r, err))
	return r, err
}

func (o *observed) Reverse(ctx context.Context, paymentID string) error {
	start := time.Now()
	err := o.Acquirer.Reverse(ctx, paymentID)
	outcome := "succeeded"
	if err != nil {
		outcome = "error"
	}
	o.observe("reverse", start, outcome)
	return err
}

func (o *observed) InquireByReference(ctx context.Context, paymentID string) (acquirer.AuthResult, error) {
	start := time.Now()
	r, err := o.Acquirer.InquireByReference(ctx, paymentID)
	outcome := authOutcome(r, err)
	if errors.Is(err, acquirer.ErrNotFound) {
		outcome = "not-found"
	}
	o.observe("inquire_by_reference", start, outcome)
	return r, err
}

func (o *observed) Void(ctx context.Context, id string) error {
	start := time.Now()
	err := o.Acquirer.Void(ctx, id)
	outcome := "succeeded"
	if err != nil {
		outcome = "error"
	}
	o.observe("void", start, outcome)
	return err
}
