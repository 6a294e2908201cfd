package fx_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/fx"
)

// FuzzParse: no input panics the table parser, and a table it accepts has its base first at 1
// and converts between any two of its currencies (or says why not) without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte("currency,rate\nUSD,1\nEUR,0.92\nJPY,150\n"))
	f.Add([]byte("# c\ncurrency,rate\nSGD,1\nIDR,11700.5\n"))
	f.Add([]byte("currency,rate\nUSD,1\nEUR,0.0000000000000000000001\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := fx.Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		list := tab.Currencies()
		if list[0] != tab.Base() {
			t.Fatalf("base %s is not first in %v", tab.Base(), list)
		}
		for _, a := range list {
			for _, c := range list {
				r, err := tab.Cross(a, c)
				if err != nil {
					continue
				}
				if back, err := fx.ParseRate(r.String()); err != nil || back.Rat().Cmp(r.Rat()) != 0 {
					t.Fatalf("cross rate %s→%s %q does not read back: %v", a, c, r, err)
				}
			}
		}
	})
}

// FuzzParseRate: a rate that parses reads back as written and is positive.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"1", "0.92", "0", "-1", "1e3", "00.10", strings.Repeat("9", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := fx.ParseRate(s)
		if err != nil {
			return
		}
		if r.String() != s || r.Rat().Sign() <= 0 {
			t.Fatalf("ParseRate(%q) = %v (%s)", s, r, r.Rat())
		}
	})
}
