package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cardgate/cardgate/internal/store/sqlstore"
)

// pgConn is what *pgxpool.Pool and pgx.Tx share: pgx's native interface, which keeps
// PostgreSQL's binary protocol and pgx's statement cache.
type pgConn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// pgQuerier adapts a pool or a transaction to sqlstore.Querier.
type pgQuerier struct{ on pgConn }

func (q pgQuerier) Exec(ctx context.Context, s string, args ...any) (int64, error) {
	tag, err := q.on.Exec(ctx, s, args...)
	return tag.RowsAffected(), err
}

func (q pgQuerier) Query(ctx context.Context, s string, args ...any) (sqlstore.Rows, error) {
	return q.on.Query(ctx, s, args...)
}

func (q pgQuerier) QueryRow(ctx context.Context, s string, args ...any) sqlstore.Row {
	return q.on.QueryRow(ctx, s, args...)
}

// Batch pipelines the statements: one round trip for all.
func (q pgQuerier) Batch(ctx context.Context, stmts []sqlstore.Stmt) error {
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.SQL, st.Args...)
	}
	return q.on.SendBatch(ctx, b).Close()
}

// pgDB is the pool as a sqlstore.Driver.
type pgDB struct {
	pgQuerier
	pool *pgxpool.Pool
}

func (d pgDB) Begin(ctx context.Context) (sqlstore.DriverTx, error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return pgTx{pgQuerier{tx}, tx}, nil
}

func (d pgDB) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

func (d pgDB) Close() error {
	d.pool.Close()
	return nil
}

type pgTx struct {
	pgQuerier
	tx pgx.Tx
}

func (t pgTx) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t pgTx) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }
