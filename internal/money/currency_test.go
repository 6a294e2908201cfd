package money

import (
	"testing"
)

func TestLookupExponents(t *testing.T) {
	// Pinned because these are the exponents most likely to be mistyped as
	// the common 2, and a wrong one silently scales every amount by 10^n.
	tests := []struct {
		code string
		exp  int
	}{
		{"USD", 2}, {"EUR", 2}, {"SGD", 2}, {"GBP", 2}, {"CNY", 2}, {"HKD", 2},
		{"JPY", 0}, {"KRW", 0}, {"VND", 0}, {"ISK", 0}, {"CLP", 0}, {"PYG", 0},
		{"UGX", 0}, {"XAF", 0}, {"XOF", 0}, {"XPF", 0}, {"BIF", 0}, {"DJF", 0},
		{"GNF", 0}, {"KMF", 0}, {"RWF", 0}, {"UYI", 0}, {"VUV", 0},
		{"BHD", 3}, {"KWD", 3}, {"JOD", 3}, {"OMR", 3}, {"TND", 3}, {"LYD", 3}, {"IQD", 3},
		{"CLF", 4}, {"UYW", 4},
		// Recent replacements that older tables get wrong.
		{"XCG", 2}, {"ZWG", 2}, {"SLE", 2}, {"VED", 2}, {"VES", 2}, {"MRU", 2},
		{"STN", 2}, {"BYN", 2}, {"MGA", 2},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			c, ok := Lookup(tt.code)
			if !ok {
				t.Fatalf("Lookup(%q) not found", tt.code)
			}
			if c.Code != tt.code || c.Exponent != tt.exp {
				t.Errorf("Lookup(%q) = %+v, want exponent %d", tt.code, c, tt.exp)
			}
		})
	}
}

func TestLookupRejects(t *testing.T) {
	tests := []struct {
		name, code string
	}{
		{"no currency", "XXX"}, {"testing", "XTS"},
		{"gold", "XAU"}, {"silver", "XAG"}, {"platinum", "XPT"}, {"palladium", "XPD"},
		{"SDR", "XDR"}, {"XBA", "XBA"}, {"XBB", "XBB"}, {"XBC", "XBC"}, {"XBD", "XBD"},
		{"sucre", "XSU"}, {"ADB unit", "XUA"}, {"arab accounting dinar", "XAD"},
		{"withdrawn ANG", "ANG"}, {"withdrawn CUC", "CUC"}, {"withdrawn HRK", "HRK"},
		{"withdrawn SLL", "SLL"}, {"withdrawn ZWL", "ZWL"}, {"withdrawn VEF", "VEF"},
		{"withdrawn MRO", "MRO"}, {"withdrawn STD", "STD"}, {"withdrawn BYR", "BYR"},
		{"lowercase", "sgd"}, {"mixed case", "Sgd"}, {"empty", ""},
		{"too short", "SG"}, {"too long", "SGDX"}, {"padded", " SGD"}, {"unknown", "ABC"},
		{"digits", "702"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, ok := Lookup(tt.code); ok {
				t.Errorf("Lookup(%q) = %+v, want not found", tt.code, c)
			}
		})
	}
}

func TestCurrenciesTable(t *testing.T) {
	all := Currencies()
	// 165 List One codes with a numeric minor unit, minus XAD.
	if len(all) != 164 {
		t.Errorf("len(Currencies()) = %d, want 164", len(all))
	}
	byExp := map[int]int{}
	for i, c := range all {
		if len(c.Code) != 3 {
			t.Errorf("code %q is not three letters", c.Code)
		}
		for _, r := range c.Code {
			if r < 'A' || r > 'Z' {
				t.Errorf("code %q is not uppercase ASCII", c.Code)
			}
		}
		if i > 0 && all[i-1].Code >= c.Code {
			t.Errorf("Currencies() not strictly ordered at %q", c.Code)
		}
		if got, ok := Lookup(c.Code); !ok || got != c {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", c.Code, got, ok, c)
		}
		byExp[c.Exponent]++
	}
	// The published list has exactly 17 zero-exponent codes, 7 with three
	// decimals and 2 with four; everything else has two.
	want := map[int]int{0: 17, 2: 138, 3: 7, 4: 2}
	for exp, n := range want {
		if byExp[exp] != n {
			t.Errorf("%d currencies with exponent %d, want %d", byExp[exp], exp, n)
		}
	}
	if len(byExp) != len(want) {
		t.Errorf("unexpected exponents in table: %v", byExp)
	}

	// The returned slice is the caller's own.
	all[0].Exponent = 99
	if Currencies()[0].Exponent == 99 {
		t.Error("Currencies() shares its backing array with the package")
	}
}
