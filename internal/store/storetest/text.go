package storetest

import (
	"errors"
	"testing"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/protocol"
)

// unstorableIDs are ids a TEXT column of PostgreSQL cannot hold (SQLSTATE 22021) and SQLite
// would: both stores must treat them alike.
var unstorableIDs = map[string]string{
	"NUL":                     "R\x00",
	"only NUL":                "\x00",
	"NUL inside":              "P-1\x00tail",
	"invalid UTF-8":           "R\xff",
	"encoded surrogate":       "R\xed\xa0\x80",
	"truncated UTF-8":         "R\xe2\x82",
	"overlong encoding slash": "R\xc0\xaf",
}

// testUnstorableTextIsRefused: a lookup by an id no row can hold finds nothing (never a store
// error, which the API would answer with U/UNKNOWN_EXCEPTION), and a write holding one in a
// column of its own is refused as payments.ErrInvalidText, which carries PARAM_ILLEGAL, with
// nothing written. (Text inside the JSON columns is always storable: JSON escapes it.)
func testUnstorableTextIsRefused(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p := authorize(t, s, NewPayment(m, "P-1", "R-1"))
	p = mustAddTxn(t, s, p, newTxn(p, "T-1", payments.TxnRefund, "RF-1", payments.TxnSucceeded, 100, T0))
	saving := mustCreate(t, s, buyerPayment(m, "P-tok"))
	before := counts(t, s)
	for name, id := range unstorableIDs {
		t.Run(name, func(t *testing.T) {
			notFound := map[string]error{}
			_, notFound["PaymentByID"] = s.PaymentByID(ctx, m.ClientID, id)
			_, notFound["PaymentByID of the merchant"] = s.PaymentByID(ctx, id, "P-1")
			_, notFound["PaymentByRequestID"] = s.PaymentByRequestID(ctx, m.ClientID, id)
			_, notFound["PaymentByChallengeToken"] = s.PaymentByChallengeToken(ctx, id)
			_, notFound["TxnByID"] = s.TxnByID(ctx, m.ClientID, payments.TxnRefund, id)
			_, notFound["TxnByRequestID"] = s.TxnByRequestID(ctx, m.ClientID, payments.TxnRefund, id)
			_, notFound["TokenByID"] = s.TokenByID(ctx, m.ClientID, id)
			_, notFound["TokenByFingerprint"] = s.TokenByFingerprint(ctx, m.ClientID, id, "f")
			for what, err := range notFound {
				wantErr(t, what+"("+name+")", err, payments.ErrNotFound)
			}
			_, err := s.MerchantByClientID(ctx, id)
			wantErr(t, "MerchantByClientID", err, merchant.ErrNotFound)
			if txns, err := s.Txns(ctx, m.ClientID, id); err != nil || len(txns) != 0 {
				t.Errorf("Txns: %v %v, want none", txns, err)
			}
			if msgs, err := s.Messages(ctx, m.ClientID, id); err != nil || len(msgs) != 0 {
				t.Errorf("Messages: %v %v, want none", msgs, err)
			}

			bad := NewPayment(m, "P-bad", id)
			refused(t, "CreatePayment with the request id", s.CreatePayment(ctx, bad, createEvent(bad)))
			_, err = addTxn(t, s, p, newTxn(p, "T-bad", payments.TxnRefund, id, payments.TxnSucceeded, 100, T0))
			refused(t, "a transaction with the request id", err)
			next := p
			next.ResultMsg = "changed " + id
			refused(t, "Apply with a result message", s.Apply(ctx, change(p, next, payments.OpCapture)))
			c := approveSaving(saving, newToken(m, id, "buyer-1", "f2"))
			refused(t, "Apply saving a token", s.Apply(ctx, c))
			if after := counts(t, s); after != before {
				t.Errorf("a refused write wrote rows: %s, before %s", after, before)
			}
		})
	}
	// The good rows are intact and found.
	if got, err := s.PaymentByRequestID(ctx, m.ClientID, "R-1"); err != nil || got.Version != p.Version {
		t.Fatalf("the good payment: %+v %v", got, err)
	}
}

func refused(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, payments.ErrInvalidText) {
		t.Errorf("%s: %v, want payments.ErrInvalidText", what, err)
		return
	}
	if r := protocol.ResultOf(err); r.ResultCode != string(protocol.CodeParamIllegal) {
		t.Errorf("%s answers %s, want PARAM_ILLEGAL", what, r.ResultCode)
	}
}
