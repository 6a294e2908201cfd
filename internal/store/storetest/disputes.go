package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
)

// CapturedPayment is an authorized payment of m captured in full (4200), with refunded refunded.
func CapturedPayment(t *testing.T, s store.Store, m merchant.Merchant, id string, refunded int64) payments.Payment {
	t.Helper()
	p := authorize(t, s, NewPayment(m, id, "R-"+id))
	next := p
	next.Capture, next.CapturedMinor, next.RefundedMinor, next.CapturedAt = payments.CaptureSucceeded, 4200, refunded, T0.Add(2*time.Second)
	return mustApply(t, s, change(p, next, payments.OpCaptureSucceeded))
}

func newDispute(p payments.Payment, id string, amount int64) disputes.Dispute {
	return disputes.Dispute{ID: id, MerchantID: p.MerchantID, PaymentID: p.ID, CaptureID: "C-" + p.ID, AmountMinor: amount,
		Currency: "SGD", ReasonCode: "10.4", ReasonMsg: "Fraud: card absent", State: disputes.Open, DefenseWins: true,
		OpenedAt: T0.Add(time.Hour), DefenseDue: T0.Add(time.Hour + disputes.DefenseWindow), Version: 1}
}

func openChange(d disputes.Dispute) disputes.Change {
	return disputes.Change{Dispute: d, Event: "OPEN", At: d.OpenedAt,
		Notice: &disputes.Notice{Type: disputes.NotifyCreated, URL: "https://m.example/n", Body: []byte(`{"disputeId":"` + d.ID + `"}`), CreatedAt: d.OpenedAt}}
}

