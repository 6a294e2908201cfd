package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/store/rows"
)

var _ disputes.Store = (*Store)(nil)

const disputeColumns = `dispute_id, client_id, payment_id, capture_id, state, amount_minor, currency, reason_code,
	reason_msg, defense_wins, alerted, accept_reason, judged_result, evidence_sealed, opened_at, defense_due,
	defended_at, resolved_at, version`

func disputeValues(d disputes.Dispute) []any {
	return []any{d.ID, d.MerchantID, d.PaymentID, d.CaptureID, string(d.State), d.AmountMinor, d.Currency, d.ReasonCode,
		d.ReasonMsg, flag(d.DefenseWins), flag(d.Alerted), d.AcceptReason, d.JudgedResult, d.EvidenceSealed, ms(d.OpenedAt),
		ms(d.DefenseDue), ms(d.DefendedAt), ms(d.ResolvedAt), d.Version}
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dueAt is when the clock next acts on d, in milliseconds; 0 for none.
func dueAt(d disputes.Dispute) int64 {
	at, _, ok := d.Due()
	if !ok {
		return 0
	}
	return max(ms(at), 1)
}

func scanDispute(scan func(...any) error) (disputes.Dispute, error) {
	var (
		d                               disputes.Dispute
		state                           string
		wins, alerted                   int
		opened, due, defended, resolved int64
	)
	err := scan(&d.ID, &d.MerchantID, &d.PaymentID, &d.CaptureID, &state, &d.AmountMinor, &d.Currency, &d.ReasonCode,
		&d.ReasonMsg, &wins, &alerted, &d.AcceptReason, &d.JudgedResult, &d.EvidenceSealed, &opened, &due, &defended,
		&resolved, &d.Version)
	if err != nil {
		return d, err
	}
	d.State, d.DefenseWins, d.Alerted = disputes.State(state), wins == 1, alerted == 1
	d.OpenedAt, d.DefenseDue, d.DefendedAt, d.ResolvedAt = fromMS(opened), fromMS(due), fromMS(defended), fromMS(resolved)
	return d, nil
}

// writeDisputeExtras writes a change's event and notification in its transaction.
func writeDisputeExtras(ctx context.Context, tx Conn, c disputes.Change) error {
	d := c.Dispute
	if _, err := tx.Exec(ctx, `INSERT INTO dispute_events (dispute_id, event, from_state, to_state, at) VALUES (?,?,?,?,?)`,
		d.ID, string(c.Event), string(c.From), string(d.State), ms(c.At)); err != nil {
		return fmt.Errorf("insert dispute event: %w", err)
	}
	if n := c.Notice; n != nil {
		// One notification per dispute and type (invariant 5): the outbox's (notify_type, ref).
		_, err := tx.Exec(ctx, `INSERT INTO outbox (client_id, payment_id, notify_type, ref, url, body, next_attempt_at, created_at)
			VALUES (?,?,?,?,?,?,?,?)`, d.MerchantID, d.PaymentID, n.Type, d.ID, n.URL, string(n.Body), ms(n.CreatedAt), ms(n.CreatedAt))
		if err != nil {
			return fmt.Errorf("insert dispute notification: %w", err)
		}
	}
	return nil
}

// OpenDispute implements disputes.Store.
func (s *Store) OpenDispute(ctx context.Context, c disputes.Change) error {
	d := c.Dispute
	if c.FromVersion != 0 || d.Version != 1 {
		return fmt.Errorf("open dispute %s: version %d after %d: %w", d.ID, d.Version, c.FromVersion, ErrConstraint)
	}
	if !rows.Storable(d.ID, d.MerchantID, d.PaymentID, d.CaptureID, d.ReasonCode, d.ReasonMsg, d.EvidenceSealed) {
		return fmt.Errorf("open dispute: %w", ErrInvalidText)
	}
	return s.InTx(ctx, func(tx Conn) error {
		// Writing the payment's row first makes two openings of one payment (on any instance)
		// take turns, so both cannot pass the amount check below on the same balance.
		n, err := tx.Exec(ctx, `UPDATE payments SET version = version WHERE payment_id = ? AND client_id = ? AND capture_state = 'SUCCESS'`,
			d.PaymentID, d.MerchantID)
		if err != nil {
			return fmt.Errorf("lock payment: %w", err)
		}
		if n != 1 {
			return disputes.ErrTooMuch // not this merchant's, or not captured
		}
		// A dispute opened again (a retried open) is a duplicate whatever the balance says now.
		var exists int
		switch err := tx.QueryRow(ctx, `SELECT 1 FROM disputes WHERE dispute_id = ?`, d.ID).Scan(&exists); {
		case err == nil:
			return disputes.ErrDuplicate
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("look up dispute: %w", err)
		}
		var captured, refunded, disputed int64
		if err := tx.QueryRow(ctx, `SELECT captured_minor, refunded_minor, (SELECT COALESCE(SUM(amount_minor), 0) FROM disputes
			WHERE payment_id = ? AND state <> 'CANCELLED') FROM payments WHERE payment_id = ?`, d.PaymentID, d.PaymentID).Scan(&captured, &refunded, &disputed); err != nil {
			return fmt.Errorf("read disputable amount: %w", err)
		}
		if d.AmountMinor > captured-refunded-disputed {
			return disputes.ErrTooMuch
		}
		vals := append(disputeValues(d), dueAt(d))
		if _, err := tx.Exec(ctx, `INSERT INTO disputes (`+disputeColumns+`, due_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, vals...); err != nil {
			if errors.Is(err, ErrUnique) {
				return disputes.ErrDuplicate
			}
			return fmt.Errorf("insert dispute: %w", err)
		}
		return writeDisputeExtras(ctx, tx, c)
	})
}

// ApplyDispute implements disputes.Store.
func (s *Store) ApplyDispute(ctx context.Context, c disputes.Change) error {
	d := c.Dispute
	if d.Version != c.FromVersion+1 {
		return fmt.Errorf("apply dispute %s: version %d after %d: %w", d.ID, d.Version, c.FromVersion, ErrConstraint)
	}
	if !rows.Storable(d.EvidenceSealed, d.AcceptReason, d.JudgedResult) {
		return fmt.Errorf("apply dispute: %w", ErrInvalidText)
	}
	return s.InTx(ctx, func(tx Conn) error {
		n, err := tx.Exec(ctx, `UPDATE disputes SET state = ?, alerted = ?, accept_reason = ?, judged_result = ?, evidence_sealed = ?,
			defended_at = ?, resolved_at = ?, due_at = ?, version = ? WHERE dispute_id = ? AND client_id = ? AND version = ?`,
			string(d.State), flag(d.Alerted), d.AcceptReason, d.JudgedResult, d.EvidenceSealed, ms(d.DefendedAt), ms(d.ResolvedAt),
			dueAt(d), d.Version, d.ID, d.MerchantID, c.FromVersion)
		if err != nil {
			return fmt.Errorf("update dispute: %w", err)
		}
		if n != 1 {
			return disputes.ErrConflict
		}
		return writeDisputeExtras(ctx, tx, c)
	})
}

// DisputeByID implements disputes.Store.
func (s *Store) DisputeByID(ctx context.Context, merchantID, disputeID string) (disputes.Dispute, error) {
	if !rows.Storable(merchantID, disputeID) {
		return disputes.Dispute{}, disputes.ErrNotFound
	}
	d, err := scanDispute(s.db.QueryRow(ctx, `SELECT `+disputeColumns+` FROM disputes WHERE dispute_id = ? AND client_id = ?`,
		disputeID, merchantID).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return d, disputes.ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("query dispute: %w", err)
	}
	return d, nil
}

func (s *Store) queryDisputes(ctx context.Context, q string, args ...any) ([]disputes.Dispute, error) {
	rs, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query disputes: %w", err)
	}
	defer rs.Close()
	var out []disputes.Dispute
	for rs.Next() {
		d, err := scanDispute(rs.Scan)
		if err != nil {
			return nil, fmt.Errorf("scan dispute: %w", err)
		}
		out = append(out, d)
	}
	return out, rs.Err()
}

// DisputesOfPayment implements disputes.Store: oldest first.
func (s *Store) DisputesOfPayment(ctx context.Context, merchantID, paymentID string) ([]disputes.Dispute, error) {
	if !rows.Storable(merchantID, paymentID) {
		return nil, nil
	}
	return s.queryDisputes(ctx, `SELECT `+disputeColumns+` FROM disputes WHERE client_id = ? AND payment_id = ?
		ORDER BY opened_at, dispute_id`, merchantID, paymentID)
}

// DueDisputes implements disputes.Store.
func (s *Store) DueDisputes(ctx context.Context, t time.Time, limit int) ([]disputes.Dispute, error) {
	return s.queryDisputes(ctx, `SELECT `+disputeColumns+` FROM disputes WHERE due_at > 0 AND due_at <= ?
		ORDER BY due_at, dispute_id LIMIT ?`, ms(t), limit)
}
