package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/rows"
)

// ImportFinished inserts payments that have already reached their final state, with their
// transactions and events, in one transaction and in bulk (Dialect.Copy): the bench fills a store
// with a million realistic payments in minutes this way (one commit per payment through
// CreatePayment/Apply would take hours). No outbox rows: nothing is owed for them.
func (s *Store) ImportFinished(ctx context.Context, ps []payments.Payment, txns []payments.Txn, evs []payments.Event) error {
	prows := make([][]any, 0, len(ps))
	for _, p := range ps {
		args, err := rows.PaymentValues(p)
		if err != nil {
			return fmt.Errorf("encode payment %s: %w", p.ID, err)
		}
		prows = append(prows, args)
	}
	trows := make([][]any, 0, len(txns))
	for _, t := range txns {
		vals, err := rows.TxnValues(t)
		if err != nil {
			return fmt.Errorf("encode transaction %s: %w", t.ID, err)
		}
		trows = append(trows, vals)
	}
	erows := make([][]any, 0, len(evs))
	for _, ev := range evs {
		erows = append(erows, eventValues(ev))
	}
	return s.InTx(ctx, func(tx Conn) error {
		for _, b := range []struct {
			table, columns string
			rows           [][]any
		}{{"payments", paymentColumns, prows}, {"transactions", rows.TxnColumns, trows}, {"payment_events", eventColumns, erows}} {
			if err := s.copy(ctx, tx, b.table, columns(b.columns), b.rows); err != nil {
				return fmt.Errorf("import %s: %w", b.table, err)
			}
		}
		return nil
	})
}

func (s *Store) copy(ctx context.Context, tx Conn, table string, cols []string, rs [][]any) error {
	if s.d.Copy != nil {
		return s.d.Copy(ctx, tx, table, cols, rs)
	}
	q := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (` + placeholders(len(cols)) + `)`
	for _, r := range rs {
		if _, err := tx.Exec(ctx, q, r...); err != nil {
			return err
		}
	}
	return nil
}

// columns splits a column list such as rows.PaymentColumns.
func columns(list string) []string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// Querier returns the driver's own transaction or pool under c, for a Dialect's Copy.
func (c Conn) Querier() Querier { return c.on }
