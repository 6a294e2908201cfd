package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/dashboard"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/rows"
	"github.com/cardgate/cardgate/protocol"
)

var _ dashboard.Store = (*Store)(nil)

const userColumns = `id, username, password_hash, role, client_id, created_at`

func scanUser(scan func(...any) error) (dashboard.User, error) {
	var (
		u        dashboard.User
		role     string
		clientID *string
		created  int64
	)
	if err := scan(&u.ID, &u.Username, &u.PasswordHash, &role, &clientID, &created); err != nil {
		return u, err
	}
	u.Role, u.CreatedAt = dashboard.Role(role), fromMS(created)
	if clientID != nil {
		u.ClientID = *clientID
	}
	return u, nil
}

// CreateUser implements dashboard.Store.
func (s *Store) CreateUser(ctx context.Context, u dashboard.User) (int64, error) {
	if !rows.Storable(u.Username, u.ClientID) {
		return 0, payments.ErrInvalidText
	}
	var clientID any // NULL for an operator: the CHECK ties a merchant user to its merchant
	if u.ClientID != "" {
		clientID = u.ClientID
	}
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO dashboard_users (username, password_hash, role, client_id, created_at)
		VALUES (?,?,?,?,?) RETURNING id`, u.Username, u.PasswordHash, string(u.Role), clientID, ms(u.CreatedAt)).Scan(&id)
	if errors.Is(err, ErrUnique) {
		return 0, dashboard.ErrUserExists
	}
	if err != nil {
		return 0, fmt.Errorf("insert console user: %w", err)
	}
	return id, nil
}

func (s *Store) queryUser(ctx context.Context, q string, args ...any) (dashboard.User, error) {
	if !rows.Storable(args...) {
		return dashboard.User{}, dashboard.ErrNoUser
	}
	u, err := scanUser(s.db.QueryRow(ctx, q, args...).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return u, dashboard.ErrNoUser
	}
	if err != nil {
		return u, fmt.Errorf("query console user: %w", err)
	}
	return u, nil
}

// UserByName implements dashboard.Store.
func (s *Store) UserByName(ctx context.Context, username string) (dashboard.User, error) {
	return s.queryUser(ctx, `SELECT `+userColumns+` FROM dashboard_users WHERE username = ?`, username)
}

// UserByID implements dashboard.Store.
func (s *Store) UserByID(ctx context.Context, id int64) (dashboard.User, error) {
	return s.queryUser(ctx, `SELECT `+userColumns+` FROM dashboard_users WHERE id = ?`, id)
}

// SetPassword implements dashboard.Store: the new hash and the end of every session, at once,
// so a password changed because it leaked signs the thief out too.
func (s *Store) SetPassword(ctx context.Context, username, hash string) error {
	if !rows.Storable(username) {
		return dashboard.ErrNoUser
	}
	return s.InTx(ctx, func(tx Conn) error {
		n, err := tx.Exec(ctx, `UPDATE dashboard_users SET password_hash = ? WHERE username = ?`, hash, username)
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if n != 1 {
			return dashboard.ErrNoUser
		}
		if _, err := tx.Exec(ctx, `DELETE FROM dashboard_sessions WHERE user_id = (SELECT id FROM dashboard_users WHERE username = ?)`, username); err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
		return nil
	})
}

// CreateSession implements dashboard.Store.
func (s *Store) CreateSession(ctx context.Context, se dashboard.Session) error {
	return s.InTx(ctx, func(tx Conn) error {
		if _, err := tx.Exec(ctx, `DELETE FROM dashboard_sessions WHERE expires_at <= ?`, ms(se.CreatedAt)); err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO dashboard_sessions (token_hash, user_id, csrf_secret, created_at, expires_at) VALUES (?,?,?,?,?)`,
			se.TokenHash, se.UserID, se.CSRF, ms(se.CreatedAt), ms(se.ExpiresAt)); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return nil
	})
}

