package card

import (
	"errors"
	"time"
)

// ErrInvalidExpiry matches every *ExpiryError with errors.Is.
var ErrInvalidExpiry = errors.New("card: invalid expiry date")

// ExpiryError says which part of an expiry date is malformed, so the API can
// answer PARAM_ILLEGAL naming expiryMonth or expiryYear. The offending value
// is not included: an expiry date is cardholder data and the message may be
// logged.
type ExpiryError struct {
	Part   string // "month" or "year"
	Reason string
}

func (e *ExpiryError) Error() string {
	return "card: invalid expiry " + e.Part + ": " + e.Reason
}

// Unwrap lets errors.Is(err, ErrInvalidExpiry) hold.
func (e *ExpiryError) Unwrap() error { return ErrInvalidExpiry }

// Expiry is the month a card expires in.
type Expiry struct {
	Year  int // four digits
	Month int // 1–12
}

// ParseExpiry reads expiryMonth and expiryYear as they arrive on the wire or
// from the hosted card page.
//
// month is "1"–"12" or "01"–"12". year is "YY", meaning 20YY (Antom's own
// sample sends "99"), or "YYYY". A year in the past is not a format error:
// ExpiredAt decides that, because an expired card has its own result code.
func ParseExpiry(month, year string) (Expiry, error) {
	m, ok := atoi(month)
	switch {
	case !ok || len(month) > 2:
		return Expiry{}, &ExpiryError{Part: "month", Reason: "want 1 or 2 digits"}
	case m < 1 || m > 12:
		return Expiry{}, &ExpiryError{Part: "month", Reason: "want 1 to 12"}
	}

	y, ok := atoi(year)
	switch {
	case !ok || (len(year) != 2 && len(year) != 4):
		return Expiry{}, &ExpiryError{Part: "year", Reason: "want 2 or 4 digits"}
	case len(year) == 2:
		y += 2000
	case year[0] == '0':
		// "0030" is not a way of writing a year; refuse rather than guess.
		return Expiry{}, &ExpiryError{Part: "year", Reason: "four-digit year has a leading zero"}
	}
	return Expiry{Year: y, Month: m}, nil
}

// atoi accepts only non-empty ASCII digit strings of bounded length, unlike
// strconv.Atoi which also takes signs.
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 4 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// ExpiredAt reports whether the card is expired at t. A card is valid through
// the last moment of its expiry month; the month boundary is taken in UTC so
// that every instance of the gateway, whatever its local zone, gives the
// same answer for the same instant.
func (e Expiry) ExpiredAt(t time.Time) bool {
	// time.Date normalises month 13 to January of the next year.
	end := time.Date(e.Year, time.Month(e.Month)+1, 1, 0, 0, 0, 0, time.UTC)
	return !t.Before(end)
}
