package storetest

import (
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/routing"
	"github.com/cardgate/cardgate/internal/store"
)

// testRoutingRules: a merchant's document round-trips byte for byte with its time, a set replaces
// the whole document, merchants never see each other's, and rules for a merchant the store does
// not have are refused by the foreign key without writing a row.
func testRoutingRules(t *testing.T, s store.Store) {
	m, other := Sandbox(t, s), Other(t, s, "OTHER_ROUTING")
	get := func(id string) (string, time.Time) {
		t.Helper()
		raw, at, err := s.RoutingRules(ctx, id)
		if err != nil {
			t.Fatalf("RoutingRules(%s): %v", id, err)
		}
		return string(raw), at
	}
	if raw, at := get(m.ClientID); raw != "" || !at.IsZero() {
		t.Fatalf("no rules set: got %q at %v, want nothing", raw, at)
	}
	if raw, _, _ := s.RoutingRules(ctx, m.ClientID); raw != nil {
		t.Fatalf("no rules set: raw %q, want nil", raw)
	}

	first := `{"rules":[{"match":{"currency":["SGD"]},"route":["ADYEN","CHECKOUT"]}],"default":{"weights":{"ADYEN":70,"CHECKOUT":30}}}`
	if err := s.SetRoutingRules(ctx, m.ClientID, []byte(first), T0); err != nil {
		t.Fatal(err)
	}
	raw, at := get(m.ClientID)
	same(t, "document", raw, first)
	same(t, "updatedAt", at, T0)

	second := `{"rules":[]}`
	if err := s.SetRoutingRules(ctx, m.ClientID, []byte(second), T0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	raw, at = get(m.ClientID)
	same(t, "replaced document", raw, second)
	same(t, "replaced updatedAt", at, T0.Add(time.Minute))
	same(t, "rows after the upsert", count(t, s, "routing_rules"), 1)

	if raw, _ := get(other.ClientID); raw != "" {
		t.Fatalf("another merchant sees %q", raw)
	}
	if err := s.SetRoutingRules(ctx, other.ClientID, []byte(first), T0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	raw, _ = get(m.ClientID)
	same(t, "document after another merchant's set", raw, second)

	err := s.SetRoutingRules(ctx, "NO_SUCH_MERCHANT", []byte(first), T0)
	wantErr(t, "rules of an unknown merchant", err, routing.ErrUnknownMerchant)
	same(t, "rows after the refused set", count(t, s, "routing_rules"), 2)
	if raw, _ := get("NO_SUCH_MERCHANT"); raw != "" {
		t.Fatalf("refused rules stored: %q", raw)
	}
	if raw, _ := get("NO\x00SUCH"); raw != "" {
		t.Fatalf("an unstorable id finds %q", raw)
	}
}