// SessionByHash implements dashboard.Store.
func (s *Store) SessionByHash(ctx context.Context, tokenHash string, now time.Time) (dashboard.Session, dashboard.User, error) {
	if !rows.Storable(tokenHash) {
		return dashboard.Session{}, dashboard.User{}, dashboard.ErrNoSession
	}
	var (
		se               dashboard.Session
		created, expires int64
	)
	u, err := scanUser(func(dest ...any) error {
		return s.db.QueryRow(ctx, `SELECT s.token_hash, s.csrf_secret, s.created_at, s.expires_at,
			u.id, u.username, u.password_hash, u.role, u.client_id, u.created_at
			FROM dashboard_sessions s JOIN dashboard_users u ON u.id = s.user_id
			WHERE s.token_hash = ? AND s.expires_at > ?`, tokenHash, ms(now)).Scan(append([]any{&se.TokenHash, &se.CSRF, &created, &expires}, dest...)...)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return se, u, dashboard.ErrNoSession
	}
	if err != nil {
		return se, u, fmt.Errorf("query session: %w", err)
	}
	se.UserID, se.CreatedAt, se.ExpiresAt = u.ID, fromMS(created), fromMS(expires)
	return se, u, nil
}

// DeleteSession implements dashboard.Store.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM dashboard_sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// RecordLoginFailure implements dashboard.Store. Rows older than a day go with each new one:
// the throttle's window is minutes, and a guesser must not be able to grow the table for ever.
func (s *Store) RecordLoginFailure(ctx context.Context, username, ip string, at time.Time) error {
	username, ip = s.d.text(username), s.d.text(ip)
	return s.InTx(ctx, func(tx Conn) error {
		if _, err := tx.Exec(ctx, `DELETE FROM dashboard_login_failures WHERE at < ?`, ms(at.Add(-24*time.Hour))); err != nil {
			return fmt.Errorf("forget old sign-in failures: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO dashboard_login_failures (username, ip, at) VALUES (?,?,?)`, username, ip, ms(at)); err != nil {
			return fmt.Errorf("record sign-in failure: %w", err)
		}
		return nil
	})
}

// LoginFailures implements dashboard.Store.
func (s *Store) LoginFailures(ctx context.Context, username, ip string, since time.Time) (int, int, error) {
	username, ip = s.d.text(username), s.d.text(ip)
	var byUser, byIP int
	if err := s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM dashboard_login_failures WHERE username = ? AND at >= ?),
		(SELECT count(*) FROM dashboard_login_failures WHERE ip = ? AND at >= ?)`, username, ms(since), ip, ms(since)).Scan(&byUser, &byIP); err != nil {
		return 0, 0, fmt.Errorf("count sign-in failures: %w", err)
	}
	return byUser, byIP, nil
}

// ClearLoginFailures implements dashboard.Store.
func (s *Store) ClearLoginFailures(ctx context.Context, username string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM dashboard_login_failures WHERE username = ?`, s.d.text(username)); err != nil {
		return fmt.Errorf("clear sign-in failures: %w", err)
	}
	return nil
}

// Merchants implements dashboard.Store: one query, for the operator's picker, so without keys
// or secrets (MerchantByClientID reads the merchant chosen).
func (s *Store) Merchants(ctx context.Context) ([]merchant.Merchant, error) {
	rs, err := s.db.Query(ctx, `SELECT client_id, name, sandbox, notify_url, created_at FROM merchants ORDER BY created_at, client_id`)
	if err != nil {
		return nil, fmt.Errorf("list merchants: %w", err)
	}
	defer rs.Close()
	var out []merchant.Merchant
	for rs.Next() {
		var (
			m       merchant.Merchant
			sandbox int
			created int64
		)
		if err := rs.Scan(&m.ClientID, &m.Name, &sandbox, &m.NotifyURL, &created); err != nil {
			return nil, fmt.Errorf("scan merchant: %w", err)
		}
		m.Sandbox, m.CreatedAt = sandbox == 1, fromMS(created)
		out = append(out, m)
	}
	return out, rs.Err()
}

