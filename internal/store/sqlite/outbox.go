package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/notify"

	"github.com/cardgate/cardgate/internal/store/rows"
)

var _ notify.Store = (*Store)(nil)

const outboxColumns = `id, client_id, payment_id, notify_type, ref, url, body, status, attempts, next_attempt_at,
	last_attempt_at, delivered_at, created_at`

func scanMessage(scan func(...any) error) (notify.Message, error) {
	var (
		m                              notify.Message
		body, status                   string
		next, last, delivered, created int64
	)
	err := scan(&m.ID, &m.MerchantID, &m.PaymentID, &m.NotifyType, &m.Ref, &m.URL, &body, &status, &m.Attempts, &next, &last, &delivered, &created)
	if err != nil {
		return m, err
	}
	m.Body, m.Status = []byte(body), notify.Status(status)
	m.NextAttemptAt, m.LastAttemptAt, m.DeliveredAt, m.CreatedAt = fromMS(next), fromMS(last), fromMS(delivered), fromMS(created)
	return m, nil
}

func scanMessages(rows *sql.Rows) ([]notify.Message, error) {
	defer rows.Close()
	var out []notify.Message
	for rows.Next() {
		m, err := scanMessage(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ClaimDue implements notify.Store.
func (s *Store) ClaimDue(ctx context.Context, due, now, leaseUntil time.Time, limit int, busy []string) ([]notify.Message, error) {
	args := []any{ms(leaseUntil), ms(due), now.UnixMilli()}
	exclude := ""
	if len(busy) > 0 {
		exclude = " AND client_id NOT IN (" + strings.TrimSuffix(strings.Repeat("?,", len(busy)), ",") + ")"
		for _, b := range busy {
			args = append(args, b)
		}
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, `UPDATE outbox SET lease_until = ? WHERE id IN (
		SELECT id FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ? AND lease_until <= ?`+exclude+`
		ORDER BY next_attempt_at, id LIMIT ?) RETURNING `+outboxColumns, args...)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return scanMessages(rows)
}

// claimScan is how many due rows, per message asked for, a batch claim looks at before the
// per-merchant cap: the cap is applied to a bounded window, so a claim costs the same with a
// backlog of twenty thousand as of twenty.
const claimScan = 4

// ClaimBatch implements notify.Store. The busy list and the cap keep the statement's text fixed
// (json_each), so it is compiled once.
func (s *Store) ClaimBatch(ctx context.Context, due, now, leaseUntil time.Time, limit, perMerchant int, busy []string) ([]notify.Message, error) {
	if limit <= 0 || perMerchant <= 0 {
		return nil, nil
	}
	if busy == nil {
		busy = []string{}
	}
	skip, err := json.Marshal(busy)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `UPDATE outbox SET lease_until = ? WHERE id IN (
		SELECT id FROM (
			SELECT id, next_attempt_at, row_number() OVER (PARTITION BY client_id ORDER BY next_attempt_at, id) AS nth FROM (
				SELECT id, client_id, next_attempt_at FROM outbox
				WHERE status = 'PENDING' AND next_attempt_at <= ? AND lease_until <= ?
					AND client_id NOT IN (SELECT value FROM json_each(?))
				ORDER BY next_attempt_at, id LIMIT ?))
		WHERE nth <= ? ORDER BY next_attempt_at, id LIMIT ?) RETURNING `+outboxColumns,
		ms(leaseUntil), ms(due), now.UnixMilli(), string(skip), limit*claimScan, perMerchant, limit)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	// RETURNING follows no order; hand them out earliest first.
	slices.SortFunc(msgs, func(a, b notify.Message) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return msgs, nil
}

// Claim implements notify.Store.
func (s *Store) Claim(ctx context.Context, id int64, now, leaseUntil time.Time) (notify.Message, bool, error) {
	m, err := scanMessage(s.db.QueryRowContext(ctx, `UPDATE outbox SET lease_until = ?
		WHERE id = ? AND status = 'PENDING' AND lease_until <= ? RETURNING `+outboxColumns, ms(leaseUntil), id, now.UnixMilli()).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("claim notification %d: %w", id, err)
	}
	return m, true, nil
}

// RecordAttempt implements notify.Store.
func (s *Store) RecordAttempt(ctx context.Context, m notify.Message, a notify.Attempt) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return recordAttempt(ctx, tx, m, a) })
}

// RecordAttempts implements notify.Store: one commit for the lot, where each attempt alone
// would take its turn at the single connection for a commit of its own.
func (s *Store) RecordAttempts(ctx context.Context, recs []notify.Recorded) error {
	if len(recs) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range recs {
			if err := recordAttempt(ctx, tx, r.Message, r.Attempt); err != nil {
				return fmt.Errorf("notification %d: %w", r.Message.ID, err)
			}
		}
		return nil
	})
}

