package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/cardgate/cardgate/internal/store/sqlstore"
)

// sqlDB adapts database/sql to sqlstore.Driver.
type sqlDB struct {
	querier
	db    *sql.DB
	group *groupCommit
}

// Exec implements sqlstore.Querier outside a transaction: as a group's member (group.go).
func (d sqlDB) Exec(ctx context.Context, s string, args ...any) (int64, error) {
	if d.group == nil {
		return d.querier.Exec(ctx, s, args...)
	}
	return d.group.exec(ctx, s, args...)
}

// QueryRow implements sqlstore.Querier outside a transaction: a write (INSERT … RETURNING)
// as a group's member, a read on the connection as it is.
func (d sqlDB) QueryRow(ctx context.Context, s string, args ...any) sqlstore.Row {
	if d.group == nil || isRead(s) {
		return d.querier.QueryRow(ctx, s, args...)
	}
	return d.group.queryRow(ctx, s, args...)
}

// execer is what *sql.DB and *sql.Tx share.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

type querier struct{ on execer }

func (q querier) Exec(ctx context.Context, s string, args ...any) (int64, error) {
	res, err := q.on.ExecContext(ctx, s, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q querier) Query(ctx context.Context, s string, args ...any) (sqlstore.Rows, error) {
	rs, err := q.on.QueryContext(ctx, s, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rs}, nil
}

func (q querier) QueryRow(ctx context.Context, s string, args ...any) sqlstore.Row {
	return q.on.QueryRowContext(ctx, s, args...)
}

// Batch runs the statements one by one: SQLite is in process, a round trip costs nothing. It
// stops at the first that fails, as PostgreSQL's pipeline does; outside a transaction the
// statements run before the failure stay written (SQLite has no implicit transaction for
// several statements), so the store batches only inside transactions.
func (q querier) Batch(ctx context.Context, stmts []sqlstore.Stmt) ([]int64, error) {
	n := make([]int64, len(stmts))
	for i, st := range stmts {
		res, err := q.on.ExecContext(ctx, st.SQL, st.Args...)
		if err == nil {
			n[i], err = res.RowsAffected()
		}
		if err == nil && st.One && n[i] != 1 {
			err = fmt.Errorf("%d rows changed: %w", n[i], sqlstore.ErrNotOne)
		}
		if err != nil {
			return nil, &sqlstore.BatchError{Stmt: st, Index: i, Err: err}
		}
	}
	return n, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

func (d sqlDB) Begin(ctx context.Context) (sqlstore.DriverTx, error) {
	if d.group != nil {
		m, err := d.group.begin(ctx)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqlTx{querier{tx}, tx}, nil
}

func (d sqlDB) Ping(ctx context.Context) error { return d.db.PingContext(ctx) }
func (d sqlDB) Close() error                   { return d.db.Close() }

type sqlTx struct {
	querier
	tx *sql.Tx
}

// Queue implements sqlstore.DriverTx: in process, the statements run at once.
func (t sqlTx) Queue(ctx context.Context, stmts []sqlstore.Stmt) error {
	_, err := t.Batch(ctx, stmts)
	return err
}

func (t sqlTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t sqlTx) Rollback(context.Context) error { return t.tx.Rollback() }
