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
		// A dispute opened again (a retried open) is a duplicate whatever the balance says now.
		var exists int
		switch err := tx.QueryRow(ctx, `SELECT 1 FROM disputes WHERE dispute_id = ?`, d.ID).Scan(&exists); {
		case err == nil:
			return disputes.ErrDuplicate
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("look up dispute: %w", err)
		}
		// The claim goes on the payment's row, checked against its balance in the same statement,
		// and bumps its version: two openings, or an opening and a refund, on any instance, take
		// turns on one balance (and the database's invariant holds refunds plus disputes to the
		// capture). An announced chargeback opens once: the first opening clears it.
		q := `UPDATE payments SET disputed_minor = disputed_minor + ?, version = version + 1, chargeback_at = 0
			WHERE payment_id = ? AND client_id = ? AND capture_state = 'SUCCESS' AND captured_minor - refunded_minor - disputed_minor >= ?`
		if c.Chargeback {
			q += ` AND chargeback_at > 0`
		}
		n, err := tx.Exec(ctx, q, d.AmountMinor, d.PaymentID, d.MerchantID, d.AmountMinor)
		if err != nil {
			return fmt.Errorf("claim disputed amount: %w", err)
		}
		if n != 1 {
			if c.Chargeback {
				return disputes.ErrDuplicate // opened meanwhile, or its balance moved: the service looks again
			}
			return disputes.ErrTooMuch // not this merchant's, not captured, or not that much left
		}
		if err := disputeClaimEvent(ctx, tx, d.PaymentID, d.ID, "DISPUTE_OPENED", c.At); err != nil {
			return err
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
		if d.State == disputes.Cancelled && c.From != disputes.Cancelled {
			// A withdrawn chargeback gives its claim back to the payment's refundable balance.
			if _, err := tx.Exec(ctx, `UPDATE payments SET disputed_minor = disputed_minor - ?, version = version + 1
				WHERE payment_id = ? AND client_id = ?`, d.AmountMinor, d.PaymentID, d.MerchantID); err != nil {
				return fmt.Errorf("release disputed amount: %w", err)
			}
			if err := disputeClaimEvent(ctx, tx, d.PaymentID, d.ID, "DISPUTE_RELEASED", c.At); err != nil {
				return err
			}
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

// DueChargebacks implements disputes.Store: captured payments whose announced chargeback is due.
func (s *Store) DueChargebacks(ctx context.Context, t time.Time, limit int) ([]disputes.DueChargeback, error) {
	rs, err := s.db.Query(ctx, `SELECT client_id, payment_id, chargeback_at FROM payments WHERE chargeback_at > 0 AND chargeback_at <= ?
		ORDER BY chargeback_at, payment_id LIMIT ?`, ms(t), limit)
	if err != nil {
		return nil, fmt.Errorf("query due chargebacks: %w", err)
	}
	defer rs.Close()
	var out []disputes.DueChargeback
	for rs.Next() {
		var (
			c  disputes.DueChargeback
			at int64
		)
		if err := rs.Scan(&c.MerchantID, &c.PaymentID, &at); err != nil {
			return nil, fmt.Errorf("scan due chargeback: %w", err)
		}
		c.At = fromMS(at)
		out = append(out, c)
	}
	return out, rs.Err()
}

// DropChargeback implements disputes.Store: an announced chargeback with nothing left to take
// (the payment was refunded meanwhile) is dropped, bumping the payment's version like any change.
func (s *Store) DropChargeback(ctx context.Context, merchantID, paymentID string, at time.Time) error {
	return s.InTx(ctx, func(tx Conn) error {
		n, err := tx.Exec(ctx, `UPDATE payments SET chargeback_at = 0, version = version + 1
			WHERE payment_id = ? AND client_id = ? AND chargeback_at > 0`, paymentID, merchantID)
		if err != nil {
			return fmt.Errorf("drop chargeback: %w", err)
		}
		if n == 0 {
			return nil
		}
		return disputeClaimEvent(ctx, tx, paymentID, "", "CHARGEBACK_DROPPED", at)
	})
}

// disputeClaimEvent records, in the payment's own history, a change a dispute made to it (its
// claim on the balance, which bumped the payment's version): one event per version, as every
// payment change has.
func disputeClaimEvent(ctx context.Context, tx Conn, paymentID, disputeID, op string, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO payment_events (`+eventColumns+`)
		SELECT payment_id, ?, ?, state, state, result_code, ? FROM payments WHERE payment_id = ?`, disputeID, op, ms(at), paymentID)
	if err != nil {
		return fmt.Errorf("insert payment event %s: %w", op, err)
	}
	return nil
}
