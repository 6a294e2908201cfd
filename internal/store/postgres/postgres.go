// Package postgres is the production store: PostgreSQL through pgx, shared by any number of
// cardgate instances. It keeps the schema and the invariants of the SQLite store (the same
// tables, times as Unix milliseconds, the invariants held by CHECKs and a trigger, partial
// unique indexes for idempotency) and passes the same contract suite (storetest/).
//
// Several instances: every transition is one short transaction guarded by the payment's version;
// idempotency is decided by unique indexes, never by a lock in memory; the outbox is claimed with
// FOR UPDATE SKIP LOCKED and a lease; migrations are serialized by an advisory lock, so instances
// may start at once on an empty database.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// minPoolConns is the pool size when the database URL sets none.
const minPoolConns = 16

// Store is the PostgreSQL implementation of every store interface of cardgate.
type Store struct {
	pool *pgxpool.Pool
	desc string
}

// Open connects to the database named by url (postgres://user[:password]@host[:port]/db?…; a
// search_path parameter selects a schema) and migrates it. Any number of instances may open one
// database at once: the migrations run once, under an advisory lock.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: invalid database URL")
	}
	if !strings.Contains(url, "pool_max_conns=") {
		// A pay takes a connection six times in a row (idempotency read, merchant, and four short
		// transactions), so pgx's default of max(4, CPUs) connections made concurrent pays queue
		// in the pool: on 2 cores at 32 concurrent pays, 4 connections cost 3.5 ms of CPU per pay
		// (load generator included; waiters woken and put back to sleep) against 2.5 ms with 16
		// (docs/performance.md). Sixteen per instance keeps several instances well inside
		// PostgreSQL's default max_connections of 100; pool_max_conns in the URL still decides.
		cfg.MaxConns = max(cfg.MaxConns, minPoolConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, desc: describe(cfg.ConnConfig)}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect %s: %w", s.desc, err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate %s: %w", s.desc, err)
	}
	return s, nil
}

func describe(c *pgx.ConnConfig) string {
	d := fmt.Sprintf("postgres %s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
	if sp := c.RuntimeParams["search_path"]; sp != "" {
		d += " search_path=" + sp
	}
	return d
}

func (s *Store) migrate(ctx context.Context) error {
	// The lock is per database and schema, so that stores in different schemas of one database
	// (test runs) do not wait for each other.
	var schema *string
	if err := s.pool.QueryRow(ctx, `SELECT current_database() || '.' || current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema == nil {
		return errors.New("no schema to migrate: the search_path names none that exists")
	}
	h := fnv.New64a()
	h.Write([]byte("cardgate migrations " + *schema))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64()&(1<<63-1))),
		lock.WithLockTimeout(1, 300), // wait up to 5 minutes for another instance's migrations
	)
	if err != nil {
		return err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(s.pool) // closing it leaves the pool open
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Pool exposes the pool for tests that count rows.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Describe implements store.Store: user, host, database and schema, never the password.
func (s *Store) Describe() string { return s.desc }

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// text makes a string storable in a TEXT column: PostgreSQL refuses NUL bytes and invalid UTF-8,
// which SQLite keeps. Used for what third parties wrote (a merchant's answer, an error text).
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// inTx runs fn in one short READ COMMITTED transaction. Guards live in the statements (version
// checks, unique indexes, row locks), so nothing needs a stricter isolation level.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
