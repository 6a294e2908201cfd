package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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

func scanMessages(rs RowSet, err error) ([]notify.Message, error) {
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []notify.Message
	for rs.Next() {
		m, err := scanMessage(rs.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rs.Err()
}

// earliestFirst orders claimed messages: RETURNING follows no order.
func earliestFirst(msgs []notify.Message) {
	slices.SortFunc(msgs, func(a, b notify.Message) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// ClaimDue implements notify.Store. The lease condition is checked again as each row is
// written, and on PostgreSQL the sub-select skips rows another instance is claiming at this
// moment (SKIP LOCKED): any number of instances share the outbox and no message is leased twice
// at once.
func (s *Store) ClaimDue(ctx context.Context, due, now, leaseUntil time.Time, limit int, busy []string) ([]notify.Message, error) {
	skip, err := s.d.List(busy)
	if err != nil {
		return nil, err
	}
	msgs, err := scanMessages(s.db.Query(ctx, `UPDATE outbox SET lease_until = ? WHERE id IN (
		SELECT id FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ? AND lease_until <= ? AND client_id `+s.d.NotInList+`
		ORDER BY next_attempt_at, id LIMIT ?`+s.d.SkipLocked+`) RETURNING `+outboxColumns,
		ms(leaseUntil), ms(due), now.UnixMilli(), skip, limit))
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	earliestFirst(msgs)
	return msgs, nil
}

// claimScan is how many due rows, per message asked for, a batch claim looks at (and on
// PostgreSQL locks) before the per-merchant cap: the cap is applied to a bounded window, so a
// claim costs the same with a backlog of twenty thousand as of twenty.
const claimScan = 4

// ClaimBatch implements notify.Store, with ClaimDue's locking: the innermost scan picks (and on
// PostgreSQL locks, skipping what another instance is claiming) a bounded window, and the cap
// per merchant is counted over it one level up (a window function cannot sit beside FOR
// UPDATE). The busy list is one parameter, so the statement's text is fixed.
func (s *Store) ClaimBatch(ctx context.Context, due, now, leaseUntil time.Time, limit, perMerchant int, busy []string) ([]notify.Message, error) {
	if limit <= 0 || perMerchant <= 0 {
		return nil, nil
	}
	skip, err := s.d.List(busy)
	if err != nil {
		return nil, err
	}
	msgs, err := scanMessages(s.db.Query(ctx, `UPDATE outbox SET lease_until = ? WHERE id IN (
		SELECT id FROM (
			SELECT id, next_attempt_at, row_number() OVER (PARTITION BY client_id ORDER BY next_attempt_at, id) AS nth FROM (
				SELECT id, client_id, next_attempt_at FROM outbox
				WHERE status = 'PENDING' AND next_attempt_at <= ? AND lease_until <= ? AND client_id `+s.d.NotInList+`
				ORDER BY next_attempt_at, id LIMIT ?`+s.d.SkipLocked+`) AS scan) AS w
		WHERE nth <= ? ORDER BY next_attempt_at, id LIMIT ?) RETURNING `+outboxColumns,
		ms(leaseUntil), ms(due), now.UnixMilli(), skip, limit*claimScan, perMerchant, limit))
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	earliestFirst(msgs)
	return msgs, nil
}

// Claim implements notify.Store.
func (s *Store) Claim(ctx context.Context, id int64, now, leaseUntil time.Time) (notify.Message, bool, error) {
	m, err := scanMessage(s.db.QueryRow(ctx, `UPDATE outbox SET lease_until = ?
		WHERE id = ? AND status = 'PENDING' AND lease_until <= ? RETURNING `+outboxColumns, ms(leaseUntil), id, now.UnixMilli()).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("claim notification %d: %w", id, err)
	}
	return m, true, nil
}

// RecordAttempt implements notify.Store: a manual resend changes only the last attempt time
// and, when acknowledged, the status; a scheduled attempt writes the schedule and releases the
// lease, never turning a finished message back to pending.
func (s *Store) RecordAttempt(ctx context.Context, m notify.Message, a notify.Attempt) error {
	return s.RecordAttempts(ctx, []notify.Recorded{{Message: m, Attempt: a}})
}

// RecordAttempts implements notify.Store: one commit for the lot (where each attempt alone
// would wait for a commit of its own) and, on PostgreSQL, one round trip: BEGIN, the
// statements and COMMIT are queued and sent together.
func (s *Store) RecordAttempts(ctx context.Context, recs []notify.Recorded) error {
	if len(recs) == 0 {
		return nil
	}
	stmts := make([]Stmt, 0, 2*len(recs))
	for _, r := range recs {
		stmts = s.attemptStmts(stmts, r.Message, r.Attempt)
	}
	return s.InTx(ctx, func(tx Conn) error {
		if err := tx.Queue(ctx, stmts...); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		return nil
	})
}

func (s *Store) attemptStmts(stmts []Stmt, m notify.Message, a notify.Attempt) []Stmt {
	stmts = append(stmts, Stmt{SQL: `INSERT INTO notify_attempts (outbox_id, attempt, manual, at, http_status, latency_ms, response, error, delivered)
		VALUES (?,?,?,?,?,?,?,?,?)`, Args: []any{m.ID, a.Attempt, b2i(a.Manual), ms(a.At), a.HTTPStatus, a.Latency.Milliseconds(),
		s.d.text(a.Response), s.d.text(a.Error), b2i(a.Delivered)}})
	if a.Manual {
		// A resend is outside the schedule: it never touches the attempt count, the next due
		// time or a lease, which a scheduled attempt may hold (and may have moved) while the
		// resend was in flight. Only an acknowledgement changes the message.
		return append(stmts, Stmt{SQL: `UPDATE outbox SET last_attempt_at = ` + s.d.Greatest + `(last_attempt_at, ?),
			status = CASE WHEN CAST(? AS INTEGER) = 1 THEN 'DELIVERED' ELSE status END,
			delivered_at = CASE WHEN CAST(? AS INTEGER) = 1 AND delivered_at = 0 THEN ? ELSE delivered_at END WHERE id = ?`,
			Args: []any{ms(a.At), b2i(a.Delivered), b2i(a.Delivered), ms(a.At), m.ID}})
	}
	// A message that is no longer pending keeps its status (a late scheduled failure must not
	// turn a delivered or failed message back into a pending one), and a delivered one keeps
	// its delivery time.
	return append(stmts, Stmt{SQL: `UPDATE outbox SET status = CASE WHEN status = 'PENDING' OR CAST(? AS TEXT) = 'DELIVERED' THEN CAST(? AS TEXT) ELSE status END,
		attempts = ?, next_attempt_at = ?, last_attempt_at = ?,
		delivered_at = CASE WHEN status = 'DELIVERED' AND delivered_at <> 0 THEN delivered_at ELSE ? END,
		lease_until = 0 WHERE id = ?`,
		Args: []any{string(m.Status), string(m.Status), m.Attempts, ms(m.NextAttemptAt), ms(m.LastAttemptAt), ms(m.DeliveredAt), m.ID}})
}

// Message implements notify.Store.
func (s *Store) Message(ctx context.Context, merchantID string, id int64) (notify.Message, error) {
	m, err := scanMessage(s.db.QueryRow(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE client_id = ? AND id = ?`, merchantID, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
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
	list, err := s.d.List(ids)
	if err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, `UPDATE outbox SET lease_until = 0 WHERE id `+s.d.InList, list); err != nil {
		return fmt.Errorf("release notifications: %w", err)
	}
	return nil
}

// DueMessages implements notify.Store.
func (s *Store) DueMessages(ctx context.Context, t time.Time, limit int) ([]notify.Message, error) {
	msgs, err := scanMessages(s.db.Query(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id LIMIT ?`, ms(t), limit))
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
	msgs, err := scanMessages(s.db.Query(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE client_id = ? AND payment_id = ? ORDER BY id`, merchantID, paymentID))
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return msgs, nil
}

// Attempts implements notify.Store.
func (s *Store) Attempts(ctx context.Context, outboxID int64) ([]notify.Attempt, error) {
	rs, err := s.db.Query(ctx, `SELECT id, outbox_id, attempt, manual, at, http_status, latency_ms, response, error, delivered
		FROM notify_attempts WHERE outbox_id = ? ORDER BY id`, outboxID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	defer rs.Close()
	var out []notify.Attempt
	for rs.Next() {
		var (
			a                 notify.Attempt
			manual, delivered int
			at, latency       int64
		)
		if err := rs.Scan(&a.ID, &a.OutboxID, &a.Attempt, &manual, &at, &a.HTTPStatus, &latency, &a.Response, &a.Error, &delivered); err != nil {
			return nil, err
		}
		a.Manual, a.Delivered, a.At, a.Latency = manual == 1, delivered == 1, fromMS(at), time.Duration(latency)*time.Millisecond
		out = append(out, a)
	}
	return out, rs.Err()
}

// OutboxStats reports how many notifications are pending and since when the oldest is.
func (s *Store) OutboxStats(ctx context.Context) (int, time.Time, error) {
	var (
		n      int
		oldest *int64 // NULL when none is pending
	)
	if err := s.db.QueryRow(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE status = 'PENDING'`).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox stats: %w", err)
	}
	if oldest == nil {
		return n, time.Time{}, nil
	}
	return n, fromMS(*oldest), nil
}
