package protocol

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRequestTime(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Time
	}{
		{"Go epoch ms", "1795236794688", time.UnixMilli(1795236794688)},
		{"Java epoch ms (docs example)", "1685599933871", time.UnixMilli(1685599933871)},
		{"epoch ms zero", "0", time.UnixMilli(0)},
		{"epoch ms leading zeros", "0001685599933871", time.UnixMilli(1685599933871)},
		{"Python isoformat", "2024-05-01T12:34:56+00:00", time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC)},
		{"PHP DATE_ISO8601", "2024-05-01T12:34:56+0000", time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC)},
		{".NET round-trip \"o\"", "2024-05-01T12:34:56.1234567Z", time.Date(2024, 5, 1, 12, 34, 56, 123456700, time.UTC)},
		{"response-time example", "2024-01-01T12:00:00+08:00", time.Date(2024, 1, 1, 4, 0, 0, 0, time.UTC)},
		{"negative offset colon", "2024-10-11T22:57:16-07:00", time.Date(2024, 10, 12, 5, 57, 16, 0, time.UTC)},
		{"half-hour offset no colon", "2024-05-01T12:34:56+0530", time.Date(2024, 5, 1, 7, 4, 56, 0, time.UTC)},
		{"PHP non-UTC", "2024-05-01T12:34:56-0400", time.Date(2024, 5, 1, 16, 34, 56, 0, time.UTC)},
		{"Python microseconds", "2024-05-01T12:34:56.123456+00:00", time.Date(2024, 5, 1, 12, 34, 56, 123456000, time.UTC)},
		{"one fraction digit", "2024-05-01T12:34:56.5Z", time.Date(2024, 5, 1, 12, 34, 56, 500000000, time.UTC)},
		{"nine fraction digits", "2024-05-01T12:34:56.123456789Z", time.Date(2024, 5, 1, 12, 34, 56, 123456789, time.UTC)},
		{"fraction with offset", "2024-05-01T12:34:56.1-01:30", time.Date(2024, 5, 1, 14, 4, 56, 100000000, time.UTC)},
		{"lowercase t and z", "2024-05-01t12:34:56z", time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC)},
		{"leap day", "2024-02-29T00:00:00Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"year 2000 leap day", "2000-02-29T23:59:59+23:59", time.Date(2000, 2, 29, 0, 0, 59, 0, time.UTC)},
		{"Java WebhookTool doc", "2019-01-01T01:01:01Z", time.Date(2019, 1, 1, 1, 1, 1, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequestTime(tt.in)
			if err != nil {
				t.Fatalf("ParseRequestTime(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("ParseRequestTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseRequestTimeOffsetPreserved(t *testing.T) {
	got, err := ParseRequestTime("2024-10-11T22:57:16-07:00")
	if err != nil {
		t.Fatal(err)
	}
	if _, off := got.Zone(); off != -7*3600 {
		t.Errorf("offset = %d", off)
	}
}

func TestParseRequestTimeBad(t *testing.T) {
	bad := []string{
		"",
		" ",
		"abc",
		"now",
		"1795236794688ms",
		"1795236794688.5",
		"-1",
		"+1795236794688",
		" 1795236794688",
		"1795236794688 ",
		"9223372036854775808",                    // int64 max + 1
		"99999999999999999999999999999999999999", // overflow
		strings.Repeat("9", 1000),
		"١٢٣", // non-ASCII digits
		"2024-13-01T12:34:56Z",
		"2024-00-01T12:34:56Z",
		"2024-05-00T12:34:56Z",
		"2024-04-31T12:34:56Z",
		"2023-02-29T12:34:56Z",
		"1900-02-29T12:34:56Z",
		"2024-05-01T24:00:00Z",
		"2024-05-01T12:60:56Z",
		"2024-05-01T12:34:60Z", // no leap seconds
		"2024-05-01T12:34:56",  // zone mandatory
		"2024-05-01T12:34:56.",
		"2024-05-01T12:34:56.Z",
		"2024-05-01T12:34:56.1234567890Z", // 10 fraction digits
		"2024-05-01T12:34:56,5Z",
		"2024-05-01 12:34:56Z",
		"2024-05-01T12:34:56+00",
		"2024-05-01T12:34:56+0",
		"2024-05-01T12:34:56+000",
		"2024-05-01T12:34:56+00:0",
		"2024-05-01T12:34:56+00:000",
		"2024-05-01T12:34:56+24:00",
		"2024-05-01T12:34:56+00:60",
		"2024-05-01T12:34:56+0060",
		"2024-05-01T12:34:56+00-00",
		"2024-05-01T12:34:56Z ",
		"2024-05-01T12:34:56ZZ",
		"2024-05-01T12:34:56+00:00Z",
		"2024-05-01T12:34:56UTC",
		"2024-5-1T12:34:56Z",
		"24-05-01T12:34:56Z",
		"2024/05/01T12:34:56Z",
		"2024-05-01",
		"2024-05-01T12:34Z",
		"Wed, 01 May 2024 12:34:56 GMT",
		"2024-05-01T12:34:56\x00Z",
	}
	for _, in := range bad {
		t.Run(in, func(t *testing.T) {
			got, err := ParseRequestTime(in)
			if !errors.Is(err, ErrBadRequestTime) {
				t.Fatalf("ParseRequestTime(%q) = %v, %v; want ErrBadRequestTime", in, got, err)
			}
		})
	}
}

func TestCheckRequestTime(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	const w = 5 * time.Minute
	tests := []struct {
		name   string
		t      time.Time
		window time.Duration
		ok     bool
	}{
		{"now", now, w, true},
		{"past inside", now.Add(-time.Minute), w, true},
		{"future inside", now.Add(time.Minute), w, true},
		{"past boundary", now.Add(-w), w, true},
		{"future boundary", now.Add(w), w, true},
		{"past just outside", now.Add(-w - time.Nanosecond), w, false},
		{"future just outside", now.Add(w + time.Nanosecond), w, false},
		{"far past", now.Add(-24 * time.Hour), w, false},
		{"far future", now.Add(24 * time.Hour), w, false},
		{"zero time", time.Time{}, w, false},
		{"year 292277026596 (saturating Sub)", time.UnixMilli(1<<63 - 1), w, false},
		{"different zone same instant", now.In(time.FixedZone("", 8*3600)), w, true},
		{"zero window exact", now, 0, true},
		{"zero window off by 1ns", now.Add(time.Nanosecond), 0, false},
		{"negative window", now, -time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRequestTime(tt.t, now, tt.window)
			if tt.ok && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrRequestTimeSkew) {
				t.Fatalf("err = %v, want ErrRequestTimeSkew", err)
			}
		})
	}
}

func TestFormatTime(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"UTC is +00:00 not Z", time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC), "2024-01-01T12:00:00+00:00"},
		{"negative offset", time.Date(2024, 10, 11, 22, 57, 16, 0, time.FixedZone("PDT", -7*3600)), "2024-10-11T22:57:16-07:00"},
		{"positive offset", time.Date(2024, 1, 1, 12, 0, 0, 0, time.FixedZone("", 8*3600)), "2024-01-01T12:00:00+08:00"},
		{"half-hour offset", time.Date(2024, 1, 1, 12, 0, 0, 0, time.FixedZone("", 5*3600+1800)), "2024-01-01T12:00:00+05:30"},
		{"fraction truncated", time.Date(2024, 1, 1, 12, 0, 0, 999999999, time.UTC), "2024-01-01T12:00:00+00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatTime(tt.t)
			if got != tt.want {
				t.Fatalf("FormatTime = %q, want %q", got, tt.want)
			}
			back, err := ParseRequestTime(got)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Equal(tt.t.Truncate(time.Second)) {
				t.Fatalf("round trip %v != %v", back, tt.t)
			}
		})
	}
}

