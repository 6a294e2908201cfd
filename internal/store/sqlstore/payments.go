package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/rows"
)

var _ payments.Store = (*Store)(nil)

const paymentColumns = rows.PaymentColumns

// The statements a pay runs, built once: the rebinding and the drivers' statement caches key on
// their text.
var (
	insertPayment = `INSERT INTO payments (` + paymentColumns + `) VALUES (` + placeholders(rows.PaymentColumnCount) + `)`
	insertTxn     = `INSERT INTO transactions (` + rows.TxnColumns + `) VALUES (` + placeholders(strings.Count(rows.TxnColumns, ",")+1) + `)`
	insertEvent   = `INSERT INTO payment_events (` + eventColumns + `) VALUES (?,?,?,?,?,?,?)`
	updateTxn     = `UPDATE transactions SET status = ?, result_code = ?, result_message = ?, details = ?,
		updated_at = ?, due_at = ? WHERE txn_id = ? AND client_id = ? AND status = 'PROCESSING'`
	insertOutbox = `INSERT INTO outbox (client_id, payment_id, notify_type, ref, url, body, next_attempt_at, created_at)
		VALUES (?,?,?,?,?,?,?,?)`
)

const eventColumns = `payment_id, txn_id, op, from_state, to_state, result_code, at`

func eventValues(ev payments.Event) []any {
	return []any{ev.PaymentID, ev.TxnID, string(ev.Op), string(ev.From), string(ev.To), string(ev.ResultCode), ms(ev.At)}
}

// CreatePayment implements payments.Store. Two writers inserting one (merchant,
// paymentRequestId) at once: the unique index makes the second fail (on PostgreSQL after
// waiting for the first), reported as ErrDuplicate. Both inserts are queued, so on PostgreSQL
// BEGIN, the inserts and COMMIT are one round trip.
func (s *Store) CreatePayment(ctx context.Context, p payments.Payment, ev payments.Event) error {
	args, err := rows.PaymentValues(p)
	if err != nil {
		return fmt.Errorf("encode payment: %w", err)
	}
	return s.InTx(ctx, func(tx Conn) error {
		return tx.Queue(ctx, Stmt{SQL: insertPayment, Args: args, Err: func(err error) error {
			if errors.Is(err, ErrUnique) {
				return payments.ErrDuplicate
			}
			return fmt.Errorf("insert payment: %w", err)
		}}, eventStmt(ev))
	})
}

// Apply implements payments.Store. The guarded UPDATE (… AND version = FromVersion) decides:
// a concurrent writer from the same version (on PostgreSQL it waits for the row lock, then
// re-reads the row) finds the version moved on and updates nothing: ErrConflict. On
// PostgreSQL the whole change, BEGIN to COMMIT, is one round trip (applyIn).
func (s *Store) Apply(ctx context.Context, c payments.Change) error {
	return s.InTx(ctx, func(tx Conn) error { return applyIn(ctx, tx, c, true) })
}