// AddMerchantKey implements dashboard.Store.
func (s *Store) AddMerchantKey(ctx context.Context, clientID, version, publicKey string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO merchant_keys (client_id, key_version, public_key) VALUES (?,?,?)`, clientID, version, publicKey)
	s.cache.drop()
	if errors.Is(err, ErrUnique) {
		return dashboard.ErrKeyExists
	}
	if errors.Is(err, ErrConstraint) {
		return merchant.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("add merchant key: %w", err)
	}
	return nil
}

// SearchPayments implements dashboard.Store. Every page walks the index payments_console
// (client_id, created_at, payment_id) backwards from the keyset cursor, or, searching by last
// four, payments_console_last4: never OFFSET, so page 1,000 costs what page 1 does.
func (s *Store) SearchPayments(ctx context.Context, q dashboard.PaymentQuery) ([]payments.Payment, error) {
	if !rows.Storable(q.MerchantID, q.LastFour, q.PaymentID, q.PaymentRequestID, q.AfterID) {
		return nil, nil
	}
	where := []string{"client_id = ?"}
	args := []any{q.MerchantID}
	add := func(cond string, vals ...any) { where, args = append(where, cond), append(args, vals...) }
	if q.PaymentID != "" {
		add("payment_id = ?", q.PaymentID)
	}
	if q.PaymentRequestID != "" {
		add("request_id = ?", q.PaymentRequestID)
	}
	if q.State != "" {
		add("state = ?", string(q.State))
	}
	if !q.From.IsZero() {
		add("created_at >= ?", ms(q.From))
	}
	if !q.To.IsZero() {
		add("created_at < ?", ms(q.To))
	}
	if q.MinMinor > 0 {
		add("amount_minor >= ?", q.MinMinor)
	}
	if q.MaxMinor > 0 {
		add("amount_minor <= ?", q.MaxMinor)
	}
	if q.LastFour != "" {
		add(s.d.CardLastFour+" = ?", q.LastFour)
	}
	if q.AfterID != "" {
		// A row value, which both planners turn into one range of the index.
		add("(created_at, payment_id) < (?, ?)", ms(q.AfterCreated), q.AfterID)
	}
	limit := q.Limit
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	rs, err := s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments WHERE `+strings.Join(where, " AND ")+`
		ORDER BY created_at DESC, payment_id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("search payments: %w", err)
	}
	defer rs.Close()
	var out []payments.Payment
	for rs.Next() {
		var row rows.PaymentScan
		if err := rs.Scan(row.Targets()...); err != nil {
			return nil, fmt.Errorf("scan payment: %w", err)
		}
		p, err := row.Payment()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rs.Err()
}

// PaymentEvents implements dashboard.Store.
func (s *Store) PaymentEvents(ctx context.Context, merchantID, paymentID string) ([]payments.Event, error) {
	if !rows.Storable(merchantID, paymentID) {
		return nil, nil
	}
	rs, err := s.db.Query(ctx, `SELECT e.payment_id, e.txn_id, e.op, e.from_state, e.to_state, e.result_code, e.at
		FROM payment_events e JOIN payments p ON p.payment_id = e.payment_id
		WHERE p.client_id = ? AND e.payment_id = ? ORDER BY e.id`, merchantID, paymentID)
	if err != nil {
		return nil, fmt.Errorf("list payment events: %w", err)
	}
	defer rs.Close()
	var out []payments.Event
	for rs.Next() {
		var (
			ev                   payments.Event
			op, from, to, result string
			at                   int64
		)
		if err := rs.Scan(&ev.PaymentID, &ev.TxnID, &op, &from, &to, &result, &at); err != nil {
			return nil, fmt.Errorf("scan payment event: %w", err)
		}
		ev.Op, ev.From, ev.To, ev.ResultCode, ev.At = payments.Op(op), payments.State(from), payments.State(to), protocol.Code(result), fromMS(at)
		out = append(out, ev)
	}
	return out, rs.Err()
}

// MerchantDisputes implements dashboard.Store.
func (s *Store) MerchantDisputes(ctx context.Context, merchantID string, limit int) ([]disputes.Dispute, error) {
	if !rows.Storable(merchantID) {
		return nil, nil
	}
	return s.queryDisputes(ctx, `SELECT `+disputeColumns+` FROM disputes WHERE client_id = ?
		ORDER BY opened_at DESC, dispute_id DESC LIMIT ?`, merchantID, limit)
}

// DisputeEvents implements dashboard.Store.
func (s *Store) DisputeEvents(ctx context.Context, merchantID, disputeID string) ([]dashboard.DisputeEvent, error) {
	if !rows.Storable(merchantID, disputeID) {
		return nil, nil
	}
	rs, err := s.db.Query(ctx, `SELECT e.dispute_id, e.event, e.from_state, e.to_state, e.at FROM dispute_events e
		JOIN disputes d ON d.dispute_id = e.dispute_id WHERE d.client_id = ? AND e.dispute_id = ? ORDER BY e.id`, merchantID, disputeID)
	if err != nil {
		return nil, fmt.Errorf("list dispute events: %w", err)
	}
	defer rs.Close()
	var out []dashboard.DisputeEvent
	for rs.Next() {
		var (
			ev       dashboard.DisputeEvent
			from, to string
			at       int64
		)
		if err := rs.Scan(&ev.DisputeID, &ev.Event, &from, &to, &at); err != nil {
			return nil, fmt.Errorf("scan dispute event: %w", err)
		}
		ev.From, ev.To, ev.At = disputes.State(from), disputes.State(to), fromMS(at)
		out = append(out, ev)
	}
	return out, rs.Err()
}

// dayMS is a UTC day in milliseconds; the statements below spell it out, since PostgreSQL groups
// by an expression only when it is the very one selected, which two parameters are not.
const dayMS = int64(24 * time.Hour / time.Millisecond)

// PaymentsPerDay implements dashboard.Store, on the range of payments_console.
func (s *Store) PaymentsPerDay(ctx context.Context, merchantID string, from, to time.Time) ([]dashboard.DayPayments, error) {
	rs, err := s.db.Query(ctx, `SELECT created_at / 86400000 AS day, count(*),
		sum(CASE WHEN state = 'SUCCESS' THEN 1 ELSE 0 END), sum(CASE WHEN state = 'FAIL' THEN 1 ELSE 0 END)
		FROM payments WHERE client_id = ? AND created_at >= ? AND created_at < ? GROUP BY created_at / 86400000 ORDER BY day`,
		merchantID, ms(from), ms(to))
	if err != nil {
		return nil, fmt.Errorf("payments per day: %w", err)
	}
	defer rs.Close()
	var out []dashboard.DayPayments
	for rs.Next() {
		var (
			d                   dashboard.DayPayments
			day, total, ok, bad int64
		)
		if err := rs.Scan(&day, &total, &ok, &bad); err != nil {
			return nil, fmt.Errorf("scan payments per day: %w", err)
		}
		d.Day, d.Total, d.Succeeded, d.Failed = fromMS(day*dayMS), int(total), int(ok), int(bad)
		out = append(out, d)
	}
	return out, rs.Err()
}

// DeliveriesPerDay implements dashboard.Store, on the index outbox_console.
func (s *Store) DeliveriesPerDay(ctx context.Context, merchantID string, from, to time.Time) ([]dashboard.DayDeliveries, error) {
	rs, err := s.db.Query(ctx, `SELECT created_at / 86400000 AS day,
		sum(CASE WHEN status = 'DELIVERED' THEN 1 ELSE 0 END), sum(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END),
		sum(CASE WHEN status = 'PENDING' THEN 1 ELSE 0 END)
		FROM outbox WHERE client_id = ? AND created_at >= ? AND created_at < ? GROUP BY created_at / 86400000 ORDER BY day`,
		merchantID, ms(from), ms(to))
	if err != nil {
		return nil, fmt.Errorf("deliveries per day: %w", err)
	}
	defer rs.Close()
	var out []dashboard.DayDeliveries
	for rs.Next() {
		var (
			d                               dashboard.DayDeliveries
			day, delivered, failed, pending int64
		)
		if err := rs.Scan(&day, &delivered, &failed, &pending); err != nil {
			return nil, fmt.Errorf("scan deliveries per day: %w", err)
		}
		d.Day, d.Delivered, d.Failed, d.Pending = fromMS(day*dayMS), int(delivered), int(failed), int(pending)
		out = append(out, d)
	}
	return out, rs.Err()
}
