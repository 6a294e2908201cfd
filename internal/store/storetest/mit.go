package storetest

import (
	"testing"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
)

// testPaymentByNetworkTransactionID: the first payment an MIT names is found by its network
// transaction id, only among the merchant's authorized payments; the id written at approval and
// kept through later changes (capture, cancel) is what the lookup reads, and the oldest of two
// payments sharing one wins.
func testPaymentByNetworkTransactionID(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	o := Other(t, s, "OTHER_NTI")

	// Created in process: it has no id yet, and none is found.
	p := mustCreate(t, s, NewPayment(m, "P1", "R1"))
	_, err := s.PaymentByNetworkTransactionID(ctx, m.ClientID, "NTI-1")
	wantErr(t, "before the approval", err, payments.ErrNotFound)
	_, err = s.PaymentByNetworkTransactionID(ctx, m.ClientID, "")
	wantErr(t, "the empty id", err, payments.ErrNotFound)

	next := approved(p)
	next.Auth.NetworkTransactionID = "NTI-1"
	p = mustApply(t, s, change(p, next, payments.OpAuthApproved))
	got, err := s.PaymentByNetworkTransactionID(ctx, m.ClientID, "NTI-1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "by network transaction id", got, p)

	// A later change that keeps auth keeps the id findable.
	cancelled := p
	cancelled.State = payments.StateCancelled
	p = mustApply(t, s, change(p, cancelled, payments.OpCancel))
	if got, err := s.PaymentByNetworkTransactionID(ctx, m.ClientID, "NTI-1"); err != nil || got.ID != "P1" {
		t.Fatalf("after a cancel: %v %v", got.ID, err)
	}

	_, err = s.PaymentByNetworkTransactionID(ctx, o.ClientID, "NTI-1")
	wantErr(t, "another merchant's id", err, payments.ErrNotFound)
	_, err = s.PaymentByNetworkTransactionID(ctx, m.ClientID, "NTI-NOPE")
	wantErr(t, "an unknown id", err, payments.ErrNotFound)
	_, err = s.PaymentByNetworkTransactionID(ctx, m.ClientID, "NTI\x00")
	wantErr(t, "an unstorable id", err, payments.ErrNotFound)

	// A declined payment's id does not count: it authorized nothing.
	d := mustCreate(t, s, NewPayment(m, "P2", "R2"))
	declined := d
	declined.State, declined.ResultCode, declined.AcquirerState = payments.StateFail, "DO_NOT_HONOR", payments.AcquirerAnswered
	declined.Auth.NetworkTransactionID = "NTI-2"
	mustApply(t, s, change(d, declined, payments.OpAuthDeclined))
	_, err = s.PaymentByNetworkTransactionID(ctx, m.ClientID, "NTI-2")
	wantErr(t, "a declined payment's id", err, payments.ErrNotFound)

	// The other merchant's payment with the same id is its own; each finds only theirs.
	op := mustCreate(t, s, NewPayment(o, "P3", "R3"))
	oNext := approved(op)
	oNext.Auth.NetworkTransactionID = "NTI-1"
	mustApply(t, s, change(op, oNext, payments.OpAuthApproved))
	if got, err := s.PaymentByNetworkTransactionID(ctx, o.ClientID, "NTI-1"); err != nil || got.ID != "P3" {
		t.Fatalf("the other merchant's own: %v %v", got.ID, err)
	}
	if got, err := s.PaymentByNetworkTransactionID(ctx, m.ClientID, "NTI-1"); err != nil || got.ID != "P1" {
		t.Fatalf("the merchant's own after the other's: %v %v", got.ID, err)
	}
}
