package bench

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// Summary is one run's figures as `cardgate bench --json` prints them (a contract for scripts:
// extend, never rename).
type Summary struct {
	RPS        float64          `json:"rps"` // API calls per second
	P50Ms      float64          `json:"p50Ms"`
	P90Ms      float64          `json:"p90Ms"`
	P99Ms      float64          `json:"p99Ms"`
	MaxMs      float64          `json:"maxMs"`
	Count      int64            `json:"count"`      // API calls
	Iterations int64            `json:"iterations"` // flows of the mix (a manual iteration is 3 calls)
	Errors     int64            `json:"errors"`
	FirstError string           `json:"firstError,omitempty"`
	Codes      map[string]int64 `json:"codes"` // "pay S/SUCCESS": count
	DurationS  float64          `json:"durationS"`
	// CPUMsPerCall is the bench process's CPU per call (see Result.CPU): with the gateway started
	// in the process, gateway plus load generator.
	CPUMsPerCall float64 `json:"cpuMsPerCall"`
}

// Summarize turns a result into its figures.
func Summarize(r *Result) Summary {
	s := Summary{
		RPS: round(r.RPS(), 1), P50Ms: ms(r.Latency.Percentile(0.50)), P90Ms: ms(r.Latency.Percentile(0.90)),
		P99Ms: ms(r.Latency.Percentile(0.99)), MaxMs: ms(r.Latency.Percentile(1)),
		Count: r.Calls, Iterations: r.Iterations, Errors: r.Errors, FirstError: r.FirstError, Codes: r.Codes,
		DurationS: round(r.Elapsed.Seconds(), 3),
	}
	if r.Calls > 0 {
		s.CPUMsPerCall = round(float64(r.CPU.Microseconds())/1000/float64(r.Calls), 3)
	}
	return s
}

// Report is the whole output of one bench run.
type Report struct {
	Summary
	Mix                  string           `json:"mix"`
	Concurrency          int              `json:"concurrency"`
	Rate                 float64          `json:"rate,omitempty"` // open loop: iterations offered per second
	Store                string           `json:"store"`          // sqlite or postgres
	Preload              int64            `json:"preload"`
	Rounds               int              `json:"rounds"` // gateway and baseline alternated this many times
	Notify               bool             `json:"notify"`
	Notifications        int64            `json:"notifications"` // verified deliveries to the built-in receiver
	NotificationsByType  map[string]int64 `json:"notificationsByType,omitempty"`
	NotificationsInvalid int64            `json:"notificationsInvalid"`
	Baseline             *Summary         `json:"baseline,omitempty"`
	RatioRPS             *float64         `json:"ratioRps,omitempty"` // gateway / baseline throughput
	RatioP99             *float64         `json:"ratioP99,omitempty"` // gateway / baseline p99
	IterationsPerSec     float64          `json:"iterationsPerSec"`   // flows of the mix per second (pays/s for mix pay)
	Signers              *Signers         `json:"signers,omitempty"`
	*Delivery                             // with --notify
}

// Signers are the signers each side of a bench signed with (internal/signer's names: go,
// openssl, pkcs11): the gateway's answers and notifications (a --url gateway's as its /metrics
// says, "" when it does not), the floor's answers (--baseline; always crypto/rsa, so the ratio
// shows what a faster signer gains) and the load generator's requests.
type Signers struct {
	Gateway  string `json:"gateway,omitempty"`
	Baseline string `json:"baseline,omitempty"`
	Client   string `json:"client"`
}