func FuzzParseRequestTime(f *testing.F) {
	for _, s := range []string{
		"", "0", "1795236794688", "9223372036854775808",
		"2024-05-01T12:34:56+00:00", "2024-05-01T12:34:56+0000",
		"2024-05-01T12:34:56.1234567Z", "2024-02-30T00:00:00Z",
		"2024-05-01T12:34:56.Z", "0000-01-01T00:00:00-23:59", "9999-12-31T23:59:59.999999999+23:59",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseRequestTime(in)
		if err != nil {
			if !errors.Is(err, ErrBadRequestTime) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		_ = CheckRequestTime(got, time.Now(), time.Minute)
		if isEpochDigits(in) {
			ms, _ := strconv.ParseInt(in, 10, 64)
			if got.UnixMilli() != ms {
				t.Fatalf("%q -> %v", in, got)
			}
			return
		}
		// ISO: formatting and re-parsing keeps the instant at second precision.
		back, err := ParseRequestTime(FormatTime(got))
		if err != nil {
			t.Fatalf("FormatTime(%v) = %q does not re-parse: %v", got, FormatTime(got), err)
		}
		if back.Unix() != got.Unix() {
			t.Fatalf("%q -> %v -> %q -> %v", in, got, FormatTime(got), back)
		}
	})
}