func recordAttempt(ctx context.Context, tx *sql.Tx, m notify.Message, a notify.Attempt) error {
	manual, delivered := 0, 0
	if a.Manual {
		manual = 1
	}
	if a.Delivered {
		delivered = 1
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO notify_attempts (outbox_id, attempt, manual, at, http_status, latency_ms, response, error, delivered)
		VALUES (?,?,?,?,?,?,?,?,?)`, m.ID, a.Attempt, manual, ms(a.At), a.HTTPStatus, a.Latency.Milliseconds(), a.Response, a.Error, delivered); err != nil {
		return fmt.Errorf("insert attempt: %w", err)
	}
	if a.Manual {
		// A resend is outside the schedule: it never touches the attempt count, the next due
		// time or a lease, which a scheduled attempt may hold (and may have moved) while the
		// resend was in flight. Only an acknowledgement changes the message.
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET last_attempt_at = max(last_attempt_at, ?),
			status = CASE WHEN ? = 1 THEN 'DELIVERED' ELSE status END,
			delivered_at = CASE WHEN ? = 1 AND delivered_at = 0 THEN ? ELSE delivered_at END WHERE id = ?`,
			ms(a.At), delivered, delivered, ms(a.At), m.ID)
		if err != nil {
			return fmt.Errorf("update notification: %w", err)
		}
		return nil
	}
	// A message that is no longer pending keeps its status (a late scheduled failure must not
	// turn a delivered or failed message back into a pending one), and a delivered one keeps
	// its delivery time.
	_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = CASE WHEN status = 'PENDING' OR ? = 'DELIVERED' THEN ? ELSE status END,
		attempts = ?, next_attempt_at = ?, last_attempt_at = ?,
		delivered_at = CASE WHEN status = 'DELIVERED' AND delivered_at <> 0 THEN delivered_at ELSE ? END,
		lease_until = 0 WHERE id = ?`,
		string(m.Status), string(m.Status), m.Attempts, ms(m.NextAttemptAt), ms(m.LastAttemptAt), ms(m.DeliveredAt), m.ID)
	if err != nil {
		return fmt.Errorf("update notification: %w", err)
	}
	return nil
}

// Message implements notify.Store.
func (s *Store) Message(ctx context.Context, merchantID string, id int64) (notify.Message, error) {
	m, err := scanMessage(s.db.QueryRowContext(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE client_id = ? AND id = ?`, merchantID, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return m, notify.ErrNotFound
	}
	return m, err
}

// Release implements notify.Store.
func (s *Store) Release(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE outbox SET lease_until = 0 WHERE id IN (SELECT value FROM json_each(?))`, string(list)); err != nil {
		return fmt.Errorf("release notifications: %w", err)
	}
	return nil
}

// DueMessages implements notify.Store.
func (s *Store) DueMessages(ctx context.Context, t time.Time, limit int) ([]notify.Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id LIMIT ?`, ms(t), limit)
	if err != nil {
		return nil, fmt.Errorf("list due notifications: %w", err)
	}
	return scanMessages(rows)
}

// Messages implements notify.Store.
func (s *Store) Messages(ctx context.Context, merchantID, paymentID string) ([]notify.Message, error) {
	if !rows.Storable(merchantID, paymentID) {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE client_id = ? AND payment_id = ? ORDER BY id`, merchantID, paymentID)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return scanMessages(rows)
}

// Attempts implements notify.Store.
func (s *Store) Attempts(ctx context.Context, outboxID int64) ([]notify.Attempt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, outbox_id, attempt, manual, at, http_status, latency_ms, response, error, delivered
		FROM notify_attempts WHERE outbox_id = ? ORDER BY id`, outboxID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	defer rows.Close()
	var out []notify.Attempt
	for rows.Next() {
		var (
			a                 notify.Attempt
			manual, delivered int
			at, latency       int64
		)
		if err := rows.Scan(&a.ID, &a.OutboxID, &a.Attempt, &manual, &at, &a.HTTPStatus, &latency, &a.Response, &a.Error, &delivered); err != nil {
			return nil, err
		}
		a.Manual, a.Delivered, a.At, a.Latency = manual == 1, delivered == 1, fromMS(at), time.Duration(latency)*time.Millisecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// OutboxStats reports how many notifications are pending and since when the oldest is.
func (s *Store) OutboxStats(ctx context.Context) (int, time.Time, error) {
	var (
		n      int
		oldest sql.NullInt64
	)
	if err := s.db.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE status = 'PENDING'`).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox stats: %w", err)
	}
	return n, fromMS(oldest.Int64), nil
}
