package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cardgate/cardgate/internal/store/sqlstore"
)

// pgConn is what *pgxpool.Pool and *pgxpool.Conn share: pgx's native interface, which keeps
// PostgreSQL's binary protocol and pgx's statement cache (the default
// QueryExecModeCacheStatement: each connection prepares a statement text the first time it
// runs it, then only binds and executes it).
type pgConn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// pgQuerier adapts the pool to sqlstore.Querier.
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

// Batch pipelines the statements: one round trip for all. Outside a transaction block the
// statements of one pipeline (one Sync) are one implicit transaction: all or none.
func (q pgQuerier) Batch(ctx context.Context, stmts []sqlstore.Stmt) ([]int64, error) {
	return sendBatch(ctx, q.on, false, nil, stmts, false)
}

// guarded is the text of a Stmt.One: the statement as a data-modifying CTE whose rows
// cardgate_one (migration 00018) counts, raising SQLSTATE CG001 unless there is exactly one.
// The check is in the database so that a pipeline stops at it: the statements after it in the
// same round trip, the COMMIT included, are skipped by the server.
func guarded(st sqlstore.Stmt) string {
	if !st.One {
		return st.SQL
	}
	if v, ok := guardedSQL.Load(st.SQL); ok {
		return v.(string)
	}
	g := `WITH changed AS (` + st.SQL + ` RETURNING 1) SELECT cardgate_one(count(*)) FROM changed`
	guardedSQL.Store(st.SQL, g)
	return g
}

// sendBatch sends, in one round trip: BEGIN if begin, then queued and stmts, then COMMIT if
// commit. It returns the rows changed by each of stmts. The failure of a statement is a
// *sqlstore.BatchError; the server skips what follows it in the pipeline (one Sync), so after
// a failure inside a transaction block the connection's transaction is aborted and must be
// rolled back.
func sendBatch(ctx context.Context, on pgConn, begin bool, queued, stmts []sqlstore.Stmt, commit bool) ([]int64, error) {
	b := &pgx.Batch{}
	if begin {
		b.Queue("begin")
	}
	for _, st := range queued {
		b.Queue(guarded(st), st.Args...)
	}
	for _, st := range stmts {
		b.Queue(guarded(st), st.Args...)
	}
	if commit {
		b.Queue("commit")
	}
	br := on.SendBatch(ctx, b)
	n, err := readBatch(br, begin, queued, stmts, commit)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return n, err
}

func readBatch(br pgx.BatchResults, begin bool, queued, stmts []sqlstore.Stmt, commit bool) ([]int64, error) {
	if begin {
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
	}
	for i, st := range queued {
		if _, err := br.Exec(); err != nil {
			return nil, &sqlstore.BatchError{Stmt: st, Index: i, Err: err}
		}
	}
	n := make([]int64, len(stmts))
	for i, st := range stmts {
		tag, err := br.Exec()
		if err != nil {
			return nil, &sqlstore.BatchError{Stmt: st, Index: i, Err: err}
		}
		n[i] = tag.RowsAffected()
	}
	if commit {
		tag, err := br.Exec()
		if err != nil {
			return nil, err
		}
		if tag.String() == "ROLLBACK" {
			return nil, pgx.ErrTxCommitRollback
		}
	}
	return n, nil
}

// pgDB is the pool as a sqlstore.Driver.
type pgDB struct {
	pgQuerier
	pool *pgxpool.Pool
}

// Begin takes a connection from the pool; the transaction begins with its first round trip
// (pgTx), so a transaction costs no round trip of its own.
func (d pgDB) Begin(ctx context.Context) (sqlstore.DriverTx, error) {
	c, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &pgTx{c: c}, nil
}

func (d pgDB) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

func (d pgDB) Close() error {
	d.pool.Close()
	return nil
}

// pgTx is a transaction on one connection that sends its BEGIN with its first statement and
// its queued statements with the next one, or with its COMMIT: a transaction of queued
// statements (a pay's create, a guarded change with its rows, a batch of notification
// attempts) is one round trip, where BEGIN, each statement and COMMIT were one each.
type pgTx struct {
	c      *pgxpool.Conn
	begun  bool // BEGIN has been sent
	queued []sqlstore.Stmt
}

