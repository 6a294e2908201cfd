package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/simulator"
)

// SimLedger is the sandbox acquirer's ledger in table sim_acquirer_ledger, so that the simulator
// of every instance (and of the next process) knows the authorizations any of them answered,
// and an instance that died leaves its authorizations where the others find them.
type SimLedger struct{ db Conn }

var _ simulator.Ledger = SimLedger{}

// RecordAuth implements simulator.Ledger.
func (l SimLedger) RecordAuth(ctx context.Context, ref string, result []byte, at time.Time) error {
	_, err := l.db.Exec(ctx, `INSERT INTO sim_acquirer_ledger (payment_ref, result, reversed, updated_at) VALUES (?, ?, 0, ?)
		ON CONFLICT (payment_ref) DO UPDATE SET result = excluded.result, updated_at = excluded.updated_at
		WHERE sim_acquirer_ledger.reversed = 0`, ref, string(result), ms(at))
	if err != nil {
		return fmt.Errorf("record simulator authorization: %w", err)
	}
	return nil
}

// AuthByRef implements simulator.Ledger.
func (l SimLedger) AuthByRef(ctx context.Context, ref string) ([]byte, bool, error) {
	var (
		result   string
		reversed int
	)
	err := l.db.QueryRow(ctx, `SELECT result, reversed FROM sim_acquirer_ledger WHERE payment_ref = ?`, ref).Scan(&result, &reversed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, acquirer.ErrNotFound
	}
	if err != nil {
		return nil, false, fmt.Errorf("read simulator authorization: %w", err)
	}
	return []byte(result), reversed != 0, nil
}

// ReverseAuth implements simulator.Ledger.
func (l SimLedger) ReverseAuth(ctx context.Context, ref string, at time.Time) error {
	_, err := l.db.Exec(ctx, `INSERT INTO sim_acquirer_ledger (payment_ref, reversed, updated_at) VALUES (?, 1, ?)
		ON CONFLICT (payment_ref) DO UPDATE SET reversed = 1, updated_at = excluded.updated_at`, ref, ms(at))
	if err != nil {
		return fmt.Errorf("record simulator reversal: %w", err)
	}
	return nil
}
