package fx_test

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/fx"
	"github.com/cardgate/cardgate/internal/money"
)

func cur(t *testing.T, code string) money.Currency {
	t.Helper()
	c, ok := money.Lookup(code)
	if !ok {
		t.Fatalf("no currency %s", code)
	}
	return c
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"1", true}, {"0.92", true}, {"150", true}, {"0.000001", true}, {"007.50", true},
		{"", false}, {"0", false}, {"0.000", false}, {"-1", false}, {"+1", false}, {"1e3", false}, {".5", false},
		{"5.", false}, {"1.2.3", false}, {" 1", false}, {"1/3", false}, {"NaN", false}, {strings.Repeat("9", 41), false},
	} {
		r, err := fx.ParseRate(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseRate(%q): %v, want ok %v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && r.String() != tc.in {
			t.Errorf("ParseRate(%q).String() = %q: a recorded rate must read back as written", tc.in, r.String())
		}
		if !tc.ok && !errors.Is(err, fx.ErrRate) {
			t.Errorf("ParseRate(%q): %v is not ErrRate", tc.in, err)
		}
	}
}

func TestParseTable(t *testing.T) {
	for _, tc := range []struct {
		name, csv, err string
	}{
		{"good", "# c\ncurrency,rate\nUSD,1\nEUR,0.92\n", ""},
		{"header", "code,rate\nUSD,1\n", "header"},
		{"empty", "currency,rate\n", "no currency"},
		{"base not one", "currency,rate\nEUR,0.92\n", "base currency"},
		{"unknown currency", "currency,rate\nUSD,1\nXAU,0.0005\n", `line 3: "XAU" is not an active ISO 4217`},
		{"lower case", "currency,rate\nUSD,1\neur,0.92\n", `"eur"`},
		{"twice", "currency,rate\nUSD,1\nEUR,0.92\nEUR,0.93\n", "line 4: EUR is listed twice"},
		{"bad rate", "currency,rate\nUSD,1\nEUR,0,92\n", "wrong number of fields"},
		{"zero rate", "currency,rate\nUSD,1\nEUR,0\n", "line 3: EUR"},
		{"float syntax", "currency,rate\nUSD,1\nEUR,9.2e-1\n", "line 3: EUR"},
	} {
		tab, err := fx.Parse(strings.NewReader(tc.csv))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
		case tc.err == "" && (tab.Base() != "USD" || len(tab.Currencies()) != 2):
			t.Errorf("%s: base %s, currencies %v", tc.name, tab.Base(), tab.Currencies())
		}
	}
}

func TestDefaultTable(t *testing.T) {
	tab := fx.Default()
	if tab.Base() != "USD" || len(tab.Currencies()) < 30 {
		t.Fatalf("embedded table: base %s, %d currencies", tab.Base(), len(tab.Currencies()))
	}
	// Every pair converts both ways with a rate that is not rounded away.
	for _, a := range tab.Currencies() {
		for _, b := range tab.Currencies() {
			if _, err := tab.Cross(a, b); err != nil {
				t.Fatalf("%s→%s: %v", a, b, err)
			}
		}
	}
}

func TestCross(t *testing.T) {
	tab, err := fx.Parse(strings.NewReader("currency,rate\nUSD,1\nEUR,0.92\nJPY,150\nGBP,0.79\nSGD,1.35\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"USD", "USD", "1"},
		{"MNT", "MNT", "1"}, // a currency to itself needs no row
		{"USD", "EUR", "0.92"},
		{"EUR", "USD", "1.08695652173913043478"}, // 1/0.92, rounded at 20 places
		{"JPY", "USD", "0.00666666666666666667"}, // 1/150: the last digit rounds up
		{"EUR", "JPY", "163.04347826086956521739"},
		{"GBP", "SGD", "1.70886075949367088608"},
		{"SGD", "GBP", "0.58518518518518518519"},
	} {
		r, err := tab.Cross(tc.from, tc.to)
		if err != nil || r.String() != tc.want {
			t.Errorf("Cross(%s, %s) = %v, %v; want %s", tc.from, tc.to, r, err, tc.want)
		}
	}
	for _, pair := range [][2]string{{"USD", "MNT"}, {"MNT", "USD"}} {
		if _, err := tab.Cross(pair[0], pair[1]); !errors.Is(err, fx.ErrNoRate) || !strings.Contains(err.Error(), "MNT") {
			t.Errorf("Cross(%s, %s): %v, want ErrNoRate naming MNT", pair[0], pair[1], err)
		}
	}
}

func TestConvert(t *testing.T) {
	rate := func(s string) fx.Rate {
		r, err := fx.ParseRate(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		minor    int64
		from, to string
		rate     string
		want     int64
	}{
		{4200, "USD", "USD", "1", 4200},
		{4200, "USD", "EUR", "0.92", 3864},
		{1, "USD", "EUR", "0.5", 1},       // 0.5 → 1: a half goes away from zero
		{3, "USD", "EUR", "0.5", 2},       // 1.5 → 2
		{-3, "USD", "EUR", "0.5", -2},     // −1.5 → −2, symmetric
		{1, "USD", "EUR", "0.49", 0},      // 0.49 → 0
		{4200, "USD", "JPY", "150", 6300}, // 42.00 USD = 6300 JPY (exponent 2 → 0)
		{4200, "JPY", "USD", "0.00666666666666666667", 2800},
		{1000, "USD", "BHD", "0.376", 3760},            // 10.00 USD = 3.760 BHD (exponent 2 → 3)
		{1, "JPY", "USD", "0.00666666666666666667", 1}, // 0.6667 cents → 1
		{9999999999999999, "USD", "USD", "1", 9999999999999999},
	} {
		got, err := fx.Convert(tc.minor, cur(t, tc.from), cur(t, tc.to), rate(tc.rate))
		if err != nil || got != tc.want {
			t.Errorf("Convert(%d %s → %s at %s) = %d, %v; want %d", tc.minor, tc.from, tc.to, tc.rate, got, err, tc.want)
		}
	}
	if _, err := fx.Convert(9999999999999999, cur(t, "BHD"), cur(t, "IDR"), rate("42000")); !errors.Is(err, fx.ErrOverflow) {
		t.Errorf("a conversion past 64 bits: %v, want ErrOverflow", err)
	}
	if _, err := fx.Convert(1, cur(t, "USD"), cur(t, "EUR"), fx.Rate{}); !errors.Is(err, fx.ErrRate) {
		t.Errorf("the zero rate: %v, want ErrRate", err)
	}
}

func TestRoundHalfAway(t *testing.T) {
	for _, tc := range []struct {
		num, den int64
		want     int64
	}{
		{5, 2, 3}, {-5, 2, -3}, {7, 2, 4}, {-7, 2, -4}, {1, 3, 0}, {2, 3, 1}, {-2, 3, -1}, {0, 1, 0},
		{24999, 10000, 2}, {25000, 10000, 3}, {math.MaxInt64, 1, math.MaxInt64},
	} {
		got, err := fx.RoundHalfAway(big.NewRat(tc.num, tc.den))
		if err != nil || got != tc.want {
			t.Errorf("RoundHalfAway(%d/%d) = %d, %v; want %d", tc.num, tc.den, got, err, tc.want)
		}
	}
	big2 := new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), 63))
	if _, err := fx.RoundHalfAway(big2); !errors.Is(err, fx.ErrOverflow) {
		t.Errorf("2^63: %v, want ErrOverflow", err)
	}
}
