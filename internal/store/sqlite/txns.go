package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/rows"
)

const txnColumns = rows.TxnColumns

func scanTxn(scan func(...any) error) (payments.Txn, error) {
	var row rows.TxnScan
	if err := scan(row.Targets()...); err != nil {
		return payments.Txn{}, err
	}
	return row.Txn()
}

func (s *Store) queryTxn(ctx context.Context, q string, args ...any) (payments.Txn, error) {
	if !rows.Storable(args...) {
		return payments.Txn{}, payments.ErrNotFound // no row can hold it (rows.Storable)
	}
	t, err := scanTxn(s.db.QueryRowContext(ctx, q, args...).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return t, payments.ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("query transaction: %w", err)
	}
	return t, nil
}

// TxnByRequestID implements payments.Store.
func (s *Store) TxnByRequestID(ctx context.Context, merchantID string, typ payments.TxnType, requestID string) (payments.Txn, error) {
	return s.queryTxn(ctx, `SELECT `+txnColumns+` FROM transactions WHERE client_id = ? AND txn_type = ? AND request_id = ? AND internal = 0`,
		merchantID, string(typ), requestID)
}

// TxnByID implements payments.Store.
func (s *Store) TxnByID(ctx context.Context, merchantID string, typ payments.TxnType, txnID string) (payments.Txn, error) {
	return s.queryTxn(ctx, `SELECT `+txnColumns+` FROM transactions WHERE client_id = ? AND txn_type = ? AND txn_id = ?`,
		merchantID, string(typ), txnID)
}

