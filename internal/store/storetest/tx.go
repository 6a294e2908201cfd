package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
)

// TxStore is what the transaction and error-classification tests need beyond store.Store: the
// store's own transaction helper and statement runner (sqlstore's, which both store packages
// embed). The store that open returns must implement it.
type TxStore interface {
	InTx(ctx context.Context, fn func(tx sqlstore.Conn) error) error
	Raw() sqlstore.Conn
}

func txStore(t *testing.T, s store.Store) TxStore {
	t.Helper()
	ts, ok := s.(TxStore)
	if !ok {
		t.Fatalf("%T does not implement storetest.TxStore", s)
	}
	return ts
}

// usableWithin bounds every check that the store still serves calls: SQLite has one
// connection, so a transaction that kept it would make them wait forever, not fail.
const usableWithin = 5 * time.Second

const insertMerchant = `INSERT INTO merchants (client_id, name, sandbox, private_key, fingerprint_key, notify_url, created_at)
	VALUES (?,?,?,?,?,?,?)`

func merchantArgs(clientID string, sandbox int) []any {
	return []any{clientID, "Merchant " + clientID, sandbox, "", []byte("fp-" + clientID), "", T0.UnixMilli()}
}

// requireUsable fails unless the store, within usableWithin, writes a merchant and reads it
// back through the Store interface, and finds no merchant gone, the one a failed transaction
// wrote.
func requireUsable(t *testing.T, s store.Store, clientID, gone string) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), usableWithin)
	defer cancel()
	if _, err := s.MerchantByClientID(c, gone); !errors.Is(err, merchant.ErrNotFound) {
		t.Fatalf("merchant %s written by the failed transaction: lookup gave %v, want not found", gone, err)
	}
	m := merchant.Merchant{ClientID: clientID, Name: "After " + clientID, FingerprintKey: []byte("fp"), CreatedAt: T0}
	if err := s.CreateMerchant(c, m); err != nil {
		t.Fatalf("store unusable after the failed transaction: create merchant: %v", err)
	}
	if got, err := s.MerchantByClientID(c, clientID); err != nil || got.Name != m.Name {
		t.Fatalf("store unusable after the failed transaction: read merchant: %+v, %v", got, err)
	}
}

type panicValue struct{ n int }

// bounded is the context of a test that may find a connection kept by a failed transaction: a
// leak must fail the test, not hang it.
func bounded(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 4*usableWithin)
	t.Cleanup(cancel)
	return c
}

// testPanicInTxLeavesStoreUsable: a panic inside InTx goes on to the caller with its value, the
// transaction's writes are rolled back and its connection is given back; likewise when the
// context is cancelled while fn runs, whether fn then returns the statement's error or nil
// (which must not commit).
func testPanicInTxLeavesStoreUsable(t *testing.T, s store.Store) {
	ts, ctx := txStore(t, s), bounded(t)
	t.Run("panic", func(t *testing.T) {
		var got any
		func() {
			defer func() { got = recover() }()
			_ = ts.InTx(ctx, func(tx sqlstore.Conn) error {
				if _, err := tx.Exec(ctx, insertMerchant, merchantArgs("PANIC", 0)...); err != nil {
					t.Errorf("insert in the transaction: %v", err)
				}
				panic(panicValue{42})
			})
		}()
		if got != (panicValue{42}) {
			t.Fatalf("recovered %#v, want the panic value of fn", got)
		}
		requireUsable(t, s, "AFTER-PANIC", "PANIC")
	})
	for _, tc := range []struct {
		name, after string
		// fn is what fn does once its context is cancelled.
		fn func(c context.Context, tx sqlstore.Conn) error
		// canceled: InTx's error must be context.Canceled; otherwise any error will do
		// (database/sql may already have rolled back, and say so, when the commit is asked for).
		canceled bool
	}{
		{"cancelled, fn returns the error", "AFTER-CANCEL-1", func(c context.Context, tx sqlstore.Conn) error {
			_, err := tx.Exec(c, insertMerchant, merchantArgs("CANCELLED-2", 0)...)
			return err
		}, true},
		{"cancelled, fn returns nil", "AFTER-CANCEL-2", func(context.Context, sqlstore.Conn) error { return nil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, cancel := context.WithTimeout(context.Background(), usableWithin)
			defer cancel()
			err := ts.InTx(c, func(tx sqlstore.Conn) error {
				if _, err := tx.Exec(c, insertMerchant, merchantArgs("CANCELLED", 0)...); err != nil {
					t.Errorf("insert in the transaction: %v", err)
				}
				cancel()
				return tc.fn(c, tx)
			})
			if err == nil || tc.canceled && !errors.Is(err, context.Canceled) {
				t.Fatalf("InTx with its context cancelled inside fn: %v, want context.Canceled", err)
			}
			requireUsable(t, s, tc.after, "CANCELLED")
		})
	}
}

