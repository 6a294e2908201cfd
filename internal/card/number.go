package card

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Errors from ParseNumber. They are distinct because they lead to different
// answers: a malformed or Luhn-failing number is INVALID_CARD_NUMBER, a
// well-formed number of a scheme the gateway cannot route is a brand problem.
var (
	ErrInvalidNumber    = errors.New("card: invalid card number")
	ErrUnsupportedBrand = errors.New("card: unsupported card brand")
)

// ISO/IEC 7812 allows 8 to 19 digits; no scheme the gateway routes issues
// fewer than 12.
const (
	minLen = 12
	maxLen = 19
)

// Number is a validated card number (PAN).
//
// Its printed, marshalled and logged forms are all the masked number, so a
// Number that strays into a log line, an error message or a JSON response
// leaks nothing. The digits are held through a *string, not a string: when
// fmt walks a value by reflection without calling its methods (a Number in
// an unexported struct field, or under a verb the field's type cannot take)
// it prints a pointer to a string as an address, whereas a string field, or
// a pointer to a struct holding one, would be printed in full.
//
// Compare Numbers with Equal; == compares the hidden pointers.
type Number struct {
	pan   *string
	brand Brand
}

// ParseNumber validates a card number as it arrives in cardNo: 12 to 19
// ASCII digits, nothing else (no spaces or dashes — this is an API, and
// "helpfully" stripping them would make two spellings of one card), passing
// Luhn, with a brand the gateway knows.
//
// Error messages never contain the input.
func ParseNumber(s string) (Number, error) {
	if s == "" {
		return Number{}, fmt.Errorf("%w: empty", ErrInvalidNumber)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return Number{}, fmt.Errorf("%w: non-digit at position %d", ErrInvalidNumber, i+1)
		}
	}
	if len(s) < minLen || len(s) > maxLen {
		return Number{}, fmt.Errorf("%w: %d digits, want %d to %d", ErrInvalidNumber, len(s), minLen, maxLen)
	}
	if !Luhn(s) {
		return Number{}, fmt.Errorf("%w: fails the Luhn check", ErrInvalidNumber)
	}
	b, ok := DetectBrand(s)
	if !ok {
		return Number{}, fmt.Errorf("%w: no known brand for this number", ErrUnsupportedBrand)
	}
	// Copy so the Number does not pin a larger request buffer in memory.
	digits := strings.Clone(s)
	return Number{pan: &digits, brand: b}, nil
}

// Digits returns the full card number. Its callers handle cardholder data
// and are the places to review for PCI scope: encryption in the vault,
// fingerprinting, the acquirer call.
func (n Number) Digits() string {
	if n.pan == nil {
		return ""
	}
	return *n.pan
}

// Brand returns the card scheme detected from the number.
func (n Number) Brand() Brand {
	return n.brand
}

// BIN returns the first six digits (cardBin on the wire).
func (n Number) BIN() string {
	d := n.Digits()
	if len(d) < 6 {
		return ""
	}
	return d[:6]
}

// LastFour returns the last four digits.
func (n Number) LastFour() string {
	d := n.Digits()
	if len(d) < 4 {
		return ""
	}
	return d[len(d)-4:]
}

// Masked returns the number as Antom shows it in cardNo: one '*' per hidden
// digit, then the last four, so the length of the card stays visible.
func (n Number) Masked() string {
	d := n.Digits()
	if len(d) < 4 {
		return ""
	}
	return strings.Repeat("*", len(d)-4) + d[len(d)-4:]
}

// Equal reports whether both Numbers hold the same card number.
func (n Number) Equal(o Number) bool {
	return n.Digits() == o.Digits()
}

// String returns the masked number.
func (n Number) String() string { return n.Masked() }

// GoString keeps %#v masked as well.
func (n Number) GoString() string {
	return "card.Number(" + strconv.Quote(n.Masked()) + ")"
}

// Format makes every fmt verb print the masked number. Without it, verbs
// such as %x or %d would bypass String and format the struct itself.
func (n Number) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, n.GoString())
	case verb == 'q':
		_, _ = fmt.Fprintf(f, fmt.FormatString(f, 'q'), n.Masked())
	default:
		_, _ = fmt.Fprintf(f, fmt.FormatString(f, 's'), n.Masked())
	}
}

// MarshalText returns the masked number, so text encoders and JSON map keys
// see only that.
func (n Number) MarshalText() ([]byte, error) {
	return []byte(n.Masked()), nil
}

// MarshalJSON encodes the masked number as a JSON string.
func (n Number) MarshalJSON() ([]byte, error) {
	return json.Marshal(n.Masked())
}

// UnmarshalJSON always fails. A wire struct with a Number field would
// otherwise decode to an empty Number without complaint (the type has no
// exported fields); the card number must arrive as a string and go through
// ParseNumber, whose errors map to the right result codes.
func (n *Number) UnmarshalJSON([]byte) error {
	return errors.New("card: Number cannot be decoded from JSON; decode a string and call ParseNumber")
}

// LogValue makes slog record the masked number.
func (n Number) LogValue() slog.Value {
	return slog.StringValue(n.Masked())
}

// Fingerprint identifies a card without revealing it: lowercase hex
// HMAC-SHA256 of the PAN digits under key (64 characters). Keyed, rather than
// a plain hash, because the PAN space is small enough to brute-force an
// unkeyed SHA-256; a per-merchant key also keeps fingerprints from linking one
// card across merchants.
func Fingerprint(key []byte, pan Number) string {
	m := hmac.New(sha256.New, key)
	_, _ = io.WriteString(m, pan.Digits())
	return hex.EncodeToString(m.Sum(nil))
}
