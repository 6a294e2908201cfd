package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/internal/sandbox"
	"github.com/cardgate/cardgate/internal/store/rows"
	"github.com/cardgate/cardgate/protocol"
)

var _ sandbox.Forces = (*Store)(nil)

// SetForce stores a merchant's forced result for an operation, replacing the one before; a
// Remaining of 0 clears it.
func (s *Store) SetForce(ctx context.Context, merchantID string, f sandbox.Force, at time.Time) error {
	if f.Remaining == 0 {
		_, err := s.db.Exec(ctx, `DELETE FROM sandbox_forces WHERE merchant_id = ? AND operation = ?`, merchantID, string(f.Operation))
		if err != nil {
			return fmt.Errorf("clear forced %s: %w", f.Operation, err)
		}
		return nil
	}
	_, err := s.db.Exec(ctx, `INSERT INTO sandbox_forces (merchant_id, operation, result_code, remaining, updated_at) VALUES (?,?,?,?,?)
		ON CONFLICT (merchant_id, operation) DO UPDATE SET result_code = excluded.result_code, remaining = excluded.remaining,
		updated_at = excluded.updated_at`, merchantID, string(f.Operation), string(f.Code), f.Remaining, ms(at))
	if err != nil {
		return fmt.Errorf("set forced %s: %w", f.Operation, err)
	}
	return nil
}

// TakeForce implements sandbox.Forces: one UPDATE takes one answer, so concurrent callers on any
// instance never share one.
func (s *Store) TakeForce(ctx context.Context, merchantID string, op sandbox.Operation) (protocol.Code, bool, error) {
	if !rows.Storable(merchantID) {
		return "", false, nil
	}
	var code string
	err := s.db.QueryRow(ctx, `UPDATE sandbox_forces SET remaining = remaining - 1
		WHERE merchant_id = ? AND operation = ? AND remaining > 0 RETURNING result_code`, merchantID, string(op)).Scan(&code)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("take forced %s: %w", op, err)
	}
	return protocol.Code(code), true, nil
}

// Forces lists the merchant's forced results with answers left, by operation.
func (s *Store) Forces(ctx context.Context, merchantID string) ([]sandbox.Force, error) {
	rs, err := s.db.Query(ctx, `SELECT operation, result_code, remaining FROM sandbox_forces
		WHERE merchant_id = ? AND remaining > 0 ORDER BY operation`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("list forced results: %w", err)
	}
	defer rs.Close()
	var out []sandbox.Force
	for rs.Next() {
		var f sandbox.Force
		var op, code string
		if err := rs.Scan(&op, &code, &f.Remaining); err != nil {
			return nil, fmt.Errorf("scan forced result: %w", err)
		}
		f.Operation, f.Code = sandbox.Operation(op), protocol.Code(code)
		out = append(out, f)
	}
	return out, rs.Err()
}

// resetStatements delete a merchant's test data, children first. Every table that holds a
// merchant's data must be here: the contract test (storetest ResetMerchant) fails on a table with
// a merchant or payment column that a reset leaves rows in.
var resetStatements = []struct{ table, sql string }{
	{"notify_attempts", `DELETE FROM notify_attempts WHERE outbox_id IN (SELECT id FROM outbox WHERE client_id = ?)`},
	{"outbox", `DELETE FROM outbox WHERE client_id = ?`},
	{"api_calls", `DELETE FROM api_calls WHERE client_id = ?`},
	{"dispute_events", `DELETE FROM dispute_events WHERE dispute_id IN (SELECT dispute_id FROM disputes WHERE client_id = ?)`},
	{"disputes", `DELETE FROM disputes WHERE client_id = ?`},
	{"payment_events", `DELETE FROM payment_events WHERE payment_id IN (SELECT payment_id FROM payments WHERE client_id = ?)`},
	{"transactions", `DELETE FROM transactions WHERE payment_id IN (SELECT payment_id FROM payments WHERE client_id = ?)`},
	// The simulated acquirers' books: references are the payment id, or "<ACQUIRER>/<payment id>".
	{"sim_acquirer_ledger", `DELETE FROM sim_acquirer_ledger WHERE EXISTS (SELECT 1 FROM payments p WHERE p.client_id = ?
		AND (sim_acquirer_ledger.payment_ref = p.payment_id OR sim_acquirer_ledger.payment_ref LIKE '%/' || p.payment_id))`},
	{"payments", `DELETE FROM payments WHERE client_id = ?`},
	{"card_tokens", `DELETE FROM card_tokens WHERE client_id = ?`},
	{"sandbox_forces", `DELETE FROM sandbox_forces WHERE merchant_id = ?`},
}

// ResetMerchant deletes a merchant's test data (payments and all that hangs off them, saved cards,
// notifications, forced results) in one transaction, keeping the merchant, its keys and its
// routing rules. It returns how many rows went from each table.
func (s *Store) ResetMerchant(ctx context.Context, merchantID string) (map[string]int64, error) {
	deleted := map[string]int64{}
	err := s.InTx(ctx, func(tx Conn) error {
		for _, st := range resetStatements {
			n, err := tx.Exec(ctx, st.sql, merchantID)
			if err != nil {
				return fmt.Errorf("reset %s: %w", st.table, err)
			}
			deleted[st.table] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return deleted, nil
}