// DuplicateKey inserts a merchant whose client id (the primary key) is taken, through Raw, and
// returns the error: the store packages' own tests check that the driver's error is under it.
func DuplicateKey(t *testing.T, s store.Store) error {
	t.Helper()
	raw, ctx := txStore(t, s).Raw(), bounded(t)
	if _, err := raw.Exec(ctx, insertMerchant, merchantArgs("DUP", 0)...); err != nil {
		t.Fatal(err)
	}
	_, err := raw.Exec(ctx, insertMerchant, merchantArgs("DUP", 0)...)
	return err
}

// testUniqueViolationClassifiedByCode: a refused row comes back as ErrUnique when a primary key
// or unique index refused it and as ErrConstraint (never ErrUnique) for a CHECK, in a
// transaction and outside one; a transaction whose fn returns the error writes nothing.
func testUniqueViolationClassifiedByCode(t *testing.T, s store.Store) {
	ts, ctx := txStore(t, s), bounded(t)
	m := Sandbox(t, s)
	p := mustCreate(t, s, NewPayment(m, "P-UNIQ", "R-UNIQ"))
	const insertOutbox = `INSERT INTO outbox (client_id, payment_id, notify_type, ref, url, body, next_attempt_at, created_at)
		VALUES (?,?,?,?,?,?,?,?)`
	outboxArgs := []any{m.ClientID, p.ID, "PAYMENT_RESULT", "ref-uniq", "https://m.example/n", "{}", T0.UnixMilli(), T0.UnixMilli()}
	if _, err := ts.Raw().Exec(ctx, insertOutbox, outboxArgs...); err != nil {
		t.Fatal(err)
	}
	classifiedAs := func(t *testing.T, what string, err, want error) {
		t.Helper()
		other := sqlstore.ErrConstraint
		if want == sqlstore.ErrConstraint {
			other = sqlstore.ErrUnique
		}
		if !errors.Is(err, want) || errors.Is(err, other) {
			t.Fatalf("%s: %v (is %v: %t, is %v: %t), want only %v", what, err, want, errors.Is(err, want), other, errors.Is(err, other), want)
		}
	}

	t.Run("primary key in a transaction", func(t *testing.T) {
		var inside error
		err := ts.InTx(ctx, func(tx sqlstore.Conn) error {
			if _, err := tx.Exec(ctx, insertMerchant, merchantArgs("TXDUP", 0)...); err != nil {
				return err
			}
			_, inside = tx.Exec(ctx, insertMerchant, merchantArgs("TXDUP", 0)...)
			return inside
		})
		classifiedAs(t, "second insert of a client id", inside, sqlstore.ErrUnique)
		classifiedAs(t, "InTx", err, sqlstore.ErrUnique)
		requireUsable(t, s, "AFTER-TXDUP", "TXDUP")
	})
	t.Run("primary key through Raw", func(t *testing.T) {
		classifiedAs(t, "second insert of a client id", DuplicateKey(t, s), sqlstore.ErrUnique)
	})
	t.Run("unique index through Raw", func(t *testing.T) {
		_, err := ts.Raw().Exec(ctx, insertOutbox, outboxArgs...)
		classifiedAs(t, "second notification of one result", err, sqlstore.ErrUnique)
	})
	t.Run("check in a transaction", func(t *testing.T) {
		err := ts.InTx(ctx, func(tx sqlstore.Conn) error {
			_, err := tx.Exec(ctx, insertMerchant, merchantArgs("BADCHECK", 2)...)
			return err
		})
		classifiedAs(t, "sandbox = 2", err, sqlstore.ErrConstraint)
		requireUsable(t, s, "AFTER-BADCHECK", "BADCHECK")
	})
	t.Run("check through Raw", func(t *testing.T) {
		_, err := ts.Raw().Exec(ctx, `INSERT INTO payments (payment_id, client_id, request_id, state, version, currency, amount_minor,
			capture_mode, result_code, result_message, acquirer_state, card, auth, order_details, created_at, updated_at, expires_at)
			VALUES (?,?,?,'PROCESSING',1,'SGD',0,'MANUAL','SUCCESS','success','','{}','{}','{}',?,?,?)`,
			"P-ZERO", m.ClientID, "R-ZERO", T0.UnixMilli(), T0.UnixMilli(), T0.Add(time.Minute).UnixMilli())
		classifiedAs(t, "payment of amount 0", err, sqlstore.ErrConstraint)
	})
}
