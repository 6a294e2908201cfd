package routing

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/protocol"
)

var acquirers = []string{"ALIPAY", "ADYEN", "CHECKOUT"}

// contractExample is the document of docs/design.md, with values filled in.
const contractExample = `{"rules":[{"match":{"currency":["EUR","GBP"],"cardBrand":["VISA","MASTERCARD"],"issuingCountry":["DE","FR"],"amountMin":"100","amountMax":"500000"},"route":["ADYEN","CHECKOUT"]}],"default":{"weights":{"ADYEN":70,"CHECKOUT":30}}}`

func mustParse(t testing.TB, doc string) Document {
	t.Helper()
	d, err := Parse([]byte(doc), acquirers)
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return d
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      Document
	}{
		{"empty", `{}`, Document{Rules: []Rule{}}},
		{"empty rules", ` {"rules": []} `, Document{Rules: []Rule{}}},
		{"catch-all rule", `{"rules":[{"match":{},"route":["CHECKOUT"]}]}`, Document{Rules: []Rule{{Route: []string{"CHECKOUT"}}}}},
		{"default only", `{"default":{"weights":{"ALIPAY":1}}}`, Document{Rules: []Rule{}, Default: &Default{Weights: map[string]int{"ALIPAY": 1}}}},
		{"zero bounds", `{"rules":[{"match":{"amountMin":"0","amountMax":"0"},"route":["ADYEN"]}]}`,
			Document{Rules: []Rule{{Match: Match{AmountMin: "0", AmountMax: "0"}, Route: []string{"ADYEN"}}}}},
		{"largest bound", `{"rules":[{"match":{"amountMax":"9999999999999999"},"route":["ADYEN"]}]}`,
			Document{Rules: []Rule{{Match: Match{AmountMax: "9999999999999999"}, Route: []string{"ADYEN"}}}}},
		{"contract example", contractExample, Document{
			Rules: []Rule{{Match: Match{Currency: []string{"EUR", "GBP"}, CardBrand: []string{"VISA", "MASTERCARD"},
				IssuingCountry: []string{"DE", "FR"}, AmountMin: "100", AmountMax: "500000"}, Route: []string{"ADYEN", "CHECKOUT"}}},
			Default: &Default{Weights: map[string]int{"ADYEN": 70, "CHECKOUT": 30}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustParse(t, tc.doc)
			tc.want.prepare()
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestParseRefuses names the field of every kind of bad document, as PARAM_ILLEGAL.
func TestParseRefuses(t *testing.T) {
	rule := func(match, route string) string {
		return `{"rules":[{"match":{},"route":["ADYEN"]},{"match":` + match + `,"route":` + route + `}]}`
	}
	m := func(match string) string { return rule(match, `["ADYEN"]`) }
	long := `"` + strings.Repeat("A", 40) + `"`
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"not JSON", `{"rules":`, `document: is not valid JSON`},
		{"empty body", ``, `document: is not valid JSON`},
		{"not UTF-8", "{\"rules\":[{\"match\":{\"currency\":[\"\xff\"]}}]}", `document: is not valid UTF-8`},
		{"too large", `{"rules":[` + strings.Repeat(" ", MaxDocumentBytes) + `]}`, `document: exceeds 65536 bytes`},
		{"array", `[]`, `document: must be an object`},
		{"null", `null`, `document: must be an object`},
		{"unknown top field", `{"rules":[],"fallback":{}}`, `document: unknown field "fallback"`},
		{"long unknown field", `{` + long + `:1}`, `document: unknown field (a 40-byte string)`},
		{"repeated field", `{"rules":[],"rules":[]}`, `document: field "rules" is given twice`},
		{"rules null", `{"rules":null}`, `rules: must be an array`},
		{"rules object", `{"rules":{}}`, `rules: must be an array`},
		{"too many rules", `{"rules":[` + strings.Repeat(`{"match":{},"route":["ADYEN"]},`, MaxRules) + `{"match":{},"route":["ADYEN"]}]}`,
			`rules: has 101 rules, at most 100 are allowed`},
		{"rule not object", `{"rules":[1]}`, `rules[0]: must be an object`},
		{"unknown rule field", `{"rules":[{"match":{},"route":["ADYEN"],"weight":1}]}`, `rules[0]: unknown field "weight"`},
		{"no match", `{"rules":[{"route":["ADYEN"]}]}`, `rules[0].match: is required ({} matches every payment)`},
		{"no route", `{"rules":[{"match":{}}]}`, `rules[0].route: is required`},
		{"empty route", rule(`{}`, `[]`), `rules[1].route: must list at least one value`},
		{"unknown acquirer", rule(`{}`, `["FOO"]`), `rules[1].route[0]: unknown acquirer "FOO"`},
		{"lower-case acquirer", rule(`{}`, `["ADYEN","adyen"]`), `rules[1].route[1]: unknown acquirer "adyen"`},
		{"duplicate acquirer", rule(`{}`, `["ADYEN","CHECKOUT","ADYEN"]`), `rules[1].route[2]: "ADYEN" is listed twice`},
		{"route not strings", rule(`{}`, `[1]`), `rules[1].route[0]: must be a string`},
		{"route string", rule(`{}`, `"ADYEN"`), `rules[1].route: must be an array`},
		{"match array", m(`[]`), `rules[1].match: must be an object`},
		{"unknown match field", m(`{"country":["DE"]}`), `rules[1].match: unknown field "country"`},
		{"unknown currency", m(`{"currency":["SGD","ABC"]}`), `rules[1].match.currency[1]: "ABC" is not an active ISO 4217 currency code`},
		{"lower-case currency", m(`{"currency":["sgd"]}`), `rules[1].match.currency[0]: "sgd" is not an active ISO 4217 currency code`},
		{"X currency", m(`{"currency":["XXX"]}`), `rules[1].match.currency[0]: "XXX" is not an active ISO 4217 currency code`},
		{"duplicate currency", m(`{"currency":["SGD","SGD"]}`), `rules[1].match.currency[1]: "SGD" is listed twice`},
		{"empty currency list", m(`{"currency":[]}`), `rules[1].match.currency: must list at least one value`},
		{"null currency", m(`{"currency":null}`), `rules[1].match.currency: must be an array`},
		{"unknown brand", m(`{"cardBrand":["VISA","VIZA"]}`), `rules[1].match.cardBrand[1]: unknown card brand "VIZA"`},
		{"lower-case country", m(`{"issuingCountry":["de"]}`), `rules[1].match.issuingCountry[0]: "de" is not a 2-letter upper-case country code`},
		{"3-letter country", m(`{"issuingCountry":["DEU"]}`), `rules[1].match.issuingCountry[0]: "DEU" is not a 2-letter upper-case country code`},
		{"empty country", m(`{"issuingCountry":[""]}`), `rules[1].match.issuingCountry[0]: "" is not a 2-letter upper-case country code`},
		{"amount number", m(`{"amountMin":100}`), `rules[1].match.amountMin: must be a string of minor units`},
		{"amount negative", m(`{"amountMin":"-1"}`), `rules[1].match.amountMin: "-1" is not a non-negative integer of at most 16 digits without leading zeros`},
		{"amount decimal", m(`{"amountMax":"1.50"}`), `rules[1].match.amountMax: "1.50" is not a non-negative integer of at most 16 digits without leading zeros`},
		{"amount leading zero", m(`{"amountMax":"0100"}`), `rules[1].match.amountMax: "0100" is not a non-negative integer of at most 16 digits without leading zeros`},
		{"amount empty", m(`{"amountMax":""}`), `rules[1].match.amountMax: "" is not a non-negative integer of at most 16 digits without leading zeros`},
		{"amount 17 digits", m(`{"amountMax":"10000000000000000"}`), `rules[1].match.amountMax: "10000000000000000" is not a non-negative integer of at most 16 digits without leading zeros`},
		{"min above max", m(`{"amountMin":"501","amountMax":"500"}`), `rules[1].match.amountMax: is below amountMin`},
		{"default array", `{"default":[]}`, `default: must be an object`},
		{"default without weights", `{"default":{}}`, `default.weights: is required`},
		{"unknown default field", `{"default":{"weights":{"ADYEN":1},"sticky":true}}`, `default: unknown field "sticky"`},
		{"no weights", `{"default":{"weights":{}}}`, `default.weights: must weigh at least one acquirer`},
		{"weight unknown acquirer", `{"default":{"weights":{"ADYEN":1,"FOO":1}}}`, `default.weights: unknown acquirer "FOO"`},
		{"weight repeated", `{"default":{"weights":{"ADYEN":1,"ADYEN":2}}}`, `default.weights: field "ADYEN" is given twice`},
		{"weight zero", `{"default":{"weights":{"ADYEN":0}}}`, `default.weights.ADYEN: must be a whole number from 1 to 1000000`},
		{"weight negative", `{"default":{"weights":{"ADYEN":-5}}}`, `default.weights.ADYEN: must be a whole number from 1 to 1000000`},
		{"weight fraction", `{"default":{"weights":{"ADYEN":1.5}}}`, `default.weights.ADYEN: must be a whole number from 1 to 1000000`},
		{"weight exponent", `{"default":{"weights":{"ADYEN":1e2}}}`, `default.weights.ADYEN: must be a whole number from 1 to 1000000`},
		{"weight string", `{"default":{"weights":{"ADYEN":"70"}}}`, `default.weights.ADYEN: must be a whole number from 1 to 1000000`},
		{"weight too large", `{"default":{"weights":{"ADYEN":1000001}}}`, `default.weights.ADYEN: must be a whole number from 1 to 1000000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), acquirers)
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeParamIllegal {
				t.Fatalf("error %v (%T), want PARAM_ILLEGAL", err, err)
			}
			if pe.Message != tc.want {
				t.Errorf("message\n got %s\nwant %s", pe.Message, tc.want)
			}
		})
	}
}

// TestParseChecksTheGivenAcquirers: the names a document may use are the gateway's, not a list
// of this package's.
func TestParseChecksTheGivenAcquirers(t *testing.T) {
	doc := []byte(`{"rules":[{"match":{},"route":["ACME"]}]}`)
	if _, err := Parse(doc, []string{"ACME"}); err != nil {
		t.Errorf("ACME configured: %v", err)
	}
	if _, err := Parse(doc, acquirers); err == nil {
		t.Error("ACME not configured: accepted")
	}
}

func TestMarshalIsCanonical(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{}`, `{"rules":[]}`},
		{`{"default":{"weights":{"CHECKOUT":30,"ADYEN":70}},"rules":[]}`, `{"rules":[],"default":{"weights":{"ADYEN":70,"CHECKOUT":30}}}`},
		{` { "rules" : [ { "route" : ["ADYEN"], "match" : { "amountMax":"5", "currency":["SGD"] } } ] } `,
			`{"rules":[{"match":{"currency":["SGD"],"amountMax":"5"},"route":["ADYEN"]}]}`},
		{contractExample, contractExample},
	} {
		got, err := Marshal(mustParse(t, tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("Marshal(Parse(%s))\n got %s\nwant %s", tc.doc, got, tc.want)
		}
	}
	if got, _ := Marshal(Document{}); string(got) != `{"rules":[]}` {
		t.Errorf("zero document marshals as %s", got)
	}
}

func TestRoute(t *testing.T) {
	doc := mustParse(t, `{"rules":[
		{"match":{"currency":["JPY"],"amountMin":"100000"},"route":["CHECKOUT"]},
		{"match":{"currency":["EUR","GBP"],"cardBrand":["VISA","MASTERCARD"],"issuingCountry":["DE","FR"],"amountMin":"100","amountMax":"500000"},"route":["ADYEN","CHECKOUT"]},
		{"match":{"cardBrand":["AMEX"]},"route":["ALIPAY","ADYEN"]}
	]}`)
	eur := Facts{Currency: "EUR", CardBrand: "VISA", IssuingCountry: "DE", AmountMinor: 100}
	with := func(f func(*Facts)) Facts { x := eur; f(&x); return x }
	for _, tc := range []struct {
		name  string
		facts Facts
		want  []string // nil: no rule matches (every acquirer, rotated)
	}{
		{"all conditions, lower bound inclusive", eur, []string{"ADYEN", "CHECKOUT"}},
		{"upper bound inclusive", with(func(f *Facts) { f.AmountMinor = 500000 }), []string{"ADYEN", "CHECKOUT"}},
		{"below the minimum", with(func(f *Facts) { f.AmountMinor = 99 }), nil},
		{"above the maximum", with(func(f *Facts) { f.AmountMinor = 500001 }), nil},
		{"other currency", with(func(f *Facts) { f.Currency = "SGD" }), nil},
		{"other brand", with(func(f *Facts) { f.CardBrand = "JCB" }), nil},
		{"other country", with(func(f *Facts) { f.IssuingCountry = "US" }), nil},
		{"unknown country never matches a country list", with(func(f *Facts) { f.IssuingCountry = "" }), nil},
		{"first matching rule wins", Facts{Currency: "JPY", CardBrand: "AMEX", AmountMinor: 100000}, []string{"CHECKOUT"}},
		{"later rule", Facts{Currency: "JPY", CardBrand: "AMEX", AmountMinor: 99999}, []string{"ALIPAY", "ADYEN"}},
		{"unknown country matches a rule without countries", Facts{Currency: "USD", CardBrand: "AMEX"}, []string{"ALIPAY", "ADYEN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := doc.Route(tc.facts, "key-1", acquirers)
			want := tc.want
			if want == nil {
				want = Document{}.Route(tc.facts, "key-1", acquirers)
			}
			if !slices.Equal(got, want) {
				t.Errorf("Route = %v, want %v", got, want)
			}
		})
	}
}

func TestRouteReturnsACopy(t *testing.T) {
	doc := mustParse(t, `{"rules":[{"match":{},"route":["ADYEN","CHECKOUT"]}]}`)
	doc.Route(Facts{}, "k", acquirers)[0] = "CHANGED"
	if got := doc.Route(Facts{}, "k", acquirers); got[0] != "ADYEN" {
		t.Errorf("a caller's change reached the document: %v", got)
	}
}

// TestRouteFallbacks: every list is a permutation of its candidates, the default's failover order
// is by weight, and no acquirers means no route.
func TestRouteFallbacks(t *testing.T) {
	weighted := mustParse(t, `{"rules":[{"match":{"currency":["JPY"]},"route":["ALIPAY"]}],"default":{"weights":{"ALIPAY":10,"CHECKOUT":30,"ADYEN":30}}}`)
	seen := map[string]bool{}
	for i := range 200 {
		got := weighted.Route(Facts{Currency: "SGD"}, fmt.Sprint("k", i), acquirers)
		seen[got[0]] = true
		rest := slices.DeleteFunc([]string{"ADYEN", "CHECKOUT", "ALIPAY"}, func(s string) bool { return s == got[0] })
		if !slices.Equal(got[1:], rest) {
			t.Fatalf("Route = %v: after %s want %v (descending weight, ties by name)", got, got[0], rest)
		}
	}
	if len(seen) != 3 {
		t.Errorf("first picks %v, want every weighted acquirer", seen)
	}

	empty := Document{}
	for i := range 50 {
		got := empty.Route(Facts{}, fmt.Sprint("k", i), acquirers)
		start := slices.Index(acquirers, got[0])
		want := append(slices.Clone(acquirers[start:]), acquirers[:start]...)
		if !slices.Equal(got, want) {
			t.Fatalf("Route = %v, want the acquirers rotated: %v", got, want)
		}
	}
	if got, want := (Document{Default: &Default{Weights: map[string]int{"ADYEN": 0}}}).Route(Facts{}, "k", acquirers), empty.Route(Facts{}, "k", acquirers); !slices.Equal(got, want) {
		t.Errorf("a default without a positive weight routes %v, want every acquirer as without one: %v", got, want)
	}
	if got := empty.Route(Facts{}, "k", nil); got != nil {
		t.Errorf("no acquirers: Route = %v, want nil", got)
	}
}

// TestHandBuiltRoutesAsParsed: a document not made by Parse routes the same way.
func TestHandBuiltRoutesAsParsed(t *testing.T) {
	parsed := mustParse(t, `{"rules":[{"match":{"amountMin":"100","amountMax":"200"},"route":["ALIPAY"]}],"default":{"weights":{"ADYEN":70,"CHECKOUT":30,"ALIPAY":30}}}`)
	built := Document{Rules: []Rule{{Match: Match{AmountMin: "100", AmountMax: "200"}, Route: []string{"ALIPAY"}}},
		Default: &Default{Weights: map[string]int{"ADYEN": 70, "CHECKOUT": 30, "ALIPAY": 30}}}
	for i := range 300 {
		key, f := fmt.Sprint("k", i), Facts{AmountMinor: int64(i)}
		if a, b := parsed.Route(f, key, acquirers), built.Route(f, key, acquirers); !slices.Equal(a, b) {
			t.Fatalf("key %s amount %d: parsed %v, built %v", key, i, a, b)
		}
	}
	broken := Document{Rules: []Rule{{Match: Match{AmountMax: "lots"}, Route: []string{"ALIPAY"}}}}
	if got := broken.Route(Facts{AmountMinor: 1}, "k", acquirers); slices.Equal(got, []string{"ALIPAY"}) {
		t.Errorf("a bound that is not a number matched: %v", got)
	}
}

func TestSameKeySameRoute(t *testing.T) {
	for _, doc := range []Document{{}, mustParse(t, contractExample)} {
		for i := range 100 {
			key := fmt.Sprint("pr-", i)
			f := Facts{Currency: "SGD", CardBrand: "VISA", AmountMinor: int64(i)}
			first := doc.Route(f, key, acquirers)
			for range 3 {
				if again := doc.Route(f, key, acquirers); !slices.Equal(first, again) {
					t.Fatalf("key %s routed %v, then %v", key, first, again)
				}
			}
		}
	}
	// Pinned picks: a change of the hash would re-route replays of payments in flight.
	for key, want := range map[string]string{"paymentRequestId01": "ALIPAY", "a": "ADYEN", "": "CHECKOUT"} {
		if got := (Document{}).Route(Facts{}, key, acquirers)[0]; got != want {
			t.Errorf("key %q first routes to %s, want %s as before", key, got, want)
		}
	}
}

// TestSpread: the picks follow the weights, and without weights every acquirer is equally likely,
// within ±2 percentage points over 20,000 keys shaped like real request ids.
func TestSpread(t *testing.T) {
	const n = 20000
	spread := func(doc Document, acq []string) map[string]float64 {
		count := map[string]int{}
		for i := range n {
			count[doc.Route(Facts{Currency: "SGD"}, fmt.Sprintf("order-%08d", i), acq)[0]]++
		}
		share := map[string]float64{}
		for k, c := range count {
			share[k] = 100 * float64(c) / n
		}
		return share
	}
	check := func(what string, got, want map[string]float64) {
		t.Helper()
		for k, w := range want {
			if math.Abs(got[k]-w) > 2 {
				t.Errorf("%s: %s got %.2f%%, want %.0f%% ± 2", what, k, got[k], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: picks %v, want only %v", what, got, want)
		}
	}
	check("70/30", spread(mustParse(t, `{"default":{"weights":{"ADYEN":70,"CHECKOUT":30}}}`), acquirers),
		map[string]float64{"ADYEN": 70, "CHECKOUT": 30})
	check("1/1", spread(mustParse(t, `{"default":{"weights":{"ADYEN":1,"CHECKOUT":1}}}`), acquirers),
		map[string]float64{"ADYEN": 50, "CHECKOUT": 50})
	third := 100.0 / 3
	check("no rules", spread(Document{}, acquirers), map[string]float64{"ALIPAY": third, "ADYEN": third, "CHECKOUT": third})
	check("unmatched rules", spread(mustParse(t, `{"rules":[{"match":{"currency":["JPY"]},"route":["ADYEN"]}]}`), acquirers),
		map[string]float64{"ALIPAY": third, "ADYEN": third, "CHECKOUT": third})
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{`{}`, contractExample, `{"rules":[{"match":{},"route":["ADYEN"]}]}`,
		`{"default":{"weights":{"ALIPAY":1,"ADYEN":2}}}`, `{"rules":[{"match":{"amountMin":"0","amountMax":"9999999999999999"},"route":["CHECKOUT","ALIPAY"]}]}`,
		`{"rules":null}`, `{"rules":[{"match":{"currency":["SGD"]}},1]}`, `[]`, `"x"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := Parse(raw, acquirers)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeParamIllegal {
				t.Fatalf("error %v (%T), want PARAM_ILLEGAL", err, err)
			}
			return
		}
		out, err := Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out, acquirers)
		if err != nil {
			t.Fatalf("canonical form %s refused: %v", out, err)
		}
		if !reflect.DeepEqual(d, again) {
			t.Fatalf("re-parse differs:\n%+v\n%+v", d, again)
		}
		if route := d.Route(Facts{Currency: "SGD", CardBrand: "VISA", AmountMinor: 4200}, string(raw), acquirers); len(route) == 0 {
			t.Fatalf("no route for a parsed document %s", out)
		}
	})
}

func BenchmarkRoute(b *testing.B) {
	doc := mustParse(b, `{"rules":[
		{"match":{"currency":["JPY"],"amountMin":"100000"},"route":["CHECKOUT"]},
		{"match":{"currency":["EUR","GBP"],"cardBrand":["VISA","MASTERCARD"],"issuingCountry":["DE","FR"],"amountMin":"100","amountMax":"500000"},"route":["ADYEN","CHECKOUT"]},
		{"match":{"cardBrand":["AMEX"]},"route":["ALIPAY","ADYEN"]}
	],"default":{"weights":{"ADYEN":70,"CHECKOUT":30}}}`)
	for _, bc := range []struct {
		name string
		f    Facts
	}{
		{"rule", Facts{Currency: "EUR", CardBrand: "VISA", IssuingCountry: "FR", AmountMinor: 4200}},
		{"default", Facts{Currency: "SGD", CardBrand: "VISA", IssuingCountry: "SG", AmountMinor: 4200}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				doc.Route(bc.f, "paymentRequestId01", acquirers)
			}
		})
	}
}
