package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cardgate/cardgate/internal/notify"

	"github.com/cardgate/cardgate/internal/store/rows"
)

var _ notify.Store = (*Store)(nil)

const outboxColumns = `id, client_id, payment_id, notify_type, ref, url, body, status, attempts, next_attempt_at,
	last_attempt_at, delivered_at, created_at`

func scanMessage(row pgx.Row) (notify.Message, error) {
	var (
		m                              notify.Message
		body, status                   string
		next, last, delivered, created int64
	)
	err := row.Scan(&m.ID, &m.MerchantID, &m.PaymentID, &m.NotifyType, &m.Ref, &m.URL, &body, &status, &m.Attempts, &next, &last, &delivered, &created)
	if err != nil {
		return m, err
	}
	m.Body, m.Status = []byte(body), notify.Status(status)
	m.NextAttemptAt, m.LastAttemptAt, m.DeliveredAt, m.CreatedAt = fromMS(next), fromMS(last), fromMS(delivered), fromMS(created)
	return m, nil
}

func scanMessages(rows pgx.Rows, err error) ([]notify.Message, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []notify.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ClaimDue implements notify.Store. The inner SELECT locks the rows it picks and skips rows
// another instance is claiming at this moment (SKIP LOCKED); a row another instance claimed
// and committed since this statement began is re-checked against the lease condition and left
// out. So any number of instances share the outbox and no message is leased twice at once.
func (s *Store) ClaimDue(ctx context.Context, due, now, leaseUntil time.Time, limit int, busy []string) ([]notify.Message, error) {
	if busy == nil {
		busy = []string{}
	}
	msgs, err := scanMessages(s.pool.Query(ctx, `UPDATE outbox SET lease_until = $1 WHERE id IN (
		SELECT id FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= $2 AND lease_until <= $3
			AND client_id <> ALL($4::text[])
		ORDER BY next_attempt_at, id LIMIT $5
		FOR UPDATE SKIP LOCKED) RETURNING `+outboxColumns, ms(leaseUntil), ms(due), now.UnixMilli(), busy, limit))
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

// claimScan is how many due rows, per message asked for, a batch claim looks at (and locks)
// before the per-merchant cap: the cap is applied to a bounded window, so a claim costs the same
// with a backlog of twenty thousand as of twenty.
const claimScan = 4

// ClaimBatch implements notify.Store, with ClaimDue's locking: the scan locks the rows it picks
// and skips those another instance is claiming (SKIP LOCKED), and the cap per merchant is
// counted over what it locked (a window function cannot sit beside FOR UPDATE).
func (s *Store) ClaimBatch(ctx context.Context, due, now, leaseUntil time.Time, limit, perMerchant int, busy []string) ([]notify.Message, error) {
	if limit <= 0 || perMerchant <= 0 {
		return nil, nil
	}
	if busy == nil {
		busy = []string{}
	}
	msgs, err := scanMessages(s.pool.Query(ctx, `WITH scan AS (
			SELECT id, client_id, next_attempt_at FROM outbox
			WHERE status = 'PENDING' AND next_attempt_at <= $2 AND lease_until <= $3 AND client_id <> ALL($4::text[])
			ORDER BY next_attempt_at, id LIMIT $5
			FOR UPDATE SKIP LOCKED
		), pick AS (
			SELECT id FROM (SELECT id, next_attempt_at, row_number() OVER (PARTITION BY client_id ORDER BY next_attempt_at, id) AS nth FROM scan) w
			WHERE nth <= $6 ORDER BY next_attempt_at, id LIMIT $7
		)
		UPDATE outbox SET lease_until = $1 WHERE id IN (SELECT id FROM pick) RETURNING `+outboxColumns,
		ms(leaseUntil), ms(due), now.UnixMilli(), busy, limit*claimScan, perMerchant, limit))
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
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
	m, err := scanMessage(s.pool.QueryRow(ctx, `UPDATE outbox SET lease_until = $1
		WHERE id = $2 AND status = 'PENDING' AND lease_until <= $3 RETURNING `+outboxColumns, ms(leaseUntil), id, now.UnixMilli()))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("claim notification %d: %w", id, err)
	}
	return m, true, nil
}

// RecordAttempt implements notify.Store, with the SQLite store's semantics: a manual resend
// changes only the last attempt time and, when acknowledged, the status; a scheduled attempt
// writes the schedule and releases the lease, never turning a finished message back to pending.
func (s *Store) RecordAttempt(ctx context.Context, m notify.Message, a notify.Attempt) error {
	return s.RecordAttempts(ctx, []notify.Recorded{{Message: m, Attempt: a}})
}

// RecordAttempts implements notify.Store: the statements of every attempt go in one round trip
// (a pipelined batch) and one commit.
func (s *Store) RecordAttempts(ctx context.Context, recs []notify.Recorded) error {
	if len(recs) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, r := range recs {
			queueAttempt(b, r.Message, r.Attempt)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		return nil
	})
}

