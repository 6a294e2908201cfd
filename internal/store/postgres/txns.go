package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/rows"
)

const txnColumns = rows.TxnColumns

func scanTxn(r pgx.Row) (payments.Txn, error) {
	var row rows.TxnScan
	if err := r.Scan(row.Targets()...); err != nil {
		return payments.Txn{}, err
	}
	return row.Txn()
}

func (s *Store) queryTxn(ctx context.Context, q string, args ...any) (payments.Txn, error) {
	if !rows.Storable(args...) {
		return payments.Txn{}, payments.ErrNotFound // no row can hold it (rows.Storable)
	}
	t, err := scanTxn(s.pool.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, payments.ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("query transaction: %w", err)
	}
	return t, nil
}

// TxnByRequestID implements payments.Store.
func (s *Store) TxnByRequestID(ctx context.Context, merchantID string, typ payments.TxnType, requestID string) (payments.Txn, error) {
	return s.queryTxn(ctx, `SELECT `+txnColumns+` FROM transactions WHERE client_id = $1 AND txn_type = $2 AND request_id = $3 AND internal = 0`,
		merchantID, string(typ), requestID)
}

// TxnByID implements payments.Store.
func (s *Store) TxnByID(ctx context.Context, merchantID string, typ payments.TxnType, txnID string) (payments.Txn, error) {
	return s.queryTxn(ctx, `SELECT `+txnColumns+` FROM transactions WHERE client_id = $1 AND txn_type = $2 AND txn_id = $3`,
		merchantID, string(typ), txnID)
}

// Txns implements payments.Store: oldest first, insertion order (seq) among equal times.
func (s *Store) Txns(ctx context.Context, merchantID, paymentID string) ([]payments.Txn, error) {
	if !rows.Storable(merchantID, paymentID) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+txnColumns+` FROM transactions WHERE client_id = $1 AND payment_id = $2
		ORDER BY created_at, seq`, merchantID, paymentID)
	if err != nil {
		return nil, fmt.Errorf("query transactions: %w", err)
	}
	defer rows.Close()
	var out []payments.Txn
	for rows.Next() {
		t, err := scanTxn(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Due implements payments.Store: the due work of every kind, earliest first (then by payment id,
// in byte order as in SQLite). Each branch reads a partial index. An automatic payment approved
// but not captured is due payments.AutoCaptureGrace after its approval (the instance that
// approved it died before capturing).
//
// Due only lists: several instances may list the same work, and each piece is then done under
// the payment's version guard (Apply), so one instance's change wins and the others' turn into
// ErrConflict. No row is locked while the work talks to an acquirer.
// Due implements payments.Store: the due work of every kind, earliest first, leased or not.
func (s *Store) Due(ctx context.Context, t time.Time, limit int) ([]payments.Due, error) {
	return s.due(ctx, t, math.MaxInt64, limit)
}

// due lists the work due at or before t whose payment's work lease has run out by free.
func (s *Store) due(ctx context.Context, t time.Time, free int64, limit int) ([]payments.Due, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT 'EXPIRE', client_id, payment_id, '', expires_at FROM payments
			WHERE state = 'PROCESSING' AND expires_at <= $1 AND work_lease_until <= $4
		UNION ALL
		SELECT 'SETTLE', client_id, payment_id, '', acquirer_due_at FROM payments
			WHERE state = 'PROCESSING' AND acquirer_due_at > 0 AND acquirer_due_at <= $1 AND work_lease_until <= $4
		UNION ALL
		SELECT 'AUTO_VOID', client_id, payment_id, '', auth_expires_at FROM payments
			WHERE state = 'SUCCESS' AND capture_state IN ('', 'FAIL') AND auth_expires_at <= $1 AND work_lease_until <= $4
		UNION ALL
		SELECT 'RESOLVE', client_id, payment_id, '', inflight_until FROM payments
			WHERE inflight_until > 0 AND inflight_until <= $1 AND state = 'PROCESSING' AND work_lease_until <= $4
		UNION ALL
		SELECT CASE txn_type WHEN 'CAPTURE' THEN 'CAPTURE_STATUS' ELSE 'REFUND_STATUS' END, client_id, payment_id, txn_id, due_at
			FROM transactions WHERE status = 'PROCESSING' AND due_at > 0 AND due_at <= $1
				AND payment_id IN (SELECT payment_id FROM payments WHERE work_lease_until <= $4)
		UNION ALL
		SELECT 'VOID', client_id, payment_id, '', closed_at FROM payments
			WHERE void_state = 'PENDING' AND closed_at <= $1 AND work_lease_until <= $4
		UNION ALL
		SELECT 'AUTO_CAPTURE', client_id, payment_id, '', authorized_at + $3 FROM payments
			WHERE state = 'SUCCESS' AND capture_mode = 'AUTOMATIC' AND capture_state = '' AND authorized_at <= $1 - $3 AND work_lease_until <= $4
		ORDER BY 5, 3
		LIMIT $2`, ms(t), limit, payments.AutoCaptureGrace.Milliseconds(), free)
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
	if err := s.pool.QueryRow(ctx, `SELECT offset_ms FROM sandbox_clock WHERE id = 1`).Scan(&offset); err != nil {
		return 0, fmt.Errorf("read clock offset: %w", err)
	}
	return time.Duration(offset) * time.Millisecond, nil
}

// SetClockOffset moves the sandbox clock's offset forward (never back), atomically with respect
// to other instances moving it.
func (s *Store) SetClockOffset(ctx context.Context, d time.Duration) error {
	_, err := s.pool.Exec(ctx, `UPDATE sandbox_clock SET offset_ms = GREATEST(offset_ms, $1) WHERE id = 1`, d.Milliseconds())
	if err != nil {
		return fmt.Errorf("set clock offset: %w", err)
	}
	return nil
}

// ClaimWork implements payments.Store: it leases the payments of the work due at or before t whose
// lease has run out by now, skipping rows another instance is claiming (FOR UPDATE SKIP LOCKED),
// and returns that work.
func (s *Store) ClaimWork(ctx context.Context, t, now, leaseUntil time.Time, limit int) ([]payments.Due, error) {
	items, err := s.due(ctx, t, now.UnixMilli(), limit)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for _, d := range items {
		if !seen[d.PaymentID] {
			seen[d.PaymentID] = true
			ids = append(ids, d.PaymentID)
		}
	}
	rows, err := s.pool.Query(ctx, `UPDATE payments SET work_lease_until = $1 WHERE payment_id IN (
		SELECT payment_id FROM payments WHERE payment_id = ANY($2) AND work_lease_until <= $3 FOR UPDATE SKIP LOCKED)
		RETURNING payment_id`, ms(leaseUntil), ids, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("claim due work: %w", err)
	}
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
		return nil, fmt.Errorf("claim due work: %w", err)
	}
	var out []payments.Due
	for _, d := range items {
		if got[d.PaymentID] {
			out = append(out, d)
		}
	}
	return out, nil
}

// ReleaseWork implements payments.Store.
func (s *Store) ReleaseWork(ctx context.Context, paymentID string) error {
	_, err := s.pool.Exec(ctx, `UPDATE payments SET work_lease_until = 0 WHERE payment_id = $1`, paymentID)
	return err
}