// Txns implements payments.Store.
func (s *Store) Txns(ctx context.Context, merchantID, paymentID string) ([]payments.Txn, error) {
	if !rows.Storable(merchantID, paymentID) {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+txnColumns+` FROM transactions WHERE client_id = ? AND payment_id = ?
		ORDER BY created_at, rowid`, merchantID, paymentID)
	if err != nil {
		return nil, fmt.Errorf("query transactions: %w", err)
	}
	defer rows.Close()
	var out []payments.Txn
	for rows.Next() {
		t, err := scanTxn(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// autoCaptureGrace is how long after an automatic payment's approval its capture counts as lost
// (the process died between the two) and the runner captures it: the pay that approved it
// normally captures within milliseconds.
var autoCaptureGrace = payments.AutoCaptureGrace.Milliseconds()

// Due implements payments.Store: the due work of every kind, earliest first. Each branch reads
// a partial index, so the query stays cheap however many finished payments the store holds.
// Due implements payments.Store: the due work of every kind, earliest first, leased or not.
func (s *Store) Due(ctx context.Context, t time.Time, limit int) ([]payments.Due, error) {
	return s.due(ctx, t, math.MaxInt64, limit)
}

// due lists the work due at or before t whose payment's work lease has run out by free.
func (s *Store) due(ctx context.Context, t time.Time, free int64, limit int) ([]payments.Due, error) {
	at := ms(t)
	// Each branch must walk an index of the few payments that can have work, never the whole
	// table: this runs every second (jobs) and holds the one connection every pay queues for.
	// With a million captured payments stored, a scan here made pay 200 times slower
	// (docs/performance.md). So the lease is read per transaction through the primary key rather
	// than as the set of every unleased payment, and automatic captures owed are looked for
	// among the authorized, uncaptured payments (payments_auth_expiry; the IN term, implied by
	// capture_state = '', is what lets SQLite use that partial index).
	rows, err := s.db.QueryContext(ctx, `
		SELECT 'EXPIRE', client_id, payment_id, '', expires_at FROM payments
			WHERE state = 'PROCESSING' AND expires_at <= ? AND work_lease_until <= ?
		UNION ALL
		SELECT 'SETTLE', client_id, payment_id, '', acquirer_due_at FROM payments
			WHERE state = 'PROCESSING' AND acquirer_due_at > 0 AND acquirer_due_at <= ? AND work_lease_until <= ?
		UNION ALL
		SELECT 'AUTO_VOID', client_id, payment_id, '', auth_expires_at FROM payments
			WHERE state = 'SUCCESS' AND capture_state IN ('', 'FAIL') AND auth_expires_at <= ? AND work_lease_until <= ?
		UNION ALL
		SELECT 'RESOLVE', client_id, payment_id, '', inflight_until FROM payments
			WHERE inflight_until > 0 AND inflight_until <= ? AND state = 'PROCESSING' AND work_lease_until <= ?
		UNION ALL
		SELECT CASE txn_type WHEN 'CAPTURE' THEN 'CAPTURE_STATUS' ELSE 'REFUND_STATUS' END, client_id, payment_id, txn_id, due_at
			FROM transactions t WHERE status = 'PROCESSING' AND due_at > 0 AND due_at <= ?
				AND (SELECT work_lease_until FROM payments p WHERE p.payment_id = t.payment_id) <= ?
		UNION ALL
		SELECT 'VOID', client_id, payment_id, '', closed_at FROM payments
			WHERE void_state = 'PENDING' AND closed_at <= ? AND work_lease_until <= ?
		UNION ALL
		SELECT 'AUTO_CAPTURE', client_id, payment_id, '', authorized_at + ? FROM payments INDEXED BY payments_auth_expiry
			WHERE state = 'SUCCESS' AND capture_state IN ('', 'FAIL')
				AND capture_mode = 'AUTOMATIC' AND capture_state = '' AND authorized_at + ? <= ? AND work_lease_until <= ?
		ORDER BY 5, 3
		LIMIT ?`, at, free, at, free, at, free, at, free, at, free, at, free, autoCaptureGrace, autoCaptureGrace, at, free, limit)
	if err != nil {
		return nil, fmt.Errorf("query due work: %w", err)
	}
	defer rows.Close()
	var out []payments.Due
	for rows.Next() {
		var (
			d    payments.Due
			kind string
			due  int64
		)
		if err := rows.Scan(&kind, &d.MerchantID, &d.PaymentID, &d.TxnID, &due); err != nil {
			return nil, err
		}
		d.Kind, d.At = payments.DueKind(kind), fromMS(due)
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClockOffset returns the sandbox clock's offset, shared by every instance on this store.
func (s *Store) ClockOffset(ctx context.Context) (time.Duration, error) {
	var offset int64
	if err := s.db.QueryRowContext(ctx, `SELECT offset_ms FROM sandbox_clock WHERE id = 1`).Scan(&offset); err != nil {
		return 0, fmt.Errorf("read clock offset: %w", err)
	}
	return time.Duration(offset) * time.Millisecond, nil
}

// SetClockOffset moves the sandbox clock's offset forward (never back).
func (s *Store) SetClockOffset(ctx context.Context, d time.Duration) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sandbox_clock SET offset_ms = max(offset_ms, ?) WHERE id = 1`, d.Milliseconds())
	if err != nil {
		return fmt.Errorf("set clock offset: %w", err)
	}
	return nil
}

// ClaimWork implements payments.Store: it leases the payments of the work due at or before t whose
// lease has run out by now, and returns that work. SQLite has one writer at a time, so the guarded
// UPDATE is the whole claim.
func (s *Store) ClaimWork(ctx context.Context, t, now, leaseUntil time.Time, limit int) ([]payments.Due, error) {
	items, err := s.due(ctx, t, now.UnixMilli(), limit)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	ids := dueIDs(items)
	args := []any{ms(leaseUntil)}
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, now.UnixMilli())
	rows, err := s.db.QueryContext(ctx, `UPDATE payments SET work_lease_until = ?
		WHERE payment_id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`) AND work_lease_until <= ?
		RETURNING payment_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("claim due work: %w", err)
	}
	return claimed(rows, items)
}

// ReleaseWork implements payments.Store.
func (s *Store) ReleaseWork(ctx context.Context, paymentID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE payments SET work_lease_until = 0 WHERE payment_id = ?`, paymentID)
	return err
}

func dueIDs(items []payments.Due) []string {
	seen := map[string]bool{}
	var ids []string
	for _, d := range items {
		if !seen[d.PaymentID] {
			seen[d.PaymentID] = true
			ids = append(ids, d.PaymentID)
		}
	}
	return ids
}

// claimed keeps the items whose payment the claim leased.
func claimed(rows *sql.Rows, items []payments.Due) ([]payments.Due, error) {
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		got[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []payments.Due
	for _, d := range items {
		if got[d.PaymentID] {
			out = append(out, d)
		}
	}
	return out, nil
}