func queueAttempt(b *pgx.Batch, m notify.Message, a notify.Attempt) {
	b.Queue(`INSERT INTO notify_attempts (outbox_id, attempt, manual, at, http_status, latency_ms, response, error, delivered)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, m.ID, a.Attempt, b2i(a.Manual), ms(a.At), a.HTTPStatus, a.Latency.Milliseconds(),
		text(a.Response), text(a.Error), b2i(a.Delivered))
	if a.Manual {
		// A resend is outside the schedule: it never touches the attempt count, the next due
		// time or a lease, which a scheduled attempt may hold (and may have moved) while the
		// resend was in flight. Only an acknowledgement changes the message.
		b.Queue(`UPDATE outbox SET last_attempt_at = GREATEST(last_attempt_at, $1),
			status = CASE WHEN $2::int = 1 THEN 'DELIVERED' ELSE status END,
			delivered_at = CASE WHEN $2::int = 1 AND delivered_at = 0 THEN $1 ELSE delivered_at END WHERE id = $3`,
			ms(a.At), b2i(a.Delivered), m.ID)
		return
	}
	// A message that is no longer pending keeps its status (a late scheduled failure must not
	// turn a delivered or failed message back into a pending one), and a delivered one keeps
	// its delivery time.
	b.Queue(`UPDATE outbox SET status = CASE WHEN status = 'PENDING' OR $1::text = 'DELIVERED' THEN $1::text ELSE status END,
		attempts = $2, next_attempt_at = $3, last_attempt_at = $4,
		delivered_at = CASE WHEN status = 'DELIVERED' AND delivered_at <> 0 THEN delivered_at ELSE $5 END,
		lease_until = 0 WHERE id = $6`,
		string(m.Status), m.Attempts, ms(m.NextAttemptAt), ms(m.LastAttemptAt), ms(m.DeliveredAt), m.ID)
}

// Message implements notify.Store.
func (s *Store) Message(ctx context.Context, merchantID string, id int64) (notify.Message, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE client_id = $1 AND id = $2`, merchantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, notify.ErrNotFound
	}
	if err != nil {
		return m, fmt.Errorf("query notification %d: %w", id, err)
	}
	return m, nil
}

// Release implements notify.Store.
func (s *Store) Release(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE outbox SET lease_until = 0 WHERE id = ANY($1::bigint[])`, ids); err != nil {
		return fmt.Errorf("release notifications: %w", err)
	}
	return nil
}

// DueMessages implements notify.Store.
func (s *Store) DueMessages(ctx context.Context, t time.Time, limit int) ([]notify.Message, error) {
	msgs, err := scanMessages(s.pool.Query(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= $1
		ORDER BY next_attempt_at, id LIMIT $2`, ms(t), limit))
	if err != nil {
		return nil, fmt.Errorf("list due notifications: %w", err)
	}
	return msgs, nil
}

// Messages implements notify.Store.
func (s *Store) Messages(ctx context.Context, merchantID, paymentID string) ([]notify.Message, error) {
	if !rows.Storable(merchantID, paymentID) {
		return nil, nil
	}
	msgs, err := scanMessages(s.pool.Query(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE client_id = $1 AND payment_id = $2 ORDER BY id`, merchantID, paymentID))
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return msgs, nil
}

// Attempts implements notify.Store.
func (s *Store) Attempts(ctx context.Context, outboxID int64) ([]notify.Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, outbox_id, attempt, manual, at, http_status, latency_ms, response, error, delivered
		FROM notify_attempts WHERE outbox_id = $1 ORDER BY id`, outboxID)
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
		oldest *int64
	)
	if err := s.pool.QueryRow(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE status = 'PENDING'`).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox stats: %w", err)
	}
	if oldest == nil {
		return n, time.Time{}, nil
	}
	return n, fromMS(*oldest), nil
}
