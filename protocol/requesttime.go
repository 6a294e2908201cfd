package protocol

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

var (
	// ErrBadRequestTime reports a request-time value in none of the accepted formats.
	ErrBadRequestTime = errors.New("protocol: bad request-time")
	// ErrRequestTimeSkew reports a request time outside the freshness window.
	ErrRequestTimeSkew = errors.New("protocol: request-time outside allowed window")
)

// WireTimeLayout is the layout FormatTime uses: ISO 8601, seconds, numeric offset.
const WireTimeLayout = "2006-01-02T15:04:05-07:00"

// ParseRequestTime parses the request-time header in any of the five SDK formats (§1.3):
//
//	all digits                      epoch milliseconds (Go, Java)      1795236794688
//	YYYY-MM-DDThh:mm:ss+hh:mm       Python isoformat                   2024-05-01T12:34:56+00:00
//	YYYY-MM-DDThh:mm:ss+hhmm        PHP DATE_ISO8601                   2024-05-01T12:34:56+0000
//	YYYY-MM-DDThh:mm:ss.fffffffZ    .NET "o"                           2024-05-01T12:34:56.1234567Z
//
// ISO forms take 'Z', '+hh:mm'/'-hh:mm' or '+hhmm'/'-hhmm' and 0–9 fractional
// digits ('T' and 'Z' also in lower case, as RFC 3339 allows). Calendar fields are
// range-checked (no Feb 30, no leap second 60); offsets go up to ±23:59. No
// surrounding whitespace is accepted. Errors wrap ErrBadRequestTime. The value is
// only for freshness checks: the signed string always uses the header verbatim.
func ParseRequestTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: empty", ErrBadRequestTime)
	}
	if isEpochDigits(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: epoch milliseconds out of range", ErrBadRequestTime)
		}
		return time.UnixMilli(ms), nil
	}
	t, ok := parseISO(s)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: %q", ErrBadRequestTime, clipForError(s))
	}
	return t, nil
}

// CheckRequestTime returns an error wrapping ErrRequestTimeSkew when t is more than
// window away from now, in either direction. |t-now| == window is accepted.
// A negative window rejects everything.
func CheckRequestTime(t, now time.Time, window time.Duration) error {
	if window < 0 {
		return fmt.Errorf("%w: negative window %v", ErrRequestTimeSkew, window)
	}
	d := t.Sub(now) // saturates at ±maxDuration
	if d > window || d < -window {
		return fmt.Errorf("%w: off by %v (window %v)", ErrRequestTimeSkew, d, window)
	}
	return nil
}

// FormatTime renders wire times (response-time, notification request-time and
// time fields in bodies): ISO 8601 with numeric offset, seconds precision
// (fraction truncated), e.g. "2024-10-11T22:57:16-07:00"; UTC renders as
// "+00:00", never "Z".
func FormatTime(t time.Time) string {
	return t.Format(WireTimeLayout)
}

func isEpochDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func clipForError(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// atoiFixed parses s[i:i+n] as an unsigned decimal; ok is false if out of range or not digits.
func atoiFixed(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func parseISO(s string) (time.Time, bool) {
	// YYYY-MM-DDThh:mm:ss = 19 bytes
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := atoiFixed(s, 0, 4)
	month, ok2 := atoiFixed(s, 5, 2)
	day, ok3 := atoiFixed(s, 8, 2)
	hour, ok4 := atoiFixed(s, 11, 2)
	minute, ok5 := atoiFixed(s, 14, 2)
	sec, ok6 := atoiFixed(s, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysInMonth(time.Month(month), year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}

	i := 19
	nsec := 0
	if s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n := i - start
		if n < 1 || n > 9 {
			return time.Time{}, false
		}
		nsec, _ = atoiFixed(s, start, n)
		for range 9 - n {
			nsec *= 10
		}
	}
	if i >= len(s) {
		return time.Time{}, false // zone is mandatory
	}

	var loc *time.Location
	switch rest := s[i:]; {
	case rest == "Z" || rest == "z":
		loc = time.UTC
	case rest[0] == '+' || rest[0] == '-':
		var oh, om int
		var ok bool
		switch len(rest) {
		case 6: // +hh:mm
			if rest[3] != ':' {
				return time.Time{}, false
			}
			var okh, okm bool
			oh, okh = atoiFixed(rest, 1, 2)
			om, okm = atoiFixed(rest, 4, 2)
			ok = okh && okm
		case 5: // +hhmm
			var okh, okm bool
			oh, okh = atoiFixed(rest, 1, 2)
			om, okm = atoiFixed(rest, 3, 2)
			ok = okh && okm
		}
		if !ok || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		off := oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	default:
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), true
}

func daysInMonth(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}
