package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/protocol"
)

// newToken is a saved card as an approval makes it. Sealed stands for the vault envelope: the
// store keeps it as opaque text.
func newToken(m merchant.Merchant, id, buyerID, fingerprint string) *payments.Token {
	return &payments.Token{ID: id, MerchantID: m.ClientID, BuyerID: buyerID,
		Card: payments.CardSummary{Brand: "VISA", Masked: "424242******4242", BIN: "424242", LastFour: "4242",
			ExpiryMonth: "12", ExpiryYear: "2031", Fingerprint: fingerprint, HolderName: "Ada Ñandú 李"},
		Sealed: "v1.key-1.sealed-" + id, CreatedAt: T0.Add(time.Second), UpdatedAt: T0.Add(1500 * time.Millisecond)}
}

// buyerPayment is a payment in process of buyer-1, as pay creates it.
func buyerPayment(m merchant.Merchant, id string) payments.Payment {
	p := NewPayment(m, id, "R-"+id)
	p.Order.ReferenceBuyerID = "buyer-1"
	return p
}

// approveSaving approves p and saves tok in the same change.
func approveSaving(p payments.Payment, tok *payments.Token) payments.Change {
	c := change(p, approved(p), payments.OpAuthApproved)
	c.Payment.Card.Token = tok.ID
	c.NewToken = tok
	return c
}

func sealedStore(t *testing.T, s store.Store) payments.SealedStore {
	t.Helper()
	ss, ok := s.(payments.SealedStore)
	if !ok {
		t.Fatalf("%T does not implement payments.SealedStore", s)
	}
	return ss
}