// Delivery is how the gateway's notifications kept up with the load (--notify): the rate at the
// receiver against the rate of iterations, and the outbox as the gateway's /metrics showed it,
// sampled every second.
type Delivery struct {
	NotifyPerSec         float64 `json:"notifyPerSec"`         // verified notifications received per second of measurement
	NotifyPerIteration   float64 `json:"notifyPerIteration"`   // notifyPerSec / iterationsPerSec: 2 for mix pay when delivery keeps up
	PendingMax           int64   `json:"pendingMax"`           // largest outbox depth sampled, during the measurement and the wait after
	OldestPendingMaxMs   float64 `json:"oldestPendingMaxMs"`   // largest age of the oldest pending notification sampled
	PendingAtEnd         int64   `json:"pendingAtEnd"`         // outbox depth when the load stopped
	OldestPendingAtEndMs float64 `json:"oldestPendingAtEndMs"` // age of the oldest pending notification when the load stopped
	NotifyOwed           int64   `json:"notifyOwed"`           // notifications the measured iterations owe
	NotifyWaitMs         float64 `json:"notifyWaitMs"`         // how long after the load the last owed one took to arrive (or --notify-wait)
	OutboxSampleError    string  `json:"outboxSampleError,omitempty"`
}

// SetBaseline adds the floor's figures and the ratios.
func (r *Report) SetBaseline(b Summary) {
	r.Baseline = &b
	if b.RPS > 0 {
		v := round(r.RPS/b.RPS, 3)
		r.RatioRPS = &v
	}
	if b.P99Ms > 0 {
		v := round(r.P99Ms/b.P99Ms, 3)
		r.RatioP99 = &v
	}
}

// WriteTable prints the report for a person.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "mix %s, ", r.Mix)
	if r.Rate > 0 {
		fmt.Fprintf(w, "open loop at %.0f iterations/s, ", r.Rate)
	} else {
		fmt.Fprintf(w, "concurrency %d, ", r.Concurrency)
	}
	fmt.Fprintf(w, "store %s, preload %d, notify %v\n", r.Store, r.Preload, r.Notify)
	if s := r.Signers; s != nil {
		fmt.Fprintf(w, "signers: gateway %s", orUnknown(s.Gateway))
		if s.Baseline != "" {
			fmt.Fprintf(w, ", baseline %s", s.Baseline)
		}
		fmt.Fprintf(w, ", client %s\n", s.Client)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\trequests/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tcalls\terrors\tCPU ms/call\t")
	row := func(name string, s Summary) {
		fmt.Fprintf(tw, "%s\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%.2f\t\n", name, s.RPS, s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs, s.Count, s.Errors, s.CPUMsPerCall)
	}
	row("gateway", r.Summary)
	if r.Baseline != nil {
		row("baseline", *r.Baseline)
	}
	tw.Flush()
	if r.RatioRPS != nil && r.RatioP99 != nil {
		fmt.Fprintf(w, "\ngateway/baseline: throughput %.2f, p99 %.2f\n", *r.RatioRPS, *r.RatioP99)
	}
	fmt.Fprintln(w, "\nresult codes (gateway):")
	writeCounts(w, r.Codes)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", r.FirstError)
	}
	if r.Baseline != nil && r.Baseline.FirstError != "" {
		fmt.Fprintf(w, "first baseline error: %s\n", r.Baseline.FirstError)
	}
	if r.Notify {
		fmt.Fprintf(w, "\nnotifications delivered and verified: %d (invalid signatures: %d)\n", r.Notifications, r.NotificationsInvalid)
		writeCounts(w, r.NotificationsByType)
	}
	if d := r.Delivery; d != nil {
		fmt.Fprintf(w, "\ndelivery: %.1f notifications/s for %.1f iterations/s (%.2f per iteration); %d owed, all in %.0f ms after the load\n",
			d.NotifyPerSec, r.IterationsPerSec, d.NotifyPerIteration, d.NotifyOwed, d.NotifyWaitMs)
		fmt.Fprintf(w, "outbox: pending at most %d, oldest at most %.0f ms; when the load stopped %d pending, oldest %.0f ms\n",
			d.PendingMax, d.OldestPendingMaxMs, d.PendingAtEnd, d.OldestPendingAtEndMs)
		if d.OutboxSampleError != "" {
			fmt.Fprintf(w, "outbox samples: %s\n", d.OutboxSampleError)
		}
	}
}

func writeCounts(w io.Writer, m map[string]int64) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	width := 0
	for _, k := range keys {
		width = max(width, len(k))
	}
	for _, k := range keys {
		fmt.Fprintf(w, "  %s%s  %d\n", k, strings.Repeat(" ", width-len(k)), m[k])
	}
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
