package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/protocol"
)

// routingDoc is the document of docs/design.md (routing rules), with values filled in; the
// gateway answers it in canonical form (weights by name, fields in a fixed order).
const (
	routingDoc       = `{"default":{"weights":{"CHECKOUT":30,"ADYEN":70}},"rules":[{"route":["ADYEN","CHECKOUT"],"match":{"currency":["EUR"],"cardBrand":["VISA","MASTERCARD"],"issuingCountry":["DE"],"amountMin":"100","amountMax":"500000"}}]}`
	routingCanonical = `{"rules":[{"match":{"currency":["EUR"],"cardBrand":["VISA","MASTERCARD"],"issuingCountry":["DE"],"amountMin":"100","amountMax":"500000"},"route":["ADYEN","CHECKOUT"]}],"default":{"weights":{"ADYEN":70,"CHECKOUT":30}}}`
)

// routingDocOf is the document part of a routing answer, re-encoded compactly.
func routingDocOf(t testing.TB, r response) string {
	t.Helper()
	var v struct {
		Rules   json.RawMessage `json:"rules"`
		Default json.RawMessage `json:"default,omitempty"`
	}
	if err := json.Unmarshal(r.raw, &v); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, mustJSON(t, v)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// asMerchant signs calls as another merchant of the stack's store.
func asMerchant(t *testing.T, s *stack, name string) func(path string, body []byte) response {
	t.Helper()
	other, err := merchant.NewSandbox(name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.gw.Store.CreateMerchant(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	key, err := protocol.ParsePrivateKey(other.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return func(path string, body []byte) response {
		return s.send(t, http.MethodPost, path, signedWith(t, key, "1", path, other.ClientID, nowMS(), body), body)
	}
}

// routingRoundTrip is the routing calls' contract on one stack: no rules answers "rules":[] and no
// updatedAt; set stores and answers the canonical document, which get then answers; another
// merchant neither sees nor changes it.
func routingRoundTrip(t *testing.T, s *stack) {
	empty := s.call(t, protocol.PathRoutingGet, []byte(`{}`))
	expectResult(t, empty, "SUCCESS", "S")
	if got := string(empty.raw); !strings.Contains(got, `"rules":[]`) || strings.Contains(got, "updatedAt") || strings.Contains(got, "default") {
		t.Errorf("no rules answered %s, want \"rules\":[] and neither default nor updatedAt", got)
	}

	before := time.Now().Add(-time.Second)
	set := s.call(t, protocol.PathRoutingSet, []byte(routingDoc))
	expectResult(t, set, "SUCCESS", "S")
	if got := routingDocOf(t, set); got != routingCanonical {
		t.Errorf("set answered\n %s\nwant the canonical\n %s", got, routingCanonical)
	}
	at, err := time.Parse(time.RFC3339, str(set.body, "updatedAt"))
	if err != nil || at.Before(before.Truncate(time.Second)) || at.After(time.Now()) {
		t.Errorf("updatedAt %q (%v), want the time of the set", str(set.body, "updatedAt"), err)
	}
	got := s.call(t, protocol.PathRoutingGet, []byte(`{}`))
	expectResult(t, got, "SUCCESS", "S")
	if !bytes.Equal(got.raw, set.raw) {
		t.Errorf("get answered\n %s\nset answered\n %s", got.raw, set.raw)
	}

	other := asMerchant(t, s, "Routing other "+t.Name())
	otherGet := other(protocol.PathRoutingGet, []byte(`{}`))
	expectResult(t, otherGet, "SUCCESS", "S")
	if d := routingDocOf(t, otherGet); d != `{"rules":[]}` {
		t.Errorf("another merchant sees %s", d)
	}
	expectResult(t, other(protocol.PathRoutingSet, []byte(`{"rules":[{"match":{},"route":["ALIPAY"]}]}`)), "SUCCESS", "S")
	if d := routingDocOf(t, s.call(t, protocol.PathRoutingGet, []byte(`{}`))); d != routingCanonical {
		t.Errorf("after another merchant's set, ours reads %s", d)
	}
}

func TestRoutingRules(t *testing.T) {
	s := newStack(t)
	routingRoundTrip(t, s)

	// A bad document, at each level of it, is refused naming the field; the rules stay.
	for _, tc := range []struct{ name, doc, field string }{
		{"not JSON", `{"rules":[`, "document"},
		{"not an object", `[]`, "document"},
		{"unknown field", `{"rules":[],"extra":1}`, `document: unknown field "extra"`},
		{"rules", `{"rules":{}}`, "rules"},
		{"rule field", `{"rules":[{"match":{},"route":["ADYEN"],"priority":1}]}`, `rules[0]: unknown field "priority"`},
		{"unknown acquirer", `{"rules":[{"match":{},"route":["ADYEN"]},{"match":{},"route":["FOO"]}]}`, `rules[1].route[0]: unknown acquirer "FOO"`},
		{"empty route", `{"rules":[{"match":{},"route":[]}]}`, "rules[0].route"},
		{"duplicate acquirer", `{"rules":[{"match":{},"route":["ADYEN","ADYEN"]}]}`, "rules[0].route[1]"},
		{"currency", `{"rules":[{"match":{"currency":["EUR","XYZ"]},"route":["ADYEN"]}]}`, "rules[0].match.currency[1]"},
		{"card brand", `{"rules":[{"match":{"cardBrand":["visa"]},"route":["ADYEN"]}]}`, "rules[0].match.cardBrand[0]"},
		{"issuing country", `{"rules":[{"match":{"issuingCountry":["DEU"]},"route":["ADYEN"]}]}`, "rules[0].match.issuingCountry[0]"},
		{"amountMin", `{"rules":[{"match":{"amountMin":"-5"},"route":["ADYEN"]}]}`, "rules[0].match.amountMin"},
		{"amountMax", `{"rules":[{"match":{"amountMin":"500","amountMax":"100"},"route":["ADYEN"]}]}`, "rules[0].match.amountMax"},
		{"default", `{"default":{"weights":{}}}`, "default.weights"},
		{"weight", `{"default":{"weights":{"ADYEN":0}}}`, "default.weights.ADYEN"},
		{"weight acquirer", `{"default":{"weights":{"STRIPE":10}}}`, `default.weights: unknown acquirer "STRIPE"`},
		{"NUL in a field name", `{"rules\u0000":[]}`, "document: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.call(t, protocol.PathRoutingSet, []byte(tc.doc))
			expectResult(t, r, "PARAM_ILLEGAL", "F")
			if !strings.HasPrefix(r.message(), tc.field) {
				t.Errorf("resultMessage %q, want it to name %s", r.message(), tc.field)
			}
			if d := routingDocOf(t, s.call(t, protocol.PathRoutingGet, []byte(`{}`))); d != routingCanonical {
				t.Errorf("after a refused set the rules read %s, want the old ones", d)
			}
		})
	}

	// {} clears the rules, and says when.
	cleared := s.call(t, protocol.PathRoutingSet, []byte(`{}`))
	expectResult(t, cleared, "SUCCESS", "S")
	if d := routingDocOf(t, cleared); d != `{"rules":[]}` || str(cleared.body, "updatedAt") == "" {
		t.Errorf("{} answered %s", cleared.raw)
	}
}

// TestRoutingRulesOnPostgres runs the round trip on the production store.
func TestRoutingRulesOnPostgres(t *testing.T) {
	routingRoundTrip(t, newStackWith(t, stackOptions{postgres: true}))
}

// TestRoutingGolden pins the wire shape of the routing answers.
func TestRoutingGolden(t *testing.T) {
	s := newStack(t)
	r := s.call(t, protocol.PathRoutingGet, []byte(`{}`))
	expectResult(t, r, "SUCCESS", "S")
	checkGolden(t, "routing-get-none", r)
	r = s.call(t, protocol.PathRoutingSet, []byte(routingDoc))
	expectResult(t, r, "SUCCESS", "S")
	checkGolden(t, "routing-set", r)
	r = s.call(t, protocol.PathRoutingSet, []byte(`{"rules":[{"match":{},"route":["NOPE"]}]}`))
	expectResult(t, r, "PARAM_ILLEGAL", "F")
	checkGolden(t, "error-routing-unknown-acquirer", r)
}
