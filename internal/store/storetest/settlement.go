package storetest

import (
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
)

// testSettlementRoundTrip: a merchant's contracted settlement currencies round-trip in order (nil,
// every currency, too; an empty contract is refused), and a payment's settlement terms are
// written once, when it is created: a later change of the payment never rewrites them.
func testSettlementRoundTrip(t *testing.T, s store.Store) {
	sb := Sandbox(t, s)
	same(t, "the sandbox merchant's contract", sb.SettlementCurrencies, []string(nil))
	m := merchant.Merchant{ClientID: "SETTLE_EUR", Name: "Settles in EUR and USD", PublicKeys: map[string]string{"1": "PUB"},
		FingerprintKey: []byte("fp"), SettlementCurrencies: []string{"EUR", "USD"}, CreatedAt: T0}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := s.MerchantByClientID(ctx, m.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "contract", got.SettlementCurrencies, []string{"EUR", "USD"})
	empty := m
	empty.ClientID, empty.SettlementCurrencies = "SETTLE_NONE", []string{}
	wantErr(t, "a merchant contracted for no currency", s.CreateMerchant(ctx, empty), sqlstore.ErrConstraint)
	if _, err := s.MerchantByClientID(ctx, empty.ClientID); err == nil {
		t.Fatal("the merchant without a settlement currency was stored")
	}

	terms := payments.SettlementTerms{Currency: "USD", Rate: "0.74074074074074074074", FeeBPS: 150, FeeFixedMinor: 30}
	p := NewPayment(got, "P-SETTLE", "R-SETTLE")
	p.Settlement = terms
	mustCreate(t, s, p)
	read, err := s.PaymentByID(ctx, got.ClientID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "terms as created", read.Settlement, terms)
	next := approved(read)
	next.Settlement = payments.SettlementTerms{Currency: "EUR", Rate: "9", FeeBPS: 1}
	mustApply(t, s, change(read, next, payments.OpAuthApproved))
	after, err := s.PaymentByID(ctx, got.ClientID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "terms after a change that carried others", after.Settlement, terms)
	same(t, "the change itself", after.AuthorizedAt, T0.Add(time.Second))
}
