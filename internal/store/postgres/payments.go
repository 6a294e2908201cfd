package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/rows"
)

var _ payments.Store = (*Store)(nil)

const paymentColumns = rows.PaymentColumns

var (
	updateSet = rows.SetClause(func(i int) string { return "$" + strconv.Itoa(i) })
	// guard are the placeholders after the changed columns: payment id, client id, version.
	guard = [3]string{"$" + strconv.Itoa(len(rows.PaymentChangeColumns)+1), "$" + strconv.Itoa(len(rows.PaymentChangeColumns)+2),
		"$" + strconv.Itoa(len(rows.PaymentChangeColumns)+3)}
)

func paymentArgs(p payments.Payment) ([]any, error) { return rows.PaymentValues(p) }

// CreatePayment implements payments.Store. Two instances inserting one (merchant,
// paymentRequestId) at once: the unique index makes the second wait for the first and then fail
// with a unique violation, reported as ErrDuplicate.
func (s *Store) CreatePayment(ctx context.Context, p payments.Payment, ev payments.Event) error {
	args, err := paymentArgs(p)
	if err != nil {
		return fmt.Errorf("encode payment: %w", err)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO payments (`+paymentColumns+`) VALUES
			($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29,$30,$31,$32)`, args...)
		if isUniqueViolation(err) {
			return payments.ErrDuplicate
		}
		if err != nil {
			return fmt.Errorf("insert payment: %w", err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// Apply implements payments.Store. The guarded UPDATE (… AND version = FromVersion) takes the
// row lock; a concurrent writer from the same version waits, then re-reads the row, finds the
// version moved on and updates nothing: ErrConflict.
func (s *Store) Apply(ctx context.Context, c payments.Change) error {
	p := c.Payment
	vals, err := rows.PaymentChangeValues(p)
	if err != nil {
		return err
	}
	vals = append(vals, p.ID, p.MerchantID, c.FromVersion)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE payments SET `+updateSet+` WHERE payment_id = `+guard[0]+
			` AND client_id = `+guard[1]+` AND version = `+guard[2], vals...)
		if err != nil {
			return fmt.Errorf("update payment: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return payments.ErrConflict
		}
		if t := c.NewToken; t != nil {
			if err := insertToken(ctx, tx, *t); err != nil {
				return err
			}
		}
		if t := c.NewTxn; t != nil {
			vals, err := rows.TxnValues(*t)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO transactions (`+rows.TxnColumns+`)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)`, vals...)
			if isUniqueViolation(err) {
				return payments.ErrDuplicate
			}
			if err != nil {
				return fmt.Errorf("insert transaction: %w", err)
			}
		}
		if t := c.Txn; t != nil {
			details, err := json.Marshal(t.Details)
			if err != nil {
				return err
			}
			// Only a transaction still in process changes: a final result is never rewritten.
			tag, err := tx.Exec(ctx, `UPDATE transactions SET status = $1, result_code = $2, result_message = $3, details = $4,
				updated_at = $5, due_at = $6 WHERE txn_id = $7 AND client_id = $8 AND status = 'PROCESSING'`,
				string(t.Status), string(t.ResultCode), t.ResultMsg, string(details), ms(t.UpdatedAt), ms(t.DueAt), t.ID, t.MerchantID)
			if err != nil {
				return fmt.Errorf("update transaction: %w", err)
			}
			if tag.RowsAffected() != 1 {
				return payments.ErrConflict
			}
		}
		if err := insertEvent(ctx, tx, c.Event); err != nil {
			return err
		}
		if o := c.Outbox; o != nil {
			_, err := tx.Exec(ctx, `INSERT INTO outbox (client_id, payment_id, notify_type, ref, url, body, next_attempt_at, created_at)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, o.MerchantID, o.PaymentID, o.NotifyType, o.Ref, o.URL, string(o.Body), ms(o.CreatedAt), ms(o.CreatedAt))
			if err != nil {
				return fmt.Errorf("insert outbox: %w", err)
			}
		}
		return nil
	})
}

func insertEvent(ctx context.Context, tx pgx.Tx, ev payments.Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO payment_events (payment_id, txn_id, op, from_state, to_state, result_code, at) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		ev.PaymentID, ev.TxnID, string(ev.Op), string(ev.From), string(ev.To), string(ev.ResultCode), ms(ev.At))
	if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

// PaymentByID implements payments.Store.
func (s *Store) PaymentByID(ctx context.Context, merchantID, paymentID string) (payments.Payment, error) {
	return s.queryPayment(ctx, `SELECT `+paymentColumns+` FROM payments WHERE client_id = $1 AND payment_id = $2`, merchantID, paymentID)
}

// PaymentByChallengeToken implements payments.Store.
func (s *Store) PaymentByChallengeToken(ctx context.Context, token string) (payments.Payment, error) {
	if token == "" {
		return payments.Payment{}, payments.ErrNotFound
	}
	return s.queryPayment(ctx, `SELECT `+paymentColumns+` FROM payments WHERE challenge_token = $1`, token)
}

// PaymentByRequestID implements payments.Store.
func (s *Store) PaymentByRequestID(ctx context.Context, merchantID, requestID string) (payments.Payment, error) {
	return s.queryPayment(ctx, `SELECT `+paymentColumns+` FROM payments WHERE client_id = $1 AND request_id = $2`, merchantID, requestID)
}

func (s *Store) queryPayment(ctx context.Context, q string, args ...any) (payments.Payment, error) {
	if !rows.Storable(args...) {
		return payments.Payment{}, payments.ErrNotFound // no row can hold it (rows.Storable)
	}
	var row rows.PaymentScan
	err := s.pool.QueryRow(ctx, q, args...).Scan(row.Targets()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return payments.Payment{}, payments.ErrNotFound
	}
	if err != nil {
		return payments.Payment{}, fmt.Errorf("query payment: %w", err)
	}
	return row.Payment()
}
