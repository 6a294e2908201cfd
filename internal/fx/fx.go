// Package fx is the gateway's exchange-rate table and the one way it converts money: a fixed
// table of rates against a base currency (rates.csv, compiled in; `serve --fx-rates FILE`
// replaces it), cross rates between any two of its currencies as exact decimal strings, and
// conversion of minor units with math/big, rounded half away from zero to the target currency's
// minor unit. No floating point anywhere (docs/design.md "Money"); docs/fx.md is the reference.
//
// A payment records the cross rate it settles at when it is created, so that a report made from
// it later is the same whatever the table says by then: what is converted is always a recorded
// Rate, never the table itself.
package fx

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/cardgate/cardgate/internal/money"
)

// CrossPlaces is how many decimal places a cross rate keeps: the quotient of two table rates
// need not end (1/3), so it is rounded, half away from zero, once, when the payment records it.
// 20 places keep 15 significant digits even between the table's most distant currencies.
const CrossPlaces = 20

// Rate is an exchange rate: how many major units of one currency one major unit of another buys,
// as an exact, positive decimal ("0.92", "1"). Its text is what a payment records.
type Rate struct {
	text string
	r    *big.Rat
}

// One is the rate between a currency and itself.
var One = Rate{text: "1", r: big.NewRat(1, 1)}

// ErrRate is a malformed rate text.
var ErrRate = errors.New("fx: malformed rate")

// ParseRate reads a rate as written: digits with at most one decimal point, no sign, no exponent,
// greater than zero. A recorded rate is read back by it, exactly.
func ParseRate(s string) (Rate, error) {
	if !decimal(s) {
		return Rate{}, fmt.Errorf("%w: %q is not a decimal number such as 0.92", ErrRate, s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() <= 0 {
		return Rate{}, fmt.Errorf("%w: %q must be greater than 0", ErrRate, s)
	}
	return Rate{text: s, r: r}, nil
}

func decimal(s string) bool {
	digits, point := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !point && i > 0 && i < len(s)-1:
			point = true
		default:
			return false
		}
	}
	return digits > 0 && digits <= 40
}

// String is the rate's exact text.
func (r Rate) String() string { return r.text }

// IsZero reports the zero Rate (no rate recorded).
func (r Rate) IsZero() bool { return r.r == nil }

// Rat is the rate's value; the caller must not change it.
func (r Rate) Rat() *big.Rat { return r.r }

// Table is a rate table: for each currency, how many of its major units one unit of the base
// buys.
type Table struct {
	base  string
	rates map[string]Rate
	order []string
}

//go:embed rates.csv
var embedded []byte

var std = mustParse(embedded)

func mustParse(b []byte) *Table {
	t, err := Parse(bytes.NewReader(b))
	if err != nil {
		panic(fmt.Sprintf("fx: the embedded rates.csv: %v", err))
	}
	return t
}

// Default is the embedded sandbox table.
func Default() *Table { return std }

// Parse reads a table: lines starting with # are comments; then the header "currency,rate";
// then one row per currency, an ISO 4217 code that internal/money knows and its rate (ParseRate).
// The first row is the base, whose rate must be exactly 1. A currency listed twice is an error,
// each naming its line.
func Parse(r io.Reader) (*Table, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 2
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("fx: header: %w", err)
	}
	if header[0] != "currency" || header[1] != "rate" {
		return nil, fmt.Errorf("fx: header is %q, want currency,rate", strings.Join(header, ","))
	}
	t := &Table{rates: map[string]Rate{}}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("fx: %w", err)
		}
		line, _ := cr.FieldPos(0)
		code, text := rec[0], strings.TrimSpace(rec[1])
		if _, ok := money.Lookup(code); !ok {
			return nil, fmt.Errorf("fx: line %d: %q is not an active ISO 4217 currency", line, code)
		}
		if _, dup := t.rates[code]; dup {
			return nil, fmt.Errorf("fx: line %d: %s is listed twice", line, code)
		}
		rate, err := ParseRate(text)
		if err != nil {
			return nil, fmt.Errorf("fx: line %d: %s: %w", line, code, err)
		}
		if t.base == "" {
			if rate.r.Cmp(One.r) != 0 {
				return nil, fmt.Errorf("fx: line %d: the first row is the base currency, so %s's rate must be 1, not %s", line, code, text)
			}
			t.base = code
		}
		t.rates[code] = rate
		t.order = append(t.order, code)
	}
	if t.base == "" {
		return nil, errors.New("fx: the table lists no currency")
	}
	return t, nil
}

// Base is the table's base currency.
func (t *Table) Base() string { return t.base }

// Currencies lists the table's currencies as written, the base first.
func (t *Table) Currencies() []string { return append([]string(nil), t.order...) }

// ErrNoRate is a conversion between currencies the table does not both list.
var ErrNoRate = errors.New("fx: no rate")

// Cross is the rate from one currency to another: rate(to) / rate(from), rounded half away from
// zero to CrossPlaces decimal places, trailing zeros dropped. A currency to itself is One,
// listed or not.
func (t *Table) Cross(from, to string) (Rate, error) {
	if from == to {
		return One, nil
	}
	rf, okf := t.rates[from]
	rt, okt := t.rates[to]
	switch {
	case !okf:
		return Rate{}, fmt.Errorf("%w: the rate table has no %s", ErrNoRate, from)
	case !okt:
		return Rate{}, fmt.Errorf("%w: the rate table has no %s", ErrNoRate, to)
	}
	q := new(big.Rat).Quo(rt.r, rf.r)
	text := strings.TrimRight(strings.TrimRight(q.FloatString(CrossPlaces), "0"), ".")
	if text == "0" {
		// So far apart that 20 places round the rate away: no rate the gateway can honour.
		return Rate{}, fmt.Errorf("%w: %s to %s rounds to 0 at %d places", ErrNoRate, from, to, CrossPlaces)
	}
	return ParseRate(text)
}

// ErrOverflow is a conversion whose result does not fit the 64 bits every stored amount has.
var ErrOverflow = errors.New("fx: amount out of range")

// Convert turns minor units of from into minor units of to at rate: minor × rate ×
// 10^(exponent(to) − exponent(from)), rounded half away from zero.
func Convert(minor int64, from, to money.Currency, rate Rate) (int64, error) {
	if rate.IsZero() {
		return 0, fmt.Errorf("%w: no rate from %s to %s", ErrRate, from.Code, to.Code)
	}
	v := new(big.Rat).SetInt64(minor)
	v.Mul(v, rate.r)
	if d := to.Exponent - from.Exponent; d != 0 {
		scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(d))), nil))
		if d > 0 {
			v.Mul(v, scale)
		} else {
			v.Quo(v, scale)
		}
	}
	return RoundHalfAway(v)
}

// RoundHalfAway rounds x to the nearest integer, halves away from zero (2.5 → 3, −2.5 → −3), the
// rounding of every amount the gateway derives.
func RoundHalfAway(x *big.Rat) (int64, error) {
	num, den := new(big.Int).Abs(x.Num()), x.Denom()
	// |x| rounded = floor((2|num| + den) / (2 den)).
	n := new(big.Int).Lsh(num, 1)
	n.Add(n, den)
	n.Quo(n, new(big.Int).Lsh(den, 1))
	if x.Sign() < 0 {
		n.Neg(n)
	}
	if !n.IsInt64() {
		return 0, fmt.Errorf("%w: %s", ErrOverflow, x.FloatString(0))
	}
	return n.Int64(), nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
