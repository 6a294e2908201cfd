package installments

import (
	"slices"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/bin"
	"github.com/cardgate/cardgate/internal/card"
)

// TestLookupTestCards walks the sandbox test cards of docs/installments.md through the BIN table
// and the plan table, as pay does.
func TestLookupTestCards(t *testing.T) {
	tests := []struct {
		pan, currency string
		counts        []int // nil: no plan
	}{
		{"4000000760000002", "BRL", []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"4000004840008001", "MXN", []int{3, 6, 9, 12}},
		{"4000004100000003", "KRW", []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"3566002020360505", "JPY", []int{3, 5, 6, 10, 12, 15, 18, 20, 24}},
		{"4242424242424242", "USD", []int{3, 6, 12}},
		{"5555555555554444", "USD", []int{3, 6, 12}},
		{"4000000760000002", "USD", []int{3, 6, 12}}, // the USD plan takes cards issued anywhere
		{"4242424242424242", "BRL", nil},             // a US card: BRL installments are for BR cards
		{"4000004840008001", "BRL", nil},
		{"378282246310005", "USD", nil},  // AMEX is not in the USD plan
		{"4242424242424242", "JPY", nil}, // JPY installments are JCB's
		{"4242424242424242", "SGD", nil}, // no plan for the currency
		{"4242424242424242", "EUR", nil},
	}
	for _, tt := range tests {
		t.Run(tt.pan+"/"+tt.currency, func(t *testing.T) {
			n, err := card.ParseNumber(tt.pan)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := Default().Lookup(tt.currency, n.Brand(), bin.Lookup(n).Country)
			if ok != (tt.counts != nil) {
				t.Fatalf("Lookup found=%v, want %v", ok, tt.counts != nil)
			}
			if ok && !slices.Equal(p.Counts, tt.counts) {
				t.Errorf("counts = %v, want %v", p.Counts, tt.counts)
			}
		})
	}
}

func TestPlanRules(t *testing.T) {
	p, ok := Default().ForCurrency("USD")
	if !ok {
		t.Fatal("no USD plan")
	}
	for n, want := range map[int]bool{1: false, 2: false, 3: true, 6: true, 7: false, 12: true, 24: false} {
		if p.Offers(n) != want {
			t.Errorf("Offers(%d) = %v, want %v", n, !want, want)
		}
	}
	if got := p.CountsText(); got != "3, 6, 12" {
		t.Errorf("CountsText = %q", got)
	}
	if p.MinMinor != 10000 || p.Interval != "MONTH" || p.FeeType != "PERCENTAGE" || p.InterestRate != "0" || p.FeePercentage != 2 {
		t.Errorf("USD plan = %+v", p)
	}
	p.Counts[0] = 99
	if q, _ := Default().ForCurrency("USD"); q.Counts[0] != 3 {
		t.Fatal("a caller's change reached the table")
	}
}

func TestParseRefusesBadRows(t *testing.T) {
	const header = "currency,brands,country,counts,interval,feeType,feePercentage,interestRate,min\n"
	const good = "USD,VISA,*,3|6,MONTH,PERCENTAGE,2,0,100\n"
	if _, err := Parse(strings.NewReader(header + good)); err != nil {
		t.Fatalf("good row refused: %v", err)
	}
	tests := []struct{ name, rows, want string }{
		{"currency", "XXX,VISA,*,3,MONTH,PERCENTAGE,2,0,100\n", "column currency"},
		{"duplicate currency", good + good, "a second plan for USD"},
		{"brand", "USD,VISA|NOPE,*,3,MONTH,PERCENTAGE,2,0,100\n", "column brands"},
		{"brand twice", "USD,VISA|VISA,*,3,MONTH,PERCENTAGE,2,0,100\n", "listed twice"},
		{"country", "USD,VISA,us,3,MONTH,PERCENTAGE,2,0,100\n", "column country"},
		{"count 1", "USD,VISA,*,1|3,MONTH,PERCENTAGE,2,0,100\n", "column counts"},
		{"count 37", "USD,VISA,*,3|37,MONTH,PERCENTAGE,2,0,100\n", "column counts"},
		{"counts descend", "USD,VISA,*,6|3,MONTH,PERCENTAGE,2,0,100\n", "ascend"},
		{"interval", "USD,VISA,*,3,WEEK,PERCENTAGE,2,0,100\n", "column interval"},
		{"fee type", "USD,VISA,*,3,MONTH,FIXED,2,0,100\n", "column feeType"},
		{"fee", "USD,VISA,*,3,MONTH,PERCENTAGE,2.5,0,100\n", "column feePercentage"},
		{"rate", "USD,VISA,*,3,MONTH,PERCENTAGE,2,-1,100\n", "column interestRate"},
		{"rate dot", "USD,VISA,*,3,MONTH,PERCENTAGE,2,1.,100\n", "column interestRate"},
		{"min", "USD,VISA,*,3,MONTH,PERCENTAGE,2,0,0\n", "column min"},
		{"min decimal", "USD,VISA,*,3,MONTH,PERCENTAGE,2,0,1.00\n", "column min"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(header + tt.rows))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := Parse(strings.NewReader("currency,brands\n")); err == nil {
		t.Fatal("a wrong header was accepted")
	}
}

// TestEveryPlanIsReachable: every plan names brands and counts, and the table has the rows
// docs/installments.md documents.
func TestEveryPlanIsReachable(t *testing.T) {
	for _, p := range Default().Plans() {
		if len(p.Brands) == 0 || len(p.Counts) == 0 {
			t.Errorf("%s: empty plan", p.Currency)
		}
	}
	if len(Default().Plans()) != 5 {
		t.Errorf("plans = %d, want the 5 of docs/installments.md", len(Default().Plans()))
	}
}
