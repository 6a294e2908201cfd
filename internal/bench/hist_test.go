package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	seq := func(from, to int64) []int64 {
		var out []int64
		for v := from; v <= to; v++ {
			out = append(out, v)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		values []int64 // µs
		p      float64
		want   time.Duration
		tol    float64 // relative tolerance; 0: exact
	}{
		{"empty", nil, 0.99, 0, 0},
		{"one value", []int64{42}, 0.5, us(42), 0},
		{"one value p100", []int64{42}, 1, us(42), 0},
		{"1..100 p50", seq(1, 100), 0.50, us(50), 0},
		{"1..100 p90", seq(1, 100), 0.90, us(90), 0},
		{"1..100 p99", seq(1, 100), 0.99, us(99), 0},
		{"1..100 p100", seq(1, 100), 1.0, us(100), 0},
		{"zero latency", []int64{0, 0, 0}, 0.5, 0, 0},
		{"ceil rank: 3 values p50 is the second", []int64{10, 20, 30}, 0.5, us(20), 0},
		{"large values within 1%", []int64{1_000, 50_000, 123_456, 9_876_543}, 0.75, us(123_456), 0.01},
		{"max is never exceeded", []int64{200_001}, 0.99, us(200_001), 0},
		{"outlier is the p100 only", append(slices.Repeat([]int64{5_000}, 99), 2_000_000), 0.99, us(5_000), 0.01},
		{"outlier p100 exact", append(slices.Repeat([]int64{5_000}, 99), 2_000_000), 1, us(2_000_000), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tc.values {
				h.Record(us(v))
			}
			got := h.Snapshot().Percentile(tc.p)
			if tc.tol == 0 {
				if got != tc.want {
					t.Fatalf("p%v of %v = %v, want %v", tc.p*100, tc.values, got, tc.want)
				}
				return
			}
			if diff := float64(got-tc.want) / float64(tc.want); diff < 0 || diff > tc.tol {
				t.Fatalf("p%v = %v, want %v within +%v%%", tc.p*100, got, tc.want, tc.tol*100)
			}
		})
	}
}

// TestPercentilesAgainstSort: on random latencies spanning five orders of magnitude, every
// percentile is the exact one (from a sorted copy) or at most 1/128 above it.
func TestPercentilesAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]int64, 20_000)
	for i := range vals {
		vals[i] = int64(r.ExpFloat64() * 20_000)
		h.Record(time.Duration(vals[i]) * time.Microsecond)
	}
	slices.Sort(vals)
	s := h.Snapshot()
	for _, p := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		rank := int(p*float64(len(vals))+0.999999) - 1
		exact := vals[rank]
		got := s.Percentile(p).Microseconds()
		if got < exact || float64(got-exact) > float64(exact)/128+1 {
			t.Errorf("p%v = %dµs, exact %dµs", p*100, got, exact)
		}
	}
	if s.Max != vals[len(vals)-1] || s.N != int64(len(vals)) {
		t.Errorf("max %d n %d, want %d %d", s.Max, s.N, vals[len(vals)-1], len(vals))
	}
}

func TestSnapshotSince(t *testing.T) {
	var h Histogram
	for range 100 {
		h.Record(time.Millisecond)
	}
	first := h.Snapshot()
	for range 10 {
		h.Record(50 * time.Millisecond)
	}
	d := h.Snapshot().Since(first)
	if d.N != 10 {
		t.Fatalf("window has %d values, want 10", d.N)
	}
	if p := d.Percentile(0.5); p < 50*time.Millisecond || p > 51*time.Millisecond {
		t.Fatalf("window p50 = %v, want about 50ms", p)
	}
}

func TestBucketEdges(t *testing.T) {
	// Every value falls in a bucket whose upper edge is at or above it and within 1/128.
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 65_535, 65_536, 1 << 30, 1<<37 + 12345} {
		hi := bucketHigh(bucketOf(v))
		if hi < v || float64(hi-v) > float64(v)/128 {
			t.Errorf("value %d: bucket %d high %d", v, bucketOf(v), hi)
		}
	}
}

// TestMerge: rounds merged are one run: counts, calls and time add up, percentiles come from
// all the latencies, the max is the largest.
func TestMerge(t *testing.T) {
	var a, b Histogram
	for v := 1; v <= 50; v++ {
		a.Record(time.Duration(v) * time.Microsecond)
	}
	for v := 51; v <= 100; v++ {
		b.Record(time.Duration(v) * time.Microsecond)
	}
	m := Merge(
		&Result{Elapsed: time.Second, Calls: 50, Errors: 1, FirstError: "first", Codes: map[string]int64{"pay S/SUCCESS": 50}, Latency: a.Snapshot()},
		&Result{Elapsed: time.Second, Calls: 50, Errors: 2, FirstError: "second", Codes: map[string]int64{"pay S/SUCCESS": 50}, Latency: b.Snapshot()},
	)
	if m.Calls != 100 || m.Errors != 3 || m.FirstError != "first" || m.Codes["pay S/SUCCESS"] != 100 || m.RPS() != 50 {
		t.Fatalf("merged %+v", m)
	}
	if p50, p99 := m.Latency.Percentile(0.5), m.Latency.Percentile(0.99); p50 != 50*time.Microsecond || p99 != 99*time.Microsecond {
		t.Fatalf("merged p50 %v p99 %v, want 50µs 99µs", p50, p99)
	}
	if m.Latency.Max != 100 {
		t.Fatalf("merged max %d", m.Latency.Max)
	}
}
