package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OutboxSample is the gateway's outbox as its /metrics shows it at one moment.
type OutboxSample struct {
	Pending int64
	Oldest  time.Duration // age of the oldest pending notification
}

// ScrapeOutbox reads the outbox gauges from a gateway's /metrics.
func ScrapeOutbox(ctx context.Context, hc *http.Client, base string) (OutboxSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/metrics", nil)
	if err != nil {
		return OutboxSample{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return OutboxSample{}, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return OutboxSample{}, fmt.Errorf("metrics: HTTP %d", resp.StatusCode)
	}
	var (
		s          OutboxSample
		seen       int
		sc         = bufio.NewScanner(resp.Body)
		parseGauge = func(line, name string) (float64, bool) {
			rest, ok := strings.CutPrefix(line, name+" ")
			if !ok {
				return 0, false
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := parseGauge(sc.Text(), "cardgate_outbox_pending"); ok {
			s.Pending, seen = int64(v), seen+1
		}
		if v, ok := parseGauge(sc.Text(), "cardgate_outbox_oldest_pending_age_seconds"); ok {
			s.Oldest, seen = time.Duration(v*float64(time.Second)), seen+1
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	if seen < 2 {
		return s, fmt.Errorf("metrics of %s have no outbox gauges", base)
	}
	return s, nil
}

// ScrapeSigner reads which signer a gateway signs with from its /metrics
// (cardgate_signer_info{signer="…"} 1); "" when it does not say.
func ScrapeSigner(ctx context.Context, hc *http.Client, base string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("metrics: HTTP %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), `cardgate_signer_info{signer="`)
		if !ok {
			continue
		}
		if name, value, ok := strings.Cut(rest, `"} `); ok && strings.TrimSpace(value) == "1" {
			return name, nil
		}
	}
	return "", sc.Err()
}

// OutboxWatch samples a gateway's outbox every second and keeps the largest depth and age seen.
type OutboxWatch struct {
	base string
	hc   *http.Client
	stop context.CancelFunc
	done chan struct{}

	mu        sync.Mutex
	max       OutboxSample
	samples   int
	failures  atomic.Int64
	lastError string
}

// WatchOutbox starts sampling base's /metrics.
func WatchOutbox(ctx context.Context, base string) *OutboxWatch {
	ctx, stop := context.WithCancel(ctx)
	w := &OutboxWatch{base: base, hc: &http.Client{Timeout: 5 * time.Second}, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			w.Sample(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// Sample takes one sample now, counts it in the maxima and returns it.
func (w *OutboxWatch) Sample(ctx context.Context) (OutboxSample, error) {
	s, err := ScrapeOutbox(ctx, w.hc, w.base)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			w.failures.Add(1)
			w.lastError = err.Error()
		}
		return s, err
	}
	w.samples++
	w.max.Pending = max(w.max.Pending, s.Pending)
	w.max.Oldest = max(w.max.Oldest, s.Oldest)
	return s, nil
}

// Max is the largest depth and the largest age seen so far (not necessarily at once).
func (w *OutboxWatch) Max() OutboxSample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max
}

// Err reports the last failed sample, if any failed.
func (w *OutboxWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failures.Load() == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d outbox samples failed, the last: %s", w.failures.Load(), int64(w.samples)+w.failures.Load(), w.lastError)
}

// Close stops sampling.
func (w *OutboxWatch) Close() {
	w.stop()
	<-w.done
}

// RoundRobin is a transport that sends each request to the next of several gateway instances
// in turn. Antom's signature covers the path, not the host, so a call signed for one instance is
// valid at any other on the same store.
type RoundRobin struct {
	Next  http.RoundTripper
	hosts []*url.URL
	n     atomic.Uint64
}

// NewRoundRobin spreads requests over the base URLs.
func NewRoundRobin(next http.RoundTripper, bases []string) (*RoundRobin, error) {
	rr := &RoundRobin{Next: next}
	for _, b := range bases {
		u, err := url.Parse(strings.TrimSpace(b))
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("gateway URL %q: not an absolute URL", b)
		}
		rr.hosts = append(rr.hosts, u)
	}
	if len(rr.hosts) == 0 {
		return nil, fmt.Errorf("no gateway URL")
	}
	return rr, nil
}

// RoundTrip implements http.RoundTripper.
func (rr *RoundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	u := rr.hosts[(rr.n.Add(1)-1)%uint64(len(rr.hosts))]
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = u.Scheme, u.Host, ""
	return rr.Next.RoundTrip(out)
}
