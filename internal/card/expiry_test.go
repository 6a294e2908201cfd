package card

import (
	"errors"
	"testing"
	"time"
)

func TestParseExpiry(t *testing.T) {
	tests := []struct {
		month, year string
		want        Expiry
		badPart     string // "" means valid
	}{
		{"12", "2030", Expiry{2030, 12}, ""},
		{"01", "30", Expiry{2030, 1}, ""},
		{"1", "30", Expiry{2030, 1}, ""},
		{"9", "2031", Expiry{2031, 9}, ""},
		{"09", "99", Expiry{2099, 9}, ""}, // Antom's sample year
		{"12", "00", Expiry{2000, 12}, ""},
		{"06", "1999", Expiry{1999, 6}, ""}, // past, but well-formed: ExpiredAt's call

		{"0", "30", Expiry{}, "month"},
		{"00", "30", Expiry{}, "month"},
		{"13", "30", Expiry{}, "month"},
		{"012", "30", Expiry{}, "month"},
		{"", "30", Expiry{}, "month"},
		{" 1", "30", Expiry{}, "month"},
		{"+1", "30", Expiry{}, "month"},
		{"-1", "30", Expiry{}, "month"},
		{"1a", "30", Expiry{}, "month"},
		{"99999", "30", Expiry{}, "month"},
		{"13", "x", Expiry{}, "month"}, // month is reported first

		{"12", "", Expiry{}, "year"},
		{"12", "3", Expiry{}, "year"},
		{"12", "203", Expiry{}, "year"},
		{"12", "20301", Expiry{}, "year"},
		{"12", "0030", Expiry{}, "year"},
		{"12", "+30", Expiry{}, "year"},
		{"12", "-30", Expiry{}, "year"},
		{"12", "30 ", Expiry{}, "year"},
		{"12", "２０３０", Expiry{}, "year"},
	}
	for _, tt := range tests {
		t.Run(tt.month+"/"+tt.year, func(t *testing.T) {
			got, err := ParseExpiry(tt.month, tt.year)
			if tt.badPart == "" {
				if err != nil || got != tt.want {
					t.Errorf("ParseExpiry(%q, %q) = %+v, %v; want %+v", tt.month, tt.year, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidExpiry) {
				t.Fatalf("ParseExpiry(%q, %q) error = %v, want ErrInvalidExpiry", tt.month, tt.year, err)
			}
			var ee *ExpiryError
			if !errors.As(err, &ee) || ee.Part != tt.badPart {
				t.Errorf("ParseExpiry(%q, %q) error = %v, want part %q", tt.month, tt.year, err, tt.badPart)
			}
			if got != (Expiry{}) {
				t.Errorf("ParseExpiry(%q, %q) returned %+v alongside an error", tt.month, tt.year, got)
			}
		})
	}
}

func TestExpiredAt(t *testing.T) {
	sgt := time.FixedZone("SGT", 8*3600)
	pst := time.FixedZone("PST", -8*3600)
	tests := []struct {
		name string
		e    Expiry
		at   time.Time
		want bool
	}{
		{"mid month", Expiry{2030, 6}, time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC), false},
		{"first instant of month", Expiry{2030, 6}, time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC), false},
		{"last instant of month", Expiry{2030, 6}, time.Date(2030, 6, 30, 23, 59, 59, 999999999, time.UTC), false},
		{"first instant after", Expiry{2030, 6}, time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC), true},
		{"December rolls into January", Expiry{2030, 12}, time.Date(2030, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{"January of next year", Expiry{2030, 12}, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"earlier month", Expiry{2030, 6}, time.Date(2029, 12, 1, 0, 0, 0, 0, time.UTC), false},
		{"years later", Expiry{2020, 1}, time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), true},
		{"leap February", Expiry{2028, 2}, time.Date(2028, 2, 29, 23, 0, 0, 0, time.UTC), false},
		// Local calendars must not move the boundary: 1 July 05:00 in
		// Singapore is still 30 June in UTC.
		{"ahead of UTC, still June in UTC", Expiry{2030, 6}, time.Date(2030, 7, 1, 5, 0, 0, 0, sgt), false},
		{"behind UTC, already July in UTC", Expiry{2030, 6}, time.Date(2030, 6, 30, 20, 0, 0, 0, pst), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.ExpiredAt(tt.at); got != tt.want {
				t.Errorf("%+v.ExpiredAt(%v) = %v, want %v", tt.e, tt.at, got, tt.want)
			}
		})
	}
}
