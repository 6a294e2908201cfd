// Package clock gives every time-dependent rule one injected source of "now". The sandbox moves its
// clock forward to make 14-minute expiries and 7-day voids testable in seconds, while the request
// time window and leases keep using the wall clock (docs/design.md "Time").
package clock

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Wall is the real clock.
type Wall struct{}

// Now returns the wall-clock time.
func (Wall) Now() time.Time { return time.Now() }

// Offset is real time plus an offset that only grows, so the sandbox clock keeps running between
// advances as merchants expect ("settles 5 s later by the gateway clock").
type Offset struct {
	mu     sync.RWMutex
	offset time.Duration
	base   Clock
}

// NewOffset returns a clock running offset ahead of base.
func NewOffset(base Clock, offset time.Duration) *Offset {
	return &Offset{base: base, offset: offset}
}

// Now returns base time plus the offset.
func (c *Offset) Now() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.base.Now().Add(c.offset)
}

// Offset returns the current offset.
func (c *Offset) Offset() time.Duration {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.offset
}

// SetOffset replaces the offset; it never moves time backwards.
func (c *Offset) SetOffset(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > c.offset {
		c.offset = d
	}
}

// Reset replaces the offset even when that moves time back: only a sandbox reset, which has
// removed the data that could notice, does it.
func (c *Offset) Reset(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
}

// Fixed is a clock that stands still until told to move; for tests.
type Fixed struct {
	mu sync.Mutex
	t  time.Time
}

// NewFixed returns a clock stopped at t.
func NewFixed(t time.Time) *Fixed { return &Fixed{t: t} }

// Now returns the clock's time.
func (c *Fixed) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Fixed) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ParseDuration reads Go duration syntax with a leading days part ("7d", "7d1m", "1d12h"), as the
// sandbox clock's advance call takes it. Only durations of zero or more are valid.
func ParseDuration(s string) (time.Duration, error) {
	const (
		maxDays = 100 * 365
		maxD    = maxDays * 24 * time.Hour
	)
	days, rest, hasDays := int64(0), s, false
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 32)
		// Only digits: ParseInt also takes a sign ("-0d", "+7d").
		if err != nil || n < 0 || s[0] < '0' || s[0] > '9' {
			return 0, fmt.Errorf("clock: %q: days must be a whole number before \"d\"", s)
		}
		days, rest, hasDays = n, s[i+1:], true
	}
	if days > maxDays {
		return 0, fmt.Errorf("clock: %q must be between 0 and %d days", s, maxDays)
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, fmt.Errorf("clock: %q: %w", s, err)
		}
	} else if !hasDays {
		return 0, fmt.Errorf("clock: %q is not a duration", s)
	}
	whole := time.Duration(days) * 24 * time.Hour // days ≤ maxDays: no overflow
	// Bound the sum, not the parts: "36500d2000000h" would overflow into a negative duration.
	if d < 0 || d > maxD-whole {
		return 0, fmt.Errorf("clock: %q must be between 0 and %d days", s, maxDays)
	}
	return whole + d, nil
}
