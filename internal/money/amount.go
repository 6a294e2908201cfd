package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The two ways Parse can fail. They are separate because the API answers
// them differently: an unknown currency is CURRENCY_NOT_SUPPORT, a malformed
// value is PARAM_ILLEGAL naming the value field.
var (
	ErrCurrencyNotSupported = errors.New("money: currency not supported")
	ErrInvalidValue         = errors.New("money: invalid amount value")
)

// MaxDigits bounds the wire value: Antom's Amount.value is String(16) ("Usage
// rules of the Amount object", docs.antom.com/ac/ref/cc), so 9999999999999999
// minor units is the largest amount the wire allows. 16 digits also fit an
// int64 (whose maximum has 19) with room for sums: the length check alone rules
// out overflow, and captured plus refunded totals cannot wrap either.
const MaxDigits = 16

// Amount is a quantity of money in the minor unit of its currency
// (Minor 4200 with SGD is 42.00 SGD).
//
// Minor is signed so that domain arithmetic (remaining refundable amount and
// the like) can be expressed directly; Parse itself never produces a negative
// amount.
type Amount struct {
	Currency Currency
	Minor    int64
}

// Parse reads an amount in its wire form: an ISO 4217 code and a string of
// minor units.
//
// The value grammar is strict — digits only, no sign, no decimal point, no
// spaces, no leading zeros except "0" itself, at most 16 digits — because the
// value is compared byte for byte when a request is replayed, and a lenient
// parser would make "007" and "7" the same payment while the stored request
// says otherwise. Zero is accepted; whether zero makes sense is the caller's
// decision (a payment of 0 is not, a query filter may be).
func Parse(currency, value string) (Amount, error) {
	cur, ok := Lookup(currency)
	if !ok {
		return Amount{}, fmt.Errorf("%w: %s", ErrCurrencyNotSupported, describe(currency))
	}
	minor, err := parseMinor(value)
	if err != nil {
		return Amount{}, err
	}
	return Amount{Currency: cur, Minor: minor}, nil
}

func parseMinor(value string) (int64, error) {
	switch {
	case value == "":
		return 0, fmt.Errorf("%w: empty", ErrInvalidValue)
	case len(value) > MaxDigits:
		return 0, fmt.Errorf("%w: more than %d digits", ErrInvalidValue, MaxDigits)
	}
	var n int64
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: non-digit at position %d", ErrInvalidValue, i+1)
		}
		n = n*10 + int64(c-'0')
	}
	if len(value) > 1 && value[0] == '0' {
		return 0, fmt.Errorf("%w: leading zero", ErrInvalidValue)
	}
	return n, nil
}

// describe quotes short input for an error message and only sizes long input,
// so a hostile request cannot make the gateway log or echo arbitrary text.
func describe(s string) string {
	if len(s) > 8 {
		return fmt.Sprintf("%d-byte code", len(s))
	}
	return strconv.Quote(s)
}

// Value returns the wire form of the amount: the minor units in decimal.
// For anything Parse accepted it returns exactly the string that was parsed.
func (a Amount) Value() string {
	return strconv.FormatInt(a.Minor, 10)
}

// String renders the amount for people and logs, e.g. "42.00 SGD",
// "4200 JPY", "1.234 BHD". It uses integer arithmetic only: formatting
// through float64 would misprint amounts above 2^53 minor units.
func (a Amount) String() string {
	// Work on the magnitude as uint64 so that math.MinInt64 has one too.
	neg := a.Minor < 0
	mag := uint64(a.Minor)
	if neg {
		mag = -mag
	}
	digits := strconv.FormatUint(mag, 10)

	exp := a.Currency.Exponent
	var num string
	if exp <= 0 {
		num = digits
	} else {
		if len(digits) <= exp {
			digits = strings.Repeat("0", exp-len(digits)+1) + digits
		}
		cut := len(digits) - exp
		num = digits[:cut] + "." + digits[cut:]
	}
	if neg {
		num = "-" + num
	}
	return num + " " + a.Currency.Code
}