// ApplyAll implements payments.BatchStore: the changes in one transaction, so one commit (one
// WAL flush) records a whole batch. A change whose payment moved on is left out (its guarded
// UPDATE, the first statement, wrote nothing) and reported ErrConflict; any other failure
// rolls the batch back. On PostgreSQL each change's UPDATE is a round trip, which also sends
// the previous change's rows, and the last change's rows go with the COMMIT: n+1 round trips.
func (s *Store) ApplyAll(ctx context.Context, cs []payments.Change) ([]error, error) {
	errs := make([]error, len(cs))
	err := s.InTx(ctx, func(tx Conn) error {
		for i, c := range cs {
			err := applyIn(ctx, tx, c, false)
			if errors.Is(err, errStale) {
				errs[i] = payments.ErrConflict
				continue
			}
			if err != nil {
				return fmt.Errorf("change %d of %d (%s): %w", i+1, len(cs), c.Payment.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// errStale is the conflict of a change whose guarded payment UPDATE matched no row: nothing of
// the change was written, so a batch may go on without it.
var errStale = fmt.Errorf("payment version moved on: %w", payments.ErrConflict)

// applyIn writes change c in tx. Every statement after the guarded payment UPDATE is queued, so
// that on PostgreSQL they go with the transaction's next round trip, at the latest its commit.
// alone says c is the transaction's only change: then the UPDATE is queued too, as a Stmt.One
// whose failure fails the transaction with ErrConflict, and the whole change is one round trip
// with BEGIN and COMMIT. Otherwise the UPDATE runs at once (one round trip) and a stale change
// returns errStale with nothing of it written, so that a transaction of several changes can go
// on without it. A transaction that is no longer PROCESSING, also a Stmt.One, fails the whole
// transaction with ErrConflict; a transaction whose request id is taken, with ErrDuplicate.
func applyIn(ctx context.Context, tx Conn, c payments.Change, alone bool) error {
	p := c.Payment
	if p.Version != c.FromVersion+1 {
		// The version guard below only works if every writer moves it by one.
		return fmt.Errorf("apply %s: version %d after %d: %w", p.ID, p.Version, c.FromVersion, ErrConstraint)
	}
	updatePayment, vals, err := paymentUpdate(c)
	if err != nil {
		return err
	}
	stmts := make([]Stmt, 0, 6)
	if alone {
		stmts = append(stmts, Stmt{SQL: updatePayment, Args: vals, One: true, Err: func(err error) error {
			if errors.Is(err, ErrNotOne) {
				return errStale
			}
			return fmt.Errorf("update payment: %w", err)
		}})
	} else {
		n, err := tx.Exec(ctx, updatePayment, vals...)
		if err != nil {
			return fmt.Errorf("update payment: %w", err)
		}
		if n != 1 {
			return errStale
		}
	}
	if t := c.NewToken; t != nil {
		st, err := tokenStmt(*t)
		if err != nil {
			return err
		}
		stmts = append(stmts, st)
	}
	if t := c.NewTxn; t != nil {
		vals, err := rows.TxnValues(*t)
		if err != nil {
			return err
		}
		stmts = append(stmts, Stmt{SQL: insertTxn, Args: vals, Err: func(err error) error {
			if errors.Is(err, ErrUnique) {
				return payments.ErrDuplicate
			}
			return fmt.Errorf("insert transaction: %w", err)
		}})
	}
	if t := c.Txn; t != nil {
		details, err := json.Marshal(t.Details)
		if err != nil {
			return err
		}
		// Only a transaction still in process changes: a final result is never rewritten.
		stmts = append(stmts, Stmt{SQL: updateTxn, One: true, Args: []any{string(t.Status), string(t.ResultCode), t.ResultMsg,
			string(details), ms(t.UpdatedAt), ms(t.DueAt), t.ID, t.MerchantID}, Err: func(err error) error {
			if errors.Is(err, ErrNotOne) {
				return fmt.Errorf("transaction %s is no longer in process: %w", t.ID, payments.ErrConflict)
			}
			return fmt.Errorf("update transaction: %w", err)
		}})
	}
	stmts = append(stmts, eventStmt(c.Event))
	if c.Then != nil {
		stmts = append(stmts, eventStmt(*c.Then))
	}
	if o := c.Outbox; o != nil {
		stmts = append(stmts, Stmt{SQL: insertOutbox, Args: []any{o.MerchantID, o.PaymentID, o.NotifyType, o.Ref, o.URL, string(o.Body),
			ms(o.CreatedAt), ms(o.CreatedAt)}, Err: wrapErr("insert outbox")})
	}
	return tx.Queue(ctx, stmts...)
}

// updates holds the payments UPDATE for each set of changed columns (a bit per
// rows.PaymentChangeColumns), built once each: the drivers' statement caches key on the text.
var updates sync.Map // uint32 -> string

func init() {
	if len(rows.PaymentChangeColumns) > 32 {
		panic("sqlstore: more changeable payment columns than the UPDATE forms' uint32 has bits")
	}
}

// paymentUpdate is the guarded payments UPDATE of change c and its arguments. With c.Prev it sets
// only the columns whose values differ from Prev's, because SQLite rewrites the entries of every
// index over a column an UPDATE names, changed or not, and the payments table has a dozen, one of
// them an expression over the card. Each column left out is guarded equal to Prev's value
// instead, so the row ends up exactly as c.Payment or is not written at all: a Prev that is not
// what is stored is a conflict, as a stale version is (the version itself differs from Prev's,
// or its guard contradicts FromVersion's). Without Prev, every column.
func paymentUpdate(c payments.Change) (string, []any, error) {
	next, err := rows.PaymentChangeValues(c.Payment)
	if err != nil {
		return "", nil, err
	}
	var prev []any
	if c.Prev != nil {
		if prev, err = rows.PaymentChangeValues(*c.Prev); err != nil {
			return "", nil, err
		}
	}
	var set uint32
	args := make([]any, 0, len(next)+3)
	for i, v := range next {
		if prev == nil || v != prev[i] {
			set |= 1 << i
			args = append(args, v)
		}
	}
	args = append(args, c.Payment.ID, c.Payment.MerchantID, c.FromVersion)
	for i, v := range next {
		if set&(1<<i) == 0 {
			args = append(args, v)
		}
	}
	if q, ok := updates.Load(set); ok {
		return q.(string), args, nil
	}
	var b strings.Builder
	b.WriteString("UPDATE payments SET ")
	sep := ""
	for i, col := range rows.PaymentChangeColumns {
		if set&(1<<i) != 0 {
			b.WriteString(sep + col + " = ?")
			sep = ", "
		}
	}
	b.WriteString(" WHERE payment_id = ? AND client_id = ? AND version = ?")
	for i, col := range rows.PaymentChangeColumns {
		if set&(1<<i) == 0 {
			b.WriteString(" AND " + col + " = ?")
		}
	}
	q, _ := updates.LoadOrStore(set, b.String())
	return q.(string), args, nil
}

func eventStmt(ev payments.Event) Stmt {
	return Stmt{SQL: insertEvent, Args: eventValues(ev), Err: wrapErr("insert event")}
}

// wrapErr is a Stmt.Err that says which statement failed.
func wrapErr(what string) func(error) error {
	return func(err error) error { return fmt.Errorf("%s: %w", what, err) }
}

// PaymentByID implements payments.Store.
func (s *Store) PaymentByID(ctx context.Context, merchantID, paymentID string) (payments.Payment, error) {
	return s.queryPayment(ctx, `SELECT `+paymentColumns+` FROM payments WHERE client_id = ? AND payment_id = ?`, merchantID, paymentID)
}

// PaymentForAcquirer implements payments.Store.
func (s *Store) PaymentForAcquirer(ctx context.Context, paymentID string) (payments.Payment, error) {
	return s.queryPayment(ctx, `SELECT `+paymentColumns+` FROM payments WHERE payment_id = ?`, paymentID)
}

// PaymentByChallengeToken implements payments.Store.
func (s *Store) PaymentByChallengeToken(ctx context.Context, token string) (payments.Payment, error) {
	if token == "" {
		return payments.Payment{}, payments.ErrNotFound
	}
	return s.queryPayment(ctx, `SELECT `+paymentColumns+` FROM payments WHERE challenge_token = ?`, token)
}

// PaymentByRequestID implements payments.Store.
func (s *Store) PaymentByRequestID(ctx context.Context, merchantID, requestID string) (payments.Payment, error) {
	return s.queryPayment(ctx, `SELECT `+paymentColumns+` FROM payments WHERE client_id = ? AND request_id = ?`, merchantID, requestID)
}

// PaymentByNetworkTransactionID implements payments.Store, on the partial index of
// migration 00011 (client_id, network_transaction_id).
func (s *Store) PaymentByNetworkTransactionID(ctx context.Context, merchantID, nti string) (payments.Payment, error) {
	if nti == "" {
		return payments.Payment{}, payments.ErrNotFound
	}
	return s.queryPayment(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE client_id = ? AND network_transaction_id = ? AND network_transaction_id <> '' AND authorized_at > 0
		ORDER BY created_at, payment_id LIMIT 1`, merchantID, nti)
}

func (s *Store) queryPayment(ctx context.Context, q string, args ...any) (payments.Payment, error) {
	if !rows.Storable(args...) {
		return payments.Payment{}, payments.ErrNotFound // no row can hold it (rows.Storable)
	}
	var row rows.PaymentScan
	err := s.db.QueryRow(ctx, q, args...).Scan(row.Targets()...)
	if errors.Is(err, sql.ErrNoRows) {
		return payments.Payment{}, payments.ErrNotFound
	}
	if err != nil {
		return payments.Payment{}, fmt.Errorf("query payment: %w", err)
	}
	return row.Payment()
}