// testTokenRoundTripAndScope: a token saved by an approval is found by its id and by its card,
// only by its merchant, and by card only for its buyer.
func testTokenRoundTripAndScope(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	o := Other(t, s, "OTHER_1")
	p := mustCreate(t, s, buyerPayment(m, "P1"))
	tok := newToken(m, "ctk_1", "buyer-1", "fp-1")
	mustApply(t, s, approveSaving(p, tok))

	got, err := s.TokenByID(ctx, m.ClientID, "ctk_1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "token by id", got, *tok)
	if got, err = s.TokenByFingerprint(ctx, m.ClientID, "buyer-1", "fp-1"); err != nil {
		t.Fatal(err)
	}
	same(t, "token by fingerprint", got, *tok)

	_, err = s.TokenByID(ctx, o.ClientID, "ctk_1")
	wantErr(t, "another merchant's token by id", err, payments.ErrNotFound)
	_, err = s.TokenByID(ctx, m.ClientID, "ctk_nope")
	wantErr(t, "unknown token", err, payments.ErrNotFound)
	_, err = s.TokenByFingerprint(ctx, m.ClientID, "buyer-2", "fp-1")
	wantErr(t, "the card for another buyer", err, payments.ErrNotFound)
	_, err = s.TokenByFingerprint(ctx, m.ClientID, "", "fp-1")
	wantErr(t, "the card for no buyer", err, payments.ErrNotFound)
	_, err = s.TokenByFingerprint(ctx, o.ClientID, "buyer-1", "fp-1")
	wantErr(t, "the card for another merchant", err, payments.ErrNotFound)
	_, err = s.TokenByFingerprint(ctx, m.ClientID, "buyer-1", "fp-2")
	wantErr(t, "another card", err, payments.ErrNotFound)

	// The same card may be saved for another buyer, for no buyer, and by another merchant: the
	// key is (merchant, buyer, card).
	for i, tk := range []*payments.Token{newToken(m, "ctk_2", "buyer-2", "fp-1"), newToken(m, "ctk_3", "", "fp-1"), newToken(o, "ctk_4", "buyer-1", "fp-1")} {
		mer := m
		if tk.MerchantID == o.ClientID {
			mer = o
		}
		q := mustCreate(t, s, buyerPayment(mer, fmt.Sprint("P-more-", i)))
		mustApply(t, s, approveSaving(q, tk))
		if got, err := s.TokenByFingerprint(ctx, tk.MerchantID, tk.BuyerID, "fp-1"); err != nil || got.ID != tk.ID {
			t.Fatalf("token of buyer %q of %s: %+v %v", tk.BuyerID, tk.MerchantID, got, err)
		}
	}
	if n := count(t, s, "card_tokens"); n != 4 {
		t.Fatalf("card_tokens: %d, want 4", n)
	}
}

// testTokenConflictIsAllOrNothing: a card its buyer already saved, or a token id already taken,
// refuses the whole change as a conflict, so the domain re-reads and finds the existing token.
func testTokenConflictIsAllOrNothing(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p := mustCreate(t, s, buyerPayment(m, "P1"))
	p = mustApply(t, s, approveSaving(p, newToken(m, "ctk_1", "buyer-1", "fp-1")))
	q := mustCreate(t, s, buyerPayment(m, "P2"))

	for name, c := range map[string]payments.Change{
		"the next change of the same payment saving the card again": func() payments.Change {
			next := p
			next.Capture = payments.CaptureProcessing
			c := change(p, next, payments.OpCapture)
			c.NewTxn = newTxn(p, "T1", payments.TxnCapture, "C1", payments.TxnProcessing, 4200, T0.Add(time.Minute))
			c.Outbox = &payments.OutboxMessage{MerchantID: m.ClientID, PaymentID: p.ID, NotifyType: "CAPTURE_RESULT", Ref: "T1",
				URL: "https://m.example/n", Body: []byte(`{}`), CreatedAt: T0}
			c.NewToken = newToken(m, "ctk_2", "buyer-1", "fp-1")
			return c
		}(),
		"another payment of the buyer saving the same card": approveSaving(q, newToken(m, "ctk_3", "buyer-1", "fp-1")),
		"a token id taken": approveSaving(q, newToken(m, "ctk_1", "buyer-1", "fp-other")),
	} {
		t.Run(name, func(t *testing.T) {
			before := counts(t, s)
			wantErr(t, "apply", s.Apply(ctx, c), payments.ErrConflict)
			if after := counts(t, s); after != before {
				t.Fatalf("a refused change wrote rows: %s, before %s", after, before)
			}
			got, err := s.PaymentByID(ctx, m.ClientID, c.Payment.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != c.FromVersion {
				t.Fatalf("the refused change moved the payment to version %d, from %d", got.Version, c.FromVersion)
			}
			if n := count(t, s, "card_tokens"); n != 1 {
				t.Fatalf("card_tokens: %d, want 1", n)
			}
			if got, err := s.TokenByFingerprint(ctx, m.ClientID, "buyer-1", "fp-1"); err != nil || got.ID != "ctk_1" {
				t.Fatalf("the existing token: %+v %v", got, err)
			}
		})
	}
	got, err := s.PaymentByID(ctx, m.ClientID, "P1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "P1 after the refused changes", got, p)
}

// testSealedAfterPagesTokens: key rotation walks every token's envelope in id order, page by page.
func testSealedAfterPagesTokens(t *testing.T, s store.Store) {
	ss := sealedStore(t, s)
	m := Sandbox(t, s)
	ids := []string{"ctk_D", "ctk_B", "ctk_E", "ctk_A", "ctk_C"} // inserted out of order
	for i, id := range ids {
		p := mustCreate(t, s, buyerPayment(m, fmt.Sprint("P", i)))
		mustApply(t, s, approveSaving(p, newToken(m, id, "buyer-1", "fp-"+id)))
	}
	var (
		walked []string
		after  string
		pages  int
	)
	for {
		page, err := ss.SealedAfter(ctx, payments.SealedTokens, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("a page of %d, limit 2", len(page))
		}
		pages++
		for _, r := range page {
			if r.Sealed != "v1.key-1.sealed-"+r.ID {
				t.Fatalf("envelope of %s: %q", r.ID, r.Sealed)
			}
			walked = append(walked, r.ID)
		}
		after = page[len(page)-1].ID
	}
	want := slices.Sorted(slices.Values(ids))
	same(t, "tokens walked", walked, want)
	if pages != 3 {
		t.Fatalf("%d pages, want 3", pages)
	}
	if page, err := ss.SealedAfter(ctx, payments.SealedTokens, "ctk_B", 10); err != nil || len(page) != 3 || page[0].ID != "ctk_C" {
		t.Fatalf("after ctk_B: %+v %v", page, err)
	}
	// Payments without a sealed card are not tokens' business, nor the other way round.
	if page, err := ss.SealedAfter(ctx, payments.SealedPayments, "", 10); err != nil || len(page) != 0 {
		t.Fatalf("payments with a sealed card: %+v %v", page, err)
	}
	if _, err := ss.SealedAfter(ctx, "merchants.private_key", "", 10); err == nil {
		t.Fatal("SealedAfter of an unknown kind answered")
	}
}

// testSealedAfterListsSealedPayments: only payments holding a sealed card (a 3-D Secure challenge
// pending) have an envelope to rewrap.
func testSealedAfterListsSealedPayments(t *testing.T, s store.Store) {
	ss := sealedStore(t, s)
	m := Sandbox(t, s)
	for _, id := range []string{"P3", "P1", "P2", "P4"} {
		p := NewPayment(m, id, "R-"+id)
		if id != "P2" {
			p.SealedCard = "v1.key-1.card-" + id
		}
		mustCreate(t, s, p)
	}
	// P4's challenge ended: the authorization result empties its sealed card.
	p4, err := s.PaymentByID(ctx, m.ClientID, "P4")
	if err != nil {
		t.Fatal(err)
	}
	next := approved(p4)
	next.SealedCard = ""
	mustApply(t, s, change(p4, next, payments.OpAuthApproved))

	got, err := ss.SealedAfter(ctx, payments.SealedPayments, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "payments with a sealed card", got, []payments.SealedRecord{{ID: "P1", Sealed: "v1.key-1.card-P1"}, {ID: "P3", Sealed: "v1.key-1.card-P3"}})
	if got, err = ss.SealedAfter(ctx, payments.SealedPayments, "P1", 1); err != nil {
		t.Fatal(err)
	}
	same(t, "after P1, one", got, []payments.SealedRecord{{ID: "P3", Sealed: "v1.key-1.card-P3"}})
	if got, err = ss.SealedAfter(ctx, payments.SealedPayments, "P3", 10); err != nil || len(got) != 0 {
		t.Fatalf("after the last: %+v %v", got, err)
	}
	if got, err = ss.SealedAfter(ctx, payments.SealedTokens, "", 10); err != nil || len(got) != 0 {
		t.Fatalf("tokens of a store without any: %+v %v", got, err)
	}
}

// testReplaceSealed: an envelope is swapped only if it is still the one rotation read; a
// payment's swap bumps its version, so a transition computed from the old row cannot write the
// old envelope back.
func testReplaceSealed(t *testing.T, s store.Store) {
	ss := sealedStore(t, s)
	m := Sandbox(t, s)
	p := mustCreate(t, s, buyerPayment(m, "P-T"))
	tok := newToken(m, "ctk_1", "buyer-1", "fp-1")
	mustApply(t, s, approveSaving(p, tok))

	ok, err := ss.ReplaceSealed(ctx, payments.SealedTokens, "ctk_1", tok.Sealed, "v2.key-2.sealed-ctk_1")
	if err != nil || !ok {
		t.Fatalf("replace the current token envelope: %v %v", ok, err)
	}
	want := *tok
	want.Sealed = "v2.key-2.sealed-ctk_1" // the card did not change: nor does UpdatedAt
	if got, err := s.TokenByID(ctx, m.ClientID, "ctk_1"); err != nil {
		t.Fatal(err)
	} else {
		same(t, "token after the swap", got, want)
	}
	if ok, err := ss.ReplaceSealed(ctx, payments.SealedTokens, "ctk_1", tok.Sealed, "v3.stale"); err != nil || ok {
		t.Fatalf("replace a stale token envelope: %v %v", ok, err)
	}
	if ok, err := ss.ReplaceSealed(ctx, payments.SealedTokens, "ctk_nope", tok.Sealed, "v3.x"); err != nil || ok {
		t.Fatalf("replace the envelope of an unknown token: %v %v", ok, err)
	}
	if got, _ := s.TokenByID(ctx, m.ClientID, "ctk_1"); got.Sealed != want.Sealed {
		t.Fatalf("a refused swap changed the envelope: %q", got.Sealed)
	}

	q := NewPayment(m, "P-C", "R-C")
	q.SealedCard = "v1.key-1.card"
	q = mustCreate(t, s, q)
	ok, err = ss.ReplaceSealed(ctx, payments.SealedPayments, "P-C", "v1.key-1.card", "v2.key-2.card")
	if err != nil || !ok {
		t.Fatalf("replace the current card envelope: %v %v", ok, err)
	}
	got, err := s.PaymentByID(ctx, m.ClientID, "P-C")
	if err != nil {
		t.Fatal(err)
	}
	wantP := q
	wantP.SealedCard, wantP.Version = "v2.key-2.card", q.Version+1
	same(t, "payment after the swap", got, wantP)
	if ok, err := ss.ReplaceSealed(ctx, payments.SealedPayments, "P-C", "v1.key-1.card", "v3.stale"); err != nil || ok {
		t.Fatalf("replace a stale card envelope: %v %v", ok, err)
	}
	if ok, err := ss.ReplaceSealed(ctx, payments.SealedPayments, "P-T", "", "v3.planted"); err == nil || ok {
		t.Fatalf("an empty old envelope swapped: %v %v", ok, err)
	}
	if ok, err := ss.ReplaceSealed(ctx, payments.SealedPayments, "P-C", "v2.key-2.card", ""); err == nil || ok {
		t.Fatalf("an envelope swapped for nothing: %v %v", ok, err)
	}

	// The challenge's answer, computed from the row rotation read, carries the old envelope: it
	// must conflict and re-read, not write that envelope back.
	stale := approved(q)
	wantErr(t, "apply from the version before the swap", s.Apply(ctx, change(q, stale, payments.OpAuthApproved)), payments.ErrConflict)
	if got, err := s.PaymentByID(ctx, m.ClientID, "P-C"); err != nil || got.SealedCard != "v2.key-2.card" || got.Version != wantP.Version {
		t.Fatalf("after the stale apply: %+v %v", got, err)
	}
	// From the re-read row it goes through.
	next := approved(got)
	next.SealedCard = ""
	mustApply(t, s, change(got, next, payments.OpAuthApproved))

	for _, kind := range []payments.SealedKind{"", "card_tokens; DROP TABLE payments"} {
		if ok, err := ss.ReplaceSealed(ctx, kind, "P-C", "a", "b"); err == nil || ok {
			t.Fatalf("ReplaceSealed of kind %q: %v %v", kind, ok, err)
		}
	}
}

// testConcurrentTokenSave: payments of one buyer approved at once with the same card (several
// tabs, several instances) save it once; every other approval conflicts, writes nothing, and its
// retry finds the saved token.
func testConcurrentTokenSave(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	const n = 8
	ps := make([]payments.Payment, n)
	for i := range ps {
		ps[i] = mustCreate(t, s, buyerPayment(m, fmt.Sprint("P", i)))
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won, lost int
		winner    string
	)
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := newToken(m, fmt.Sprint("ctk_", i), "buyer-1", "fp-same")
			err := s.Apply(ctx, approveSaving(p, tok))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
				winner = tok.ID
			case errors.Is(err, payments.ErrConflict):
				lost++
			default:
				t.Errorf("apply %s: %v", p.ID, err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != n-1 {
		t.Fatalf("saved %d, conflicts %d; want 1 and %d", won, lost, n-1)
	}
	if c := count(t, s, "card_tokens"); c != 1 {
		t.Fatalf("card_tokens: %d, want 1", c)
	}
	if got, err := s.TokenByFingerprint(ctx, m.ClientID, "buyer-1", "fp-same"); err != nil || got.ID != winner {
		t.Fatalf("the saved token is %q (%v), the winner %q", got.ID, err, winner)
	}
	approvedN := 0
	for _, p := range ps {
		got, err := s.PaymentByID(ctx, m.ClientID, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case got.Version == 2 && got.State == payments.StateSuccess && got.Card.Token == winner:
			approvedN++
		case got.Version == 1 && got.State == payments.StateProcessing && got.ResultCode == protocol.CodePaymentInProcess:
		default:
			t.Fatalf("payment %s after the race: %+v", p.ID, got)
		}
	}
	if approvedN != 1 {
		t.Fatalf("%d payments approved, want 1", approvedN)
	}
	if c := count(t, s, "payment_events"); c != n+1 {
		t.Fatalf("payment_events: %d, want %d", c, n+1)
	}
}
