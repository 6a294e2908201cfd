// Package bin is the gateway's BIN table: what a card's first digits say about it beyond its
// brand (issuing country, funding, category, issuer, the schemes of a co-badged card, and whether
// it is processed as a local card). The table is data, bins.csv, kept in the repository and
// compiled in; docs/bins.md says where it comes from.
package bin

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cardgate/cardgate/internal/card"
)

// Info is what the table knows of a card.
type Info struct {
	// Brands are the schemes the card carries: one, or several for a co-badged card, the
	// domestic scheme first (the brand a payment uses when the merchant does not choose).
	Brands   []card.Brand
	Funding  string // CREDIT, DEBIT or PREPAID
	Category string // CONSUMER or COMMERCIAL
	Country  string // issuing country, ISO 3166-1 alpha-2
	Issuer   string
	// Region is the card's paymentMethodRegion: GLOBAL, or the country whose local card rules
	// apply to it (KR).
	Region string
}

// Carries reports whether the card carries brand b.
func (i Info) Carries(b card.Brand) bool { return slices.Contains(i.Brands, b) }

// CoBadged reports whether the card carries more than one scheme.
func (i Info) CoBadged() bool { return len(i.Brands) > 1 }

// Table is a parsed BIN table.
type Table struct {
	prefixes []row               // longest prefix first
	defaults map[card.Brand]Info // a brand's row for numbers no prefix matches
}

type row struct {
	prefix string
	info   Info
}

//go:embed bins.csv
var data []byte

var std = mustParse(data)

func mustParse(b []byte) *Table {
	t, err := Parse(bytes.NewReader(b))
	if err != nil {
		panic(fmt.Sprintf("bin: the compiled-in table is broken: %v", err))
	}
	return t
}

// Lookup is the compiled-in table's Lookup.
func Lookup(n card.Number) Info { return std.Lookup(n) }

// Default is the compiled-in table.
func Default() *Table { return std }

// Lookup returns what the table knows of n: its longest matching prefix row, else its brand's
// default row, else only its brand. The result is a copy the caller may change.
func (t *Table) Lookup(n card.Number) Info {
	pan := n.Digits()
	for _, r := range t.prefixes {
		if strings.HasPrefix(pan, r.prefix) {
			return r.info.clone()
		}
	}
	if d, ok := t.defaults[n.Brand()]; ok {
		return d.clone()
	}
	return Info{Brands: []card.Brand{n.Brand()}, Region: "GLOBAL"}
}

func (i Info) clone() Info {
	i.Brands = slices.Clone(i.Brands)
	return i
}

var (
	fundings   = []string{"CREDIT", "DEBIT", "PREPAID"}
	categories = []string{"CONSUMER", "COMMERCIAL"}
)

// Parse reads a table in bins.csv's format, refusing any row it cannot vouch for with its line
// number and column: a wrong table would put wrong facts in every answer and route.
func Parse(r io.Reader) (*Table, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 7
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("bin table header: %w", err)
	}
	want := []string{"prefix", "brands", "funding", "category", "country", "issuer", "region"}
	if !slices.Equal(header, want) {
		return nil, fmt.Errorf("bin table header is %q, want %q", header, want)
	}
	known := card.Brands()
	t := &Table{defaults: map[card.Brand]Info{}}
	seen := map[string]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bin table: %w", err)
		}
		line, _ := cr.FieldPos(0)
		bad := func(col, why string) error { return fmt.Errorf("bin table line %d, %s: %s", line, col, why) }
		info := Info{Funding: rec[2], Category: rec[3], Country: rec[4], Issuer: rec[5], Region: rec[6]}
		for _, b := range strings.Split(rec[1], "|") {
			if !slices.Contains(known, card.Brand(b)) {
				return nil, bad("brands", fmt.Sprintf("unknown brand %q", b))
			}
			if slices.Contains(info.Brands, card.Brand(b)) {
				return nil, bad("brands", fmt.Sprintf("brand %q twice", b))
			}
			info.Brands = append(info.Brands, card.Brand(b))
		}
		switch {
		case !slices.Contains(fundings, info.Funding):
			return nil, bad("funding", fmt.Sprintf("%q is not one of %v", info.Funding, fundings))
		case !slices.Contains(categories, info.Category):
			return nil, bad("category", fmt.Sprintf("%q is not one of %v", info.Category, categories))
		case !isCountry(info.Country):
			return nil, bad("country", fmt.Sprintf("%q is not two upper-case letters", info.Country))
		case info.Issuer == "":
			return nil, bad("issuer", "empty")
		case info.Region != "GLOBAL" && info.Region != info.Country:
			return nil, bad("region", fmt.Sprintf("%q is neither GLOBAL nor the issuing country %s", info.Region, info.Country))
		}
		prefix := rec[0]
		if prefix == "*" {
			if len(info.Brands) != 1 {
				return nil, bad("brands", "a default row names one brand")
			}
			if _, dup := t.defaults[info.Brands[0]]; dup {
				return nil, bad("brands", fmt.Sprintf("a second default row for %s", info.Brands[0]))
			}
			t.defaults[info.Brands[0]] = info
			continue
		}
		if len(prefix) < 6 || len(prefix) > 11 || strings.Trim(prefix, "0123456789") != "" {
			return nil, bad("prefix", fmt.Sprintf("%q is not 6 to 11 digits", prefix))
		}
		if seen[prefix] {
			return nil, bad("prefix", fmt.Sprintf("%s twice", prefix))
		}
		seen[prefix] = true
		// The number's own brand (from its IIN range) must be one the row names, or a payment
		// could carry a brand its card does not.
		if b, ok := card.DetectBrand(prefix + strings.Repeat("0", 19-len(prefix))); !ok || !info.Carries(b) {
			return nil, bad("brands", fmt.Sprintf("prefix %s is a %s number, which the row does not name", prefix, b))
		}
		t.prefixes = append(t.prefixes, row{prefix: prefix, info: info})
	}
	slices.SortStableFunc(t.prefixes, func(a, b row) int { return len(b.prefix) - len(a.prefix) })
	return t, nil
}

func isCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
