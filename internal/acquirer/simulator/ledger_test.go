package simulator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/clock"
)

// TestInquireByReference: what the simulator answered is found by the gateway's reference, as it
// stands now (a late answer that has arrived since is the approval); a reversed reference and one
// never booked hold nothing; the books are shared by every simulator given the same ledger (the
// instances on one store).
func TestInquireByReference(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFixed(time.Date(2026, 5, 15, 12, 0, 0, 0, time.UTC))
	books := simulator.NewMemoryLedger()
	sender := simulator.New("SIM", clk).WithLedger(books)
	other := simulator.New("SIM", clk).WithLedger(books) // another instance
	for _, tc := range []struct {
		name, pan string
		advance   time.Duration // gateway clock moved before the inquiry
		reverse   bool
		want      acquirer.Outcome
	}{
		{name: "approved", pan: "4242424242424242", want: acquirer.Approved},
		{name: "declined", pan: "4000000000000002", want: acquirer.Declined},
		{name: "timeout card, not settled", pan: "4000000000000119", want: acquirer.Pending},
		{name: "timeout card, settled since", pan: "4000000000000119", advance: 6 * time.Second, want: acquirer.Approved},
		{name: "never answers", pan: "4000000000000044", want: acquirer.NoAnswer},
		{name: "reversed", pan: "4242424242424242", reverse: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := "PAY-" + tc.name
			got, err := sender.Authorize(ctx, acquirer.AuthRequest{PaymentID: ref, Card: mustCard(t, tc.pan), CVV: "123"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.reverse {
				if err := sender.Reverse(ctx, ref); err != nil {
					t.Fatal(err)
				}
			}
			clk.Advance(tc.advance)
			found, err := other.InquireByReference(ctx, ref)
			if tc.reverse {
				if !errors.Is(err, acquirer.ErrNotFound) {
					t.Fatalf("reversed: %+v, %v; want acquirer.ErrNotFound", found, err)
				}
				return
			}
			if err != nil || found.Outcome != tc.want || found.AcquirerTransactionID != got.AcquirerTransactionID {
				t.Errorf("found %v %q (%v), want %v %q", found.Outcome, found.AcquirerTransactionID, err, tc.want, got.AcquirerTransactionID)
			}
		})
	}
	if _, err := other.InquireByReference(ctx, "PAY-never-sent"); !errors.Is(err, acquirer.ErrNotFound) {
		t.Errorf("never booked: %v, want acquirer.ErrNotFound", err)
	}
	// A request still in transit when its sender gives up never reaches the books.
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := sender.Authorize(tctx, acquirer.AuthRequest{PaymentID: "PAY-transit", Card: mustCard(t, "4000000000000085"), CVV: "123"}); err == nil {
		t.Fatal("authorization in transit answered before its 2 s")
	}
	if _, err := other.InquireByReference(ctx, "PAY-transit"); !errors.Is(err, acquirer.ErrNotFound) {
		t.Errorf("in transit when the sender gave up: %v, want acquirer.ErrNotFound", err)
	}
}
