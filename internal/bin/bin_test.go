package bin

import (
	"slices"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/card"
)

func mustNumber(t *testing.T, s string) card.Number {
	t.Helper()
	n, err := card.ParseNumber(s)
	if err != nil {
		t.Fatalf("ParseNumber(%s): %v", s, err)
	}
	return n
}

func TestLookupTestCards(t *testing.T) {
	tests := []struct {
		pan                     string
		brands                  []card.Brand
		funding, category       string
		country, region, issuer string
	}{
		{"4242424242424242", []card.Brand{card.Visa}, "CREDIT", "CONSUMER", "US", "GLOBAL", "CARDGATE SANDBOX BANK"},
		{"5555555555554444", []card.Brand{card.Mastercard}, "CREDIT", "CONSUMER", "US", "GLOBAL", "CARDGATE SANDBOX BANK"},
		{"3566002020360505", []card.Brand{card.JCB}, "CREDIT", "CONSUMER", "JP", "GLOBAL", "JCB CO. LTD."},
		{"6200000000000005", []card.Brand{card.CUP}, "CREDIT", "CONSUMER", "CN", "GLOBAL", "CHINA UNIONPAY"},
		{"4000000760000002", []card.Brand{card.Visa}, "CREDIT", "CONSUMER", "BR", "GLOBAL", "CARDGATE SANDBOX BANCO"},
		{"4000004100000003", []card.Brand{card.Visa}, "CREDIT", "CONSUMER", "KR", "KR", "CARDGATE SANDBOX BANK KOREA"},
		{"4000004109000004", []card.Brand{card.Visa}, "CREDIT", "COMMERCIAL", "KR", "KR", "CARDGATE SANDBOX BANK KOREA"},
		{"4000002760003184", []card.Brand{card.Visa}, "CREDIT", "CONSUMER", "DE", "GLOBAL", "CARDGATE SANDBOX BANK AG"},
		{"4970100000000006", []card.Brand{card.CartesBancaires, card.Visa}, "DEBIT", "CONSUMER", "FR", "GLOBAL", "CARDGATE SANDBOX BANQUE"},
		{"4000056655665556", []card.Brand{card.Visa}, "DEBIT", "CONSUMER", "US", "GLOBAL", "CARDGATE SANDBOX BANK"},
		{"5105105105105100", []card.Brand{card.Mastercard}, "PREPAID", "CONSUMER", "US", "GLOBAL", "CARDGATE SANDBOX BANK"},
		{"5556761100000003", []card.Brand{card.Mastercard}, "CREDIT", "COMMERCIAL", "US", "GLOBAL", "CARDGATE SANDBOX BANK"},
		{"9792000000000003", []card.Brand{card.Troy}, "CREDIT", "CONSUMER", "TR", "GLOBAL", "CARDGATE SANDBOX BANKASI"},
		// The failover cards share the test BIN 400000 but no country prefix: the Visa default.
		{"4000000000000309", []card.Brand{card.Visa}, "CREDIT", "CONSUMER", "US", "GLOBAL", "CARDGATE SANDBOX BANK"},
	}
	for _, tt := range tests {
		t.Run(tt.pan, func(t *testing.T) {
			got := Lookup(mustNumber(t, tt.pan))
			want := Info{Brands: tt.brands, Funding: tt.funding, Category: tt.category, Country: tt.country, Issuer: tt.issuer, Region: tt.region}
			if !slices.Equal(got.Brands, want.Brands) || got.Funding != want.Funding || got.Category != want.Category ||
				got.Country != want.Country || got.Issuer != want.Issuer || got.Region != want.Region {
				t.Errorf("Lookup = %+v, want %+v", got, want)
			}
		})
	}
}

func TestLookupIsACopy(t *testing.T) {
	n := mustNumber(t, "4970100000000006")
	a := Lookup(n)
	a.Brands[0] = card.Amex
	if b := Lookup(n); b.Brands[0] != card.CartesBancaires {
		t.Fatalf("a caller's change reached the table: %v", b.Brands)
	}
}

func TestEveryBrandHasADefault(t *testing.T) {
	for _, b := range card.Brands() {
		if b == card.CartesBancaires {
			continue // never a number's own brand: it only rides on a co-badged card
		}
		if _, ok := Default().defaults[b]; !ok {
			t.Errorf("no default row for %s", b)
		}
	}
}

func TestParseRefusesBadRows(t *testing.T) {
	const header = "prefix,brands,funding,category,country,issuer,region\n"
	tests := []struct{ name, rows, want string }{
		{"unknown brand", "424242,VISA|NOPE,CREDIT,CONSUMER,US,X,GLOBAL", `line 2, brands: unknown brand "NOPE"`},
		{"funding", "424242,VISA,CHARGE,CONSUMER,US,X,GLOBAL", "line 2, funding"},
		{"category", "424242,VISA,CREDIT,VIP,US,X,GLOBAL", "line 2, category"},
		{"country", "424242,VISA,CREDIT,CONSUMER,usa,X,GLOBAL", "line 2, country"},
		{"issuer", "424242,VISA,CREDIT,CONSUMER,US,,GLOBAL", "line 2, issuer"},
		{"region elsewhere", "424242,VISA,CREDIT,CONSUMER,US,X,KR", "line 2, region"},
		{"short prefix", "4242,VISA,CREDIT,CONSUMER,US,X,GLOBAL", "line 2, prefix"},
		{"letters", "4242ab,VISA,CREDIT,CONSUMER,US,X,GLOBAL", "line 2, prefix"},
		{"wrong brand", "555555,VISA,CREDIT,CONSUMER,US,X,GLOBAL", "MASTERCARD number"},
		{"twice", "424242,VISA,CREDIT,CONSUMER,US,X,GLOBAL\n424242,VISA,DEBIT,CONSUMER,US,X,GLOBAL", "line 3, prefix: 424242 twice"},
		{"two defaults", "*,VISA,CREDIT,CONSUMER,US,X,GLOBAL\n*,VISA,DEBIT,CONSUMER,US,X,GLOBAL", "line 3, brands: a second default"},
		{"co-badged default", "*,CARTES_BANCAIRES|VISA,CREDIT,CONSUMER,FR,X,GLOBAL", "one brand"},
		{"columns", "424242,VISA,CREDIT", "wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(header + tt.rows + "\n"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := Parse(strings.NewReader("bin,brand\n")); err == nil {
		t.Fatal("a wrong header was accepted")
	}
}

func TestLongestPrefixWins(t *testing.T) {
	tab, err := Parse(strings.NewReader("prefix,brands,funding,category,country,issuer,region\n" +
		"424242,VISA,CREDIT,CONSUMER,US,SHORT,GLOBAL\n42424242,VISA,DEBIT,CONSUMER,GB,LONG,GLOBAL\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.Lookup(mustNumber(t, "4242424242424242")); got.Issuer != "LONG" {
		t.Errorf("4242424242424242: issuer %q, want LONG", got.Issuer)
	}
	if got := tab.Lookup(mustNumber(t, "4242420000000000")); got.Issuer != "SHORT" {
		t.Errorf("4242420000000000: issuer %q, want SHORT", got.Issuer)
	}
	if got := tab.Lookup(mustNumber(t, "5555555555554444")); got.Country != "" || !slices.Equal(got.Brands, []card.Brand{card.Mastercard}) {
		t.Errorf("no row, no default: %+v, want only the brand", got)
	}
}
