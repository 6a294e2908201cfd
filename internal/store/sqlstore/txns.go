package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
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
	t, err := scanTxn(s.db.QueryRow(ctx, q, args...).Scan)
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

// Txns implements payments.Store: oldest first, in insertion order among equal times.
func (s *Store) Txns(ctx context.Context, merchantID, paymentID string) ([]payments.Txn, error) {
	if !rows.Storable(merchantID, paymentID) {
		return nil, nil
	}
	rs, err := s.db.Query(ctx, `SELECT `+txnColumns+` FROM transactions WHERE client_id = ? AND payment_id = ?
		ORDER BY created_at, `+s.d.InsertOrder, merchantID, paymentID)
	if err != nil {
		return nil, fmt.Errorf("query transactions: %w", err)
	}
	defer rs.Close()
	var out []payments.Txn
	for rs.Next() {
		t, err := scanTxn(rs.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rs.Err()
}

// autoCaptureGrace is how long after an automatic payment's approval its capture counts as lost
// (the process died between the two) and the runner captures it: the pay that approved it
// normally captures within milliseconds.
var autoCaptureGrace = payments.AutoCaptureGrace.Milliseconds()

// Due implements payments.Store: the due work of every kind, earliest first (then by payment
// id), leased or not.
//
// Due only lists: several instances may list the same work, and each piece is then done under
// the payment's version guard (Apply), so one instance's change wins and the others' turn into
// ErrConflict. No row is locked while the work talks to an acquirer.
func (s *Store) Due(ctx context.Context, t time.Time, limit int) ([]payments.Due, error) {
	return s.due(ctx, t, math.MaxInt64, limit)
}

// due lists the work due at or before t whose payment's work lease has run out by free.
func (s *Store) due(ctx context.Context, t time.Time, free int64, limit int) ([]payments.Due, error) {
	at := ms(t)
	// Each branch must walk an index of the few payments that can have work, never the whole
	// table: this runs every second (jobs) and, on SQLite, holds the one connection every pay
	// queues for. With a million captured payments stored, a scan here made pay 200 times slower
	// (docs/performance.md). So the lease of a transaction's payment is read as the dialect's
	// planner does best (DueTxnLease), and automatic captures owed are looked for among the
	// authorized, uncaptured payments (the IN term, implied by capture_state = '', is what lets
	// SQLite use the partial index payments_auth_expiry).
	rs, err := s.db.Query(ctx, `
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
			FROM transactions t WHERE status = 'PROCESSING' AND due_at > 0 AND due_at <= ? AND `+s.d.DueTxnLease+`
		UNION ALL
		SELECT 'VOID', client_id, payment_id, '', closed_at FROM payments
			WHERE void_state = 'PENDING' AND closed_at <= ? AND work_lease_until <= ?
		UNION ALL
		SELECT 'AUTO_CAPTURE', client_id, payment_id, '', authorized_at + ? FROM `+s.d.AutoCaptureFrom+`
			WHERE state = 'SUCCESS' AND capture_state IN ('', 'FAIL')
				AND capture_mode = 'AUTOMATIC' AND capture_state = '' AND authorized_at <= ? AND work_lease_until <= ?
		ORDER BY 5, 3
		LIMIT ?`, at, free, at, free, at, free, at, free, at, free, at, free, autoCaptureGrace, at-autoCaptureGrace, free, limit)
	if err != nil {
		return nil, fmt.Errorf("query due work: %w", err)
	}
	defer rs.Close()
	var out []payments.Due
	for rs.Next() {
		var (
			d    payments.Due
			kind string
			due  int64
		)
		if err := rs.Scan(&kind, &d.MerchantID, &d.PaymentID, &d.TxnID, &due); err != nil {
			return nil, err
		}
		d.Kind, d.At = payments.DueKind(kind), fromMS(due)
		out = append(out, d)
	}
	return out, rs.Err()
}

// ClockOffset returns the sandbox clock's offset, shared by every instance on this store, and its
// epoch: the number of resets so far.
func (s *Store) ClockOffset(ctx context.Context) (time.Duration, int64, error) {
	var offset, epoch int64
	if err := s.db.QueryRow(ctx, `SELECT offset_ms, epoch FROM sandbox_clock WHERE id = 1`).Scan(&offset, &epoch); err != nil {
		return 0, 0, fmt.Errorf("read clock offset: %w", err)
	}
	return time.Duration(offset) * time.Millisecond, epoch, nil
}

// SetClockOffset moves the sandbox clock's offset forward (never back), in one statement, so
// that instances moving it at once keep the largest. It writes nothing unless epoch is still the
// store's: an instance that has not yet seen a reset cannot undo it with its old offset.
func (s *Store) SetClockOffset(ctx context.Context, d time.Duration, epoch int64) error {
	_, err := s.db.Exec(ctx, `UPDATE sandbox_clock SET offset_ms = `+s.d.Greatest+`(offset_ms, ?) WHERE id = 1 AND epoch = ?`, d.Milliseconds(), epoch)
	if err != nil {
		return fmt.Errorf("set clock offset: %w", err)
	}
	return nil
}

// ResetClock puts the sandbox clock back on real time and starts a new epoch, which tells every
// instance to drop its offset (the one time the sandbox clock moves back). It returns the epoch.
func (s *Store) ResetClock(ctx context.Context) (int64, error) {
	var epoch int64
	err := s.db.QueryRow(ctx, `UPDATE sandbox_clock SET offset_ms = 0, epoch = epoch + 1 WHERE id = 1 RETURNING epoch`).Scan(&epoch)
	if err != nil {
		return 0, fmt.Errorf("reset clock: %w", err)
	}
	return epoch, nil
}

// ClaimWork implements payments.Store: it leases the payments of the work due at or before t whose
// lease has run out by now, and returns that work. The lease condition is checked again as the
// row is written, and (PostgreSQL) rows another instance is claiming are skipped, so no payment
// is leased twice at once.
func (s *Store) ClaimWork(ctx context.Context, t, now, leaseUntil time.Time, limit int) ([]payments.Due, error) {
	items, err := s.due(ctx, t, now.UnixMilli(), limit)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	var ids []string
	for _, d := range items {
		if !slices.Contains(ids, d.PaymentID) {
			ids = append(ids, d.PaymentID)
		}
	}
	list, err := s.d.List(ids)
	if err != nil {
		return nil, err
	}
	rs, err := s.db.Query(ctx, `UPDATE payments SET work_lease_until = ? WHERE payment_id IN (
		SELECT payment_id FROM payments WHERE payment_id `+s.d.InList+` AND work_lease_until <= ?`+s.d.SkipLocked+`)
		RETURNING payment_id`, ms(leaseUntil), list, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("claim due work: %w", err)
	}
	defer rs.Close()
	got := map[string]bool{}
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		got[id] = true
	}
	if err := rs.Err(); err != nil {
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
	_, err := s.db.Exec(ctx, `UPDATE payments SET work_lease_until = 0 WHERE payment_id = ?`, paymentID)
	return err
}
