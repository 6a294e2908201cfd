package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cardgate/cardgate/internal/calllog"
	"github.com/cardgate/cardgate/internal/store/rows"
)

var _ calllog.Store = (*Store)(nil)

// RecordCalls implements calllog.Store: a batch in one transaction (one round trip on
// PostgreSQL, commit included). A call whose text cannot be stored (a client-id holding a NUL) is left out.
func (s *Store) RecordCalls(ctx context.Context, calls []calllog.Call) error {
	stmts := make([]Stmt, 0, len(calls))
	for _, c := range calls {
		if !rows.Storable(c.MerchantID, c.RequestID, c.Path, c.ResultCode, c.ResultStatus) {
			continue
		}
		stmts = append(stmts, Stmt{SQL: `INSERT INTO api_calls (client_id, at, request_id, path, result_code, result_status, latency_ms)
			VALUES (?,?,?,?,?,?,?)`, Args: []any{c.MerchantID, ms(c.At), c.RequestID, c.Path, c.ResultCode, c.ResultStatus, c.Latency.Milliseconds()}})
	}
	if len(stmts) == 0 {
		return nil
	}
	return s.InTx(ctx, func(tx Conn) error {
		if err := tx.Queue(ctx, stmts...); err != nil {
			return fmt.Errorf("record calls: %w", err)
		}
		return nil
	})
}

// CallsAfter implements calllog.Store.
func (s *Store) CallsAfter(ctx context.Context, merchantID string, afterID int64, limit int) ([]calllog.Call, error) {
	if !rows.Storable(merchantID) {
		return nil, nil
	}
	q := `SELECT id, client_id, at, request_id, path, result_code, result_status, latency_ms FROM api_calls
		WHERE client_id = ? AND id > ? ORDER BY id LIMIT ?`
	latest := afterID < 0
	if latest {
		q = `SELECT id, client_id, at, request_id, path, result_code, result_status, latency_ms FROM api_calls
		WHERE client_id = ? AND id > ? ORDER BY id DESC LIMIT ?`
	}
	rs, err := s.db.Query(ctx, q, merchantID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("query calls: %w", err)
	}
	defer rs.Close()
	var out []calllog.Call
	for rs.Next() {
		var (
			c         calllog.Call
			at, latMS int64
		)
		if err := rs.Scan(&c.ID, &c.MerchantID, &at, &c.RequestID, &c.Path, &c.ResultCode, &c.ResultStatus, &latMS); err != nil {
			return nil, fmt.Errorf("scan call: %w", err)
		}
		c.At, c.Latency = fromMS(at), time.Duration(latMS)*time.Millisecond
		out = append(out, c)
	}
	if latest {
		slices.Reverse(out)
	}
	return out, rs.Err()
}

// PruneCalls implements calllog.Store.
func (s *Store) PruneCalls(ctx context.Context, before time.Time) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM api_calls WHERE at < ?`, ms(before)); err != nil {
		return fmt.Errorf("prune calls: %w", err)
	}
	return nil
}