func (t *pgTx) conn() (*pgxpool.Conn, error) {
	if t.c == nil {
		return nil, pgx.ErrTxClosed
	}
	return t.c, nil
}

// flush sends BEGIN (if not yet sent) and the queued statements, with stmts.
func (t *pgTx) flush(ctx context.Context, stmts []sqlstore.Stmt, commit bool) ([]int64, error) {
	c, err := t.conn()
	if err != nil {
		return nil, err
	}
	begin, queued := !t.begun, t.queued
	t.begun, t.queued = true, nil
	return sendBatch(ctx, c, begin, queued, stmts, commit)
}

func (t *pgTx) pending() bool { return !t.begun || len(t.queued) > 0 }

func (t *pgTx) Exec(ctx context.Context, s string, args ...any) (int64, error) {
	if t.pending() {
		queued := len(t.queued)
		n, err := t.flush(ctx, []sqlstore.Stmt{{SQL: s, Args: args}}, false)
		if err != nil {
			var be *sqlstore.BatchError
			if queued == 0 && errors.As(err, &be) {
				return 0, be.Err // the statement's own failure, as a plain Exec reports it
			}
			return 0, err
		}
		return n[0], nil
	}
	c, err := t.conn()
	if err != nil {
		return 0, err
	}
	tag, err := c.Exec(ctx, s, args...)
	return tag.RowsAffected(), err
}

func (t *pgTx) Query(ctx context.Context, s string, args ...any) (sqlstore.Rows, error) {
	if t.pending() {
		if _, err := t.flush(ctx, nil, false); err != nil {
			return nil, err
		}
	}
	c, err := t.conn()
	if err != nil {
		return nil, err
	}
	return c.Query(ctx, s, args...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (t *pgTx) QueryRow(ctx context.Context, s string, args ...any) sqlstore.Row {
	if t.pending() {
		if _, err := t.flush(ctx, nil, false); err != nil {
			return errRow{err}
		}
	}
	c, err := t.conn()
	if err != nil {
		return errRow{err}
	}
	return c.QueryRow(ctx, s, args...)
}

func (t *pgTx) Batch(ctx context.Context, stmts []sqlstore.Stmt) ([]int64, error) {
	return t.flush(ctx, stmts, false)
}

// Queue implements sqlstore.DriverTx: the statements go with the next round trip.
func (t *pgTx) Queue(_ context.Context, stmts []sqlstore.Stmt) error {
	if t.c == nil {
		return pgx.ErrTxClosed
	}
	t.queued = append(t.queued, stmts...)
	return nil
}

// copyConn is the connection for COPY, with BEGIN and the queued statements sent before it.
func (t *pgTx) copyConn(ctx context.Context) (pgConn, error) {
	if t.pending() {
		if _, err := t.flush(ctx, nil, false); err != nil {
			return nil, err
		}
	}
	return t.conn()
}

// Commit sends the queued statements and COMMIT in one round trip; a transaction that sent
// nothing has nothing to commit.
func (t *pgTx) Commit(ctx context.Context) error {
	if t.c == nil {
		return pgx.ErrTxClosed
	}
	if !t.begun && len(t.queued) == 0 {
		t.release()
		return nil
	}
	_, err := t.flush(ctx, nil, true)
	if err != nil {
		return err // Rollback, deferred by InTx, ends the aborted transaction
	}
	t.release()
	return nil
}

// Rollback ends the transaction if the connection is still in one, and gives the connection
// back to the pool (which closes a connection left in a transaction rather than reuse it).
func (t *pgTx) Rollback(ctx context.Context) error {
	if t.c == nil {
		return nil
	}
	defer t.release()
	if t.c.Conn().PgConn().TxStatus() == 'I' || t.c.Conn().IsClosed() {
		return nil
	}
	if _, err := t.c.Exec(ctx, "rollback"); err != nil {
		_ = t.c.Conn().Close(ctx) // in an unknown state: never reused
		return err
	}
	return nil
}

func (t *pgTx) release() {
	if t.c != nil {
		t.c.Release()
		t.c, t.queued = nil, nil
	}
}
