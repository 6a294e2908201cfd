package storetest

import (
	"testing"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
)

// testApplyWritesTheChallengePage: the 3-D Secure page's address (normalUrl, kept with the order)
// is set by a change when a soft decline turns into a challenge, and cleared by the change that
// records the authorization. A store that kept the order as created would answer a replayed pay
// U without its page, and keep a finished payment's page address.
func testApplyWritesTheChallengePage(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p := mustCreate(t, s, NewPayment(m, "P1", "R1"))

	open := p
	open.ChallengeToken, open.SealedCard, open.AcquirerState = "tok-1", "sealed", payments.AcquirerNotSent
	open.Order.NormalURL = "https://gateway.example/threeds/tok-1"
	open = mustApply(t, s, change(p, open, payments.OpChallenge))
	got, err := s.PaymentByID(ctx, m.ClientID, "P1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Order.NormalURL != open.Order.NormalURL {
		t.Fatalf("normalUrl after the challenge opened: %q, want %q", got.Order.NormalURL, open.Order.NormalURL)
	}

	done := approved(open)
	done.SealedCard, done.Order.NormalURL = "", ""
	mustApply(t, s, change(open, done, payments.OpAuthApproved))
	if got, err = s.PaymentByID(ctx, m.ClientID, "P1"); err != nil {
		t.Fatal(err)
	}
	if got.Order.NormalURL != "" || got.SealedCard != "" {
		t.Fatalf("after the authorization: normalUrl %q, sealed card %q; want both empty", got.Order.NormalURL, got.SealedCard)
	}
	if got.Order.ReferenceOrderID != p.Order.ReferenceOrderID || got.Order.NotifyURL != p.Order.NotifyURL {
		t.Fatalf("the order's facts changed: %+v, was %+v", got.Order, p.Order)
	}
}
