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
	db *sql.DB
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

// Batch runs the statements one by one: SQLite is in process, a round trip costs nothing.
func (q querier) Batch(ctx context.Context, stmts []sqlstore.Stmt) error {
	for i, st := range stmts {
		if _, err := q.on.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
	}
	return nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

func (d sqlDB) Begin(ctx context.Context) (sqlstore.DriverTx, error) {
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

func (t sqlTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t sqlTx) Rollback(context.Context) error { return t.tx.Rollback() }
