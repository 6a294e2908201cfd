// Package installments is the gateway's table of installment plans (Antom's creditPayPlan): for
// a payment's currency, the card brands and issuing country a plan takes, the installmentNum
// values it offers, and its fee and interest. The table is data, plans.csv, kept in the
// repository and compiled in; docs/installments.md says where its rows come from. pay validates
// a creditPayPlan against it and consult shows it.
package installments

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/money"
)

// AnyCountry is the country column of a plan that takes cards issued anywhere.
const AnyCountry = "*"

// MinCount and MaxCount bound installmentNum: one installment is no installment plan, and no
// card scheme's programme runs longer than three years.
const (
	MinCount = 2
	MaxCount = 36
)

// Plan is one row of the table.
type Plan struct {
	Currency string
	Brands   []card.Brand
	// Country is the issuing country a card must have, or AnyCountry.
	Country  string
	Counts   []int // ascending
	Interval string
	// FeeType is creditPayFeeType (PERCENTAGE, the only value the SDKs define); FeePercentage the
	// fee in whole percent.
	FeeType       string
	FeePercentage int
	// InterestRate is the buyer's interest per interval as a decimal string, as the SDKs carry it.
	InterestRate string
	// MinMinor is the smallest amount, in minor units of Currency, the plan takes.
	MinMinor int64
}

// Takes reports whether the plan is open to a card of brand b issued in country.
func (p Plan) Takes(b card.Brand, country string) bool {
	return slices.Contains(p.Brands, b) && (p.Country == AnyCountry || p.Country == country)
}

// Offers reports whether n is one of the plan's installment counts.
func (p Plan) Offers(n int) bool { return slices.Contains(p.Counts, n) }

// CountsText is the plan's counts as a merchant reads them in a refusal: "3, 6, 12".
func (p Plan) CountsText() string {
	s := make([]string, len(p.Counts))
	for i, n := range p.Counts {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// Table is a parsed plan table: at most one plan per currency, so that consult, which knows the
// currency and amount but not yet the card, shows one unambiguous list of counts.
type Table struct {
	byCurrency map[string]Plan
	order      []string // currencies as listed
}

//go:embed plans.csv
var data []byte

var std = mustParse(data)

func mustParse(b []byte) *Table {
	t, err := Parse(bytes.NewReader(b))
	if err != nil {
		panic(fmt.Sprintf("installments: the compiled-in table is broken: %v", err))
	}
	return t
}

// Default is the compiled-in table.
func Default() *Table { return std }

// ForCurrency is the plan for payments in currency, if the table has one.
func (t *Table) ForCurrency(currency string) (Plan, bool) {
	p, ok := t.byCurrency[currency]
	return p.clone(), ok
}

// Lookup is the plan a card of brand b issued in country may use for a payment in currency.
func (t *Table) Lookup(currency string, b card.Brand, country string) (Plan, bool) {
	p, ok := t.ForCurrency(currency)
	if !ok || !p.Takes(b, country) {
		return Plan{}, false
	}
	return p, true
}

// Plans lists every plan, in the table's order.
func (t *Table) Plans() []Plan {
	out := make([]Plan, 0, len(t.order))
	for _, c := range t.order {
		out = append(out, t.byCurrency[c].clone())
	}
	return out
}

func (p Plan) clone() Plan {
	p.Brands, p.Counts = slices.Clone(p.Brands), slices.Clone(p.Counts)
	return p
}

var columns = []string{"currency", "brands", "country", "counts", "interval", "feeType", "feePercentage", "interestRate", "min"}

// Parse reads a table in plans.csv's format. A row it cannot vouch for is refused with its line
// and column: a wrong plan would accept installments an issuer refuses, or refuse what it offers.
func Parse(r io.Reader) (*Table, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = len(columns)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("installments: header: %w", err)
	}
	if !slices.Equal(header, columns) {
		return nil, fmt.Errorf("installments: header is %q, want %q", strings.Join(header, ","), strings.Join(columns, ","))
	}
	t := &Table{byCurrency: map[string]Plan{}}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("installments: %w", err)
		}
		line, _ := cr.FieldPos(0)
		p, col, err := parseRow(rec)
		if err != nil {
			return nil, fmt.Errorf("installments: line %d, column %s: %w", line, col, err)
		}
		if _, dup := t.byCurrency[p.Currency]; dup {
			return nil, fmt.Errorf("installments: line %d, column currency: a second plan for %s", line, p.Currency)
		}
		t.byCurrency[p.Currency] = p
		t.order = append(t.order, p.Currency)
	}
	return t, nil
}

func parseRow(rec []string) (Plan, string, error) {
	var p Plan
	cur, ok := money.Lookup(rec[0])
	if !ok {
		return p, "currency", fmt.Errorf("%q is not an active ISO 4217 currency", rec[0])
	}
	p.Currency = cur.Code
	known := card.Brands()
	for _, b := range strings.Split(rec[1], "|") {
		if !slices.Contains(known, card.Brand(b)) {
			return p, "brands", fmt.Errorf("%q is not a card brand", b)
		}
		if slices.Contains(p.Brands, card.Brand(b)) {
			return p, "brands", fmt.Errorf("%s is listed twice", b)
		}
		p.Brands = append(p.Brands, card.Brand(b))
	}
	p.Country = rec[2]
	if p.Country != AnyCountry && !isCountry(p.Country) {
		return p, "country", fmt.Errorf("%q is neither two upper-case letters nor *", rec[2])
	}
	for _, s := range strings.Split(rec[3], "|") {
		n, err := strconv.Atoi(s)
		if err != nil || n < MinCount || n > MaxCount {
			return p, "counts", fmt.Errorf("%q is not a whole number from %d to %d", s, MinCount, MaxCount)
		}
		if len(p.Counts) > 0 && n <= p.Counts[len(p.Counts)-1] {
			return p, "counts", fmt.Errorf("%d does not follow %d: counts ascend without repeats", n, p.Counts[len(p.Counts)-1])
		}
		p.Counts = append(p.Counts, n)
	}
	if p.Interval = rec[4]; p.Interval != "MONTH" {
		return p, "interval", fmt.Errorf("%q: only MONTH is offered", rec[4])
	}
	if p.FeeType = rec[5]; p.FeeType != "PERCENTAGE" {
		return p, "feeType", fmt.Errorf("%q: the SDKs define only PERCENTAGE", rec[5])
	}
	fee, err := strconv.Atoi(rec[6])
	if err != nil || fee < 0 || fee > 100 {
		return p, "feePercentage", fmt.Errorf("%q is not a whole percentage from 0 to 100", rec[6])
	}
	p.FeePercentage = fee
	if !isDecimal(rec[7]) {
		return p, "interestRate", fmt.Errorf("%q is not a decimal such as 1.99", rec[7])
	}
	p.InterestRate = rec[7]
	minAmt, err := money.Parse(p.Currency, rec[8])
	if err != nil || minAmt.Minor == 0 {
		return p, "min", fmt.Errorf("%q is not a positive amount in minor units of %s", rec[8], p.Currency)
	}
	p.MinMinor = minAmt.Minor
	return p, "", nil
}

func isCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// isDecimal accepts digits with at most one decimal point inside them: "0", "1.99".
func isDecimal(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	return digits(whole) && (!dot || digits(frac))
}

func digits(s string) bool {
	if s == "" || len(s) > 8 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
