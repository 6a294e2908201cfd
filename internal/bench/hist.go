// Package bench is cardgate's load generator and its yardstick (docs/design.md "Performance"): a
// closed or open load loop over signed API calls, a latency histogram, the minimal server that
// does only the protocol floor of a call, and a receiver for the gateway's notifications.
// cmd/cardgate's bench command and the e2e benchmarks share it.
package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// subBuckets is the number of linear buckets per power of two. 128 keeps every recorded value
// within 1/128 (under 0.8 %) of its true value, and the whole histogram under 40 KiB.
const (
	subBits    = 7
	subBuckets = 1 << subBits
	// maxExp covers values up to 2^(maxExp+subBits) µs, about 3.4 days: anything longer is
	// clamped (a call never takes that long; the client times out first).
	maxExp     = 31
	numBuckets = subBuckets + maxExp*subBuckets
)

// Histogram counts latencies in microseconds in log-linear buckets (the HDR histogram's layout):
// exact below 128 µs, then 128 buckets per power of two. Record is lock-free so that every worker
// can record into one histogram without contention; a snapshot is taken for percentiles.
type Histogram struct {
	counts [numBuckets]atomic.Int64
	n      atomic.Int64
	max    atomic.Int64
}

// bucketOf maps a value (µs, ≥ 0) to its bucket.
func bucketOf(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	exp := bits.Len64(uint64(v)) - subBits - 1 // v>>exp is in [128, 256)
	if exp >= maxExp {
		return numBuckets - 1
	}
	return subBuckets + exp*subBuckets + int(v>>exp) - subBuckets
}

// bucketHigh is the highest value that falls in bucket i: a percentile is reported as the upper
// edge of its bucket, so it never understates a latency.
func bucketHigh(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	exp := (i - subBuckets) / subBuckets
	low := int64(subBuckets+(i-subBuckets)%subBuckets) << exp
	return low + (int64(1) << exp) - 1
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := d.Microseconds()
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// Snapshot copies the counts; percentiles are read from the copy while recording goes on.
func (h *Histogram) Snapshot() *Snapshot {
	s := &Snapshot{Max: h.max.Load()}
	for i := range h.counts {
		c := h.counts[i].Load()
		s.counts[i] = c
		s.N += c
	}
	return s
}

// Snapshot is a histogram's counts at one moment.
type Snapshot struct {
	counts [numBuckets]int64
	N      int64
	Max    int64 // µs; for a Since snapshot, the max of the whole histogram
}

// Since is what was recorded between prev and s (for the live progress line's p99 of the last
// second).
func (s *Snapshot) Since(prev *Snapshot) *Snapshot {
	d := &Snapshot{Max: s.Max}
	for i := range s.counts {
		d.counts[i] = s.counts[i] - prev.counts[i]
		d.N += d.counts[i]
	}
	return d
}

// Percentile returns the latency below or at which a fraction p (0 < p ≤ 1) of the recorded
// values fall: the smallest bucket whose cumulative count reaches ⌈p·N⌉, reported as its upper
// edge but never above the largest value recorded. Zero when nothing was recorded.
func (s *Snapshot) Percentile(p float64) time.Duration {
	if s.N == 0 {
		return 0
	}
	rank := int64(p * float64(s.N))
	if float64(rank) < p*float64(s.N) {
		rank++ // ceil
	}
	rank = max(rank, 1)
	var cum int64
	for i, c := range s.counts {
		cum += c
		if cum >= rank {
			v := bucketHigh(i)
			if s.Max > 0 && v > s.Max {
				v = s.Max
			}
			return time.Duration(v) * time.Microsecond
		}
	}
	return time.Duration(s.Max) * time.Microsecond
}
