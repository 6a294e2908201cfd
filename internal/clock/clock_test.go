package clock_test

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
)

const day = 24 * time.Hour

func TestParseDuration(t *testing.T) {
	valid := []struct {
		in   string
		want time.Duration
	}{
		{"15m", 15 * time.Minute},
		{"0s", 0},
		{"0", 0},
		{"1h30m", 90 * time.Minute},
		{"500ms", 500 * time.Millisecond},
		{"1.5h", 90 * time.Minute},
		{"7d", 7 * day},
		{"7d1m", 7*day + time.Minute},
		{"6d23h", 6*day + 23*time.Hour},
		{"1d12h", 36 * time.Hour},
		{"0d", 0},
		{"0d15m", 15 * time.Minute},
		{"365d", 365 * day},
		{"14d0s", 14 * day},
		{"36500d", 36500 * day}, // the largest day count
		{"876000h", 36500 * day},
		{"36499d24h", 36500 * day},
		{"00d", 0},
		{"+1m", time.Minute}, // Go duration syntax allows the sign
		{"7d+1m", 7*day + time.Minute},
	}
	for _, tc := range valid {
		got, err := clock.ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	invalid := []string{
		"", "d", "dd", "7", "abc", "7x", "x7d", "7dd", "7d7d", "d1m", "1m7d", "7 d", " 7d", "7d ",
		"-1m", "-1s", "-7d", "7d-1m", "-0d", "-0d1m", "+7d", "+0d", "0x7d", "1e3d", "7.5d", "7,5d",
		"99999999999999999999d", "36501d", "9223372036854775807d", "1000000000h0d",
		"2562048h",               // past time.Duration's range
		"876000h1ns", "2562047h", // past the 100-year bound without a day part
		"36499d24h1ns",
		"36500d2000000h",           // together past time.Duration's range
		"36500d1000000h",           // still too far: the whole must stay within the bound
		"9999999999999999999999ns", // overflow in time.ParseDuration
		"7d\x00", "7d1m\n", "७d",
	}
	for _, in := range invalid {
		if got, err := clock.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

// FuzzParseDuration: whatever the input, ParseDuration never panics and never returns a negative
// duration or one past the 100-year bound; an input without a day part means what
// time.ParseDuration says (when that is not negative); and "<n>d<rest>" is n days plus rest.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"15m", "7d", "7d1m", "1d12h", "0d", "", "-1m", "d", "7d-1m", "99999999999d",
		"36500d2000000h", "+7d", "-0d", "1.5h", "0", "2562047h"} {
		f.Add(s)
	}
	const bound = 36500 * day
	f.Fuzz(func(t *testing.T, s string) {
		got, err := clock.ParseDuration(s)
		if err != nil {
			if got != 0 {
				t.Fatalf("ParseDuration(%q) = %v alongside error %v", s, got, err)
			}
			return
		}
		if got < 0 || got > bound {
			t.Fatalf("ParseDuration(%q) = %v, outside [0, %v]", s, got, bound)
		}
		days, rest, hasDays := strings.Cut(s, "d")
		if !hasDays {
			want, werr := time.ParseDuration(s)
			if werr != nil || want != got {
				t.Fatalf("ParseDuration(%q) = %v; time.ParseDuration says %v, %v", s, got, want, werr)
			}
			return
		}
		n, nerr := strconv.ParseUint(days, 10, 32)
		if nerr != nil || days == "" || days[0] < '0' || days[0] > '9' {
			t.Fatalf("ParseDuration(%q) accepted day part %q", s, days)
		}
		var r time.Duration
		if rest != "" {
			var rerr error
			if r, rerr = time.ParseDuration(rest); rerr != nil || r < 0 {
				t.Fatalf("ParseDuration(%q) accepted rest %q (%v, %v)", s, rest, r, rerr)
			}
		}
		if n > math.MaxInt64/uint64(day) || time.Duration(n)*day+r != got {
			t.Fatalf("ParseDuration(%q) = %v, want %d days + %v", s, got, n, r)
		}
	})
}

// stepClock is a base clock the test moves by hand.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var start = time.Date(2026, time.May, 15, 12, 0, 0, 0, time.UTC)

func TestOffset(t *testing.T) {
	base := &stepClock{t: start}
	c := clock.NewOffset(base, time.Hour)
	if c.Offset() != time.Hour || !c.Now().Equal(start.Add(time.Hour)) {
		t.Fatalf("offset %v now %v", c.Offset(), c.Now())
	}
	// It keeps running with its base: "5 s later by the gateway clock" arrives by itself.
	base.add(5 * time.Second)
	if !c.Now().Equal(start.Add(time.Hour + 5*time.Second)) {
		t.Errorf("now %v does not follow the base", c.Now())
	}
	// Forward moves; backward and equal ones are ignored, so time never runs back.
	for _, step := range []struct{ set, want time.Duration }{
		{2 * time.Hour, 2 * time.Hour},
		{time.Hour, 2 * time.Hour},
		{2 * time.Hour, 2 * time.Hour},
		{0, 2 * time.Hour},
		{-7 * day, 2 * time.Hour},
		{7 * day, 7 * day},
		{7*day + time.Nanosecond, 7*day + time.Nanosecond},
	} {
		before := c.Now()
		c.SetOffset(step.set)
		if c.Offset() != step.want {
			t.Errorf("SetOffset(%v): offset %v, want %v", step.set, c.Offset(), step.want)
		}
		if c.Now().Before(before) {
			t.Errorf("SetOffset(%v) moved the clock back from %v to %v", step.set, before, c.Now())
		}
	}
}

func TestOffsetNeverMovesBackConcurrently(t *testing.T) {
	c := clock.NewOffset(clock.Wall{}, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := c.Now()
			for i := range 500 {
				// Some goroutines try to set smaller offsets than others already did.
				c.SetOffset(time.Duration((i*(g+1))%1000) * time.Minute)
				now := c.Now()
				if now.Before(last) {
					t.Errorf("clock ran back from %v to %v", last, now)
					return
				}
				last = now
			}
		}()
	}
	wg.Wait()
	if c.Offset() != 999*time.Minute {
		t.Errorf("offset %v, want the largest set, 999m", c.Offset())
	}
}

func TestFixed(t *testing.T) {
	c := clock.NewFixed(start)
	if !c.Now().Equal(start) || !c.Now().Equal(c.Now()) {
		t.Fatalf("a fixed clock moved by itself")
	}
	c.Advance(15 * time.Minute)
	if !c.Now().Equal(start.Add(15 * time.Minute)) {
		t.Errorf("Advance: %v", c.Now())
	}
}

func TestWall(t *testing.T) {
	before := time.Now()
	got := clock.Wall{}.Now()
	if got.Before(before) || got.After(time.Now()) {
		t.Errorf("Wall.Now() = %v, not between the calls around it", got)
	}
}