// testDisputeRoundTripAndGuards: a dispute round-trips; a transition is guarded by its version
// and writes its event and its one notification; the clock's due list follows the state; another
// merchant sees and changes nothing.
func testDisputeRoundTripAndGuards(t *testing.T, s store.Store) {
	m, other := Sandbox(t, s), Other(t, s, "OTHER_DISPUTE")
	p := CapturedPayment(t, s, m, "P1", 0)
	d := newDispute(p, "D1", 4200)
	if err := s.OpenDispute(ctx, openChange(d)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "the same dispute twice", s.OpenDispute(ctx, openChange(d)), disputes.ErrDuplicate)
	got, err := s.DisputeByID(ctx, m.ClientID, "D1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "dispute", got, d)
	_, err = s.DisputeByID(ctx, other.ClientID, "D1")
	wantErr(t, "another merchant's dispute", err, disputes.ErrNotFound)
	if list, _ := s.DisputesOfPayment(ctx, other.ClientID, "P1"); len(list) != 0 {
		t.Fatalf("another merchant lists %v", list)
	}

	// Due: the alert a day before the deadline, not before.
	alertAt := d.DefenseDue.Add(-disputes.AlertBefore)
	if due, _ := s.DueDisputes(ctx, alertAt.Add(-time.Millisecond), 10); len(due) != 0 {
		t.Fatalf("due before the alert: %v", due)
	}
	if due, _ := s.DueDisputes(ctx, alertAt, 10); len(due) != 1 || due[0].ID != "D1" {
		t.Fatalf("due at the alert: %v", due)
	}

	step, err := disputes.Apply(got, disputes.EvDefend, T0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	step.Next.EvidenceSealed = "sealed-evidence"
	c := disputes.Change{Dispute: step.Next, FromVersion: got.Version, Event: disputes.EvDefend, From: got.State, At: T0.Add(2 * time.Hour),
		Notice: &disputes.Notice{Type: step.Notify, URL: "https://m.example/n", Body: []byte(`{}`), CreatedAt: T0.Add(2 * time.Hour)}}
	if err := s.ApplyDispute(ctx, c); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "a stale transition", s.ApplyDispute(ctx, c), disputes.ErrConflict)
	forged := c
	forged.Dispute.MerchantID = other.ClientID
	wantErr(t, "a transition as another merchant", s.ApplyDispute(ctx, forged), disputes.ErrConflict)
	got, _ = s.DisputeByID(ctx, m.ClientID, "D1")
	if got.State != disputes.Defended || got.EvidenceSealed != "sealed-evidence" || !got.DefendedAt.Equal(T0.Add(2*time.Hour)) {
		t.Fatalf("after the defense: %+v", got)
	}
	judgeAt := T0.Add(2*time.Hour + disputes.JudgeAfter)
	if due, _ := s.DueDisputes(ctx, judgeAt, 10); len(due) != 1 {
		t.Fatalf("judgement not due at %v: %v", judgeAt, due)
	}
	same(t, "dispute events", count(t, s, "dispute_events"), 2)
	msgs, err := s.Messages(ctx, m.ClientID, "P1")
	if err != nil || len(msgs) != 2 {
		t.Fatalf("the dispute's notifications: %v %v, want DISPUTE_CREATED and DEFENSE_SUPPLIED", msgs, err)
	}
}

// testDisputeAmounts: disputes never take more than the capture less refunds and the other
// disputes (cancelled ones freed), an uncaptured or another merchant's payment cannot be
// disputed, and concurrent openings cannot overdraw the payment together.
func testDisputeAmounts(t *testing.T, s store.Store) {
	m, other := Sandbox(t, s), Other(t, s, "OTHER_AMOUNTS")
	p := CapturedPayment(t, s, m, "P1", 1200) // 3000 left
	open := func(id string, amount int64) error { return s.OpenDispute(ctx, openChange(newDispute(p, id, amount))) }
	if err := open("D1", 2000); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "over what is left", open("D2", 1001), disputes.ErrTooMuch)
	if err := open("D2", 1000); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "nothing left", open("D3", 1), disputes.ErrTooMuch)
	// A cancelled dispute frees its amount.
	d1, _ := s.DisputeByID(ctx, m.ClientID, "D1")
	st, _ := disputes.Apply(d1, disputes.EvCancel, T0.Add(3*time.Hour))
	if err := s.ApplyDispute(ctx, disputes.Change{Dispute: st.Next, FromVersion: d1.Version, Event: disputes.EvCancel, From: d1.State, At: T0.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := open("D3", 2000); err != nil {
		t.Fatalf("after the cancel: %v", err)
	}
	uncaptured := authorize(t, s, NewPayment(m, "P2", "R-P2"))
	wantErr(t, "an uncaptured payment", s.OpenDispute(ctx, openChange(newDispute(uncaptured, "D4", 100))), disputes.ErrTooMuch)
	foreign := newDispute(p, "D5", 100)
	foreign.MerchantID = other.ClientID
	wantErr(t, "another merchant's payment", s.OpenDispute(ctx, openChange(foreign)), disputes.ErrTooMuch)

	q := CapturedPayment(t, s, m, "P3", 0)
	var opened atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.OpenDispute(ctx, openChange(newDispute(q, "C"+string(rune('A'+i)), 1000)))
			switch {
			case err == nil:
				opened.Add(1)
			case err != disputes.ErrTooMuch:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	same(t, "disputes of 1000 on a 4200 capture opened at once", opened.Load(), int64(4))
}

// testDisputesAndRefundsShareBalance: a dispute's claim lives on the payment and bumps its
// version, so a refund written from the balance before it loses its guarded write; the database
// itself refuses refunds and disputes above the capture; a cancel gives the claim back.
func testDisputesAndRefundsShareBalance(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p := CapturedPayment(t, s, m, "P1", 0)
	if err := s.OpenDispute(ctx, openChange(newDispute(p, "D1", 3000))); err != nil {
		t.Fatal(err)
	}
	cur, err := s.PaymentByID(ctx, m.ClientID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "disputed", cur.DisputedMinor, int64(3000))
	same(t, "version after the dispute", cur.Version, p.Version+1)
	// A refund of 2000 built from the balance before the dispute (4200 refundable) must not land.
	stale := p
	stale.RefundedMinor = 2000
	wantErr(t, "a refund from the old balance", s.Apply(ctx, change(p, stale, payments.OpRefund)), payments.ErrConflict)
	// Built from the fresh balance, the database still refuses what the dispute holds.
	over := cur
	over.RefundedMinor = 1201
	if err := s.Apply(ctx, change(cur, over, payments.OpRefund)); err == nil {
		t.Fatal("a refund of 1201 with 3000 of 4200 disputed was written")
	}
	ok := cur
	ok.RefundedMinor = 1200
	cur = mustApply(t, s, change(cur, ok, payments.OpRefund))
	wantErr(t, "a dispute with nothing left", s.OpenDispute(ctx, openChange(newDispute(cur, "D2", 1))), disputes.ErrTooMuch)

	d1, _ := s.DisputeByID(ctx, m.ClientID, "D1")
	st, _ := disputes.Apply(d1, disputes.EvCancel, T0.Add(3*time.Hour))
	if err := s.ApplyDispute(ctx, disputes.Change{Dispute: st.Next, FromVersion: d1.Version, Event: disputes.EvCancel, From: d1.State, At: T0.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	after, _ := s.PaymentByID(ctx, m.ClientID, p.ID)
	same(t, "disputed after the cancel", after.DisputedMinor, int64(0))
	same(t, "version after the cancel", after.Version, cur.Version+1)
}

// testChargebacks: a payment's announced chargeback is listed when due and opens once.
func testChargebacks(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p := authorize(t, s, NewPayment(m, "P1", "R-P1"))
	next := p
	next.Capture, next.CapturedMinor, next.CapturedAt = payments.CaptureSucceeded, 4200, T0.Add(2*time.Second)
	next.ChargebackAt = T0.Add(24 * time.Hour)
	p = mustApply(t, s, change(p, next, payments.OpCaptureSucceeded))
	got, _ := s.PaymentByID(ctx, m.ClientID, p.ID)
	same(t, "chargeback time", got.ChargebackAt, T0.Add(24*time.Hour))
	due := func(at time.Time) int {
		cbs, err := s.DueChargebacks(ctx, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(cbs)
	}
	same(t, "due before its time", due(T0.Add(23*time.Hour)), 0)
	same(t, "due at its time", due(T0.Add(24*time.Hour)), 1)
	c := openChange(newDispute(p, "D1", 4200))
	c.Chargeback = true
	if err := s.OpenDispute(ctx, c); err != nil {
		t.Fatal(err)
	}
	same(t, "due once opened", due(T0.Add(48*time.Hour)), 0)
	again := openChange(newDispute(p, "D2", 1))
	again.Chargeback = true
	wantErr(t, "the chargeback opened twice", s.OpenDispute(ctx, again), disputes.ErrDuplicate)

	q := authorize(t, s, NewPayment(m, "P2", "R-P2"))
	nq := q
	nq.Capture, nq.CapturedMinor, nq.RefundedMinor, nq.CapturedAt, nq.ChargebackAt = payments.CaptureSucceeded, 4200, 4200, T0, T0.Add(time.Hour)
	mustApply(t, s, change(q, nq, payments.OpCaptureSucceeded))
	if err := s.DropChargeback(ctx, m.ClientID, q.ID, T0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	same(t, "due once dropped", due(T0.Add(48*time.Hour)), 0)
}
