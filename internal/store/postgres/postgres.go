// Package postgres is the production store: PostgreSQL through pgx's native interface, shared by
// any number of cardgate instances, with the queries of sqlstore. It keeps the schema and the invariants of the SQLite store (the same
// tables, times as Unix milliseconds, the invariants held by CHECKs and a trigger, partial
// unique indexes for idempotency) and passes the same contract suite (storetest/).
//
// Several instances: every transition is one short transaction guarded by the payment's version;
// idempotency is decided by unique indexes, never by a lock in memory; the outbox is claimed with
// FOR UPDATE SKIP LOCKED and a lease; migrations are serialized by an advisory lock, so instances
// may start at once on an empty database. What differs from SQLite is in Dialect.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/cardgate/cardgate/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// minPoolConns is the pool size when the database URL sets none.
const minPoolConns = 16

// Store is the PostgreSQL implementation of every store interface of cardgate.
type Store struct {
	*sqlstore.Store
	pool *pgxpool.Pool
	desc string
}

// Open connects to the database named by url (postgres://user[:password]@host[:port]/db?…; a
// search_path parameter selects a schema) and migrates it. Any number of instances may open one
// database at once: the migrations run once, under an advisory lock.
func Open(ctx context.Context, url string) (*Store, error) { return OpenWith(ctx, url, nil) }

// OpenWith is Open with tune, when not nil, applied to the pool's configuration before the pool
// connects: a dialer or a tracer, what tests and embedders may need beyond the URL.
func OpenWith(ctx context.Context, url string, tune func(*pgxpool.Config)) (*Store, error) {
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
	if tune != nil {
		tune(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{Store: sqlstore.New(pgDB{pgQuerier{pool}, pool}, Dialect), pool: pool, desc: describe(cfg.ConnConfig)}
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

// Describe implements store.Store: user, host, database and schema, never the password.
func (s *Store) Describe() string { return s.desc }

// Dialect is how PostgreSQL differs from SQLite for the shared store.
var Dialect = sqlstore.Dialect{
	Rebind:     rebind,
	Classify:   classify,
	Greatest:   "GREATEST",
	SkipLocked: " FOR UPDATE SKIP LOCKED",
	InList:     "= ANY(?)",
	NotInList:  "<> ALL(?)",
	List:       arrayList,
	// Transactions have no rowid: seq is a sequence column.
	InsertOrder:     "seq",
	DueTxnLease:     "t.payment_id IN (SELECT payment_id FROM payments WHERE work_lease_until <= ?)",
	AutoCaptureFrom: "payments",
	CardLastFour:    `substring(card FROM '"lastFour":"([0-9]*)"')`,
	Text:            text,
	Copy:            copyRows,
	// disputes.dispute_id has the database's collation (migration 00013 names none), which in
	// a locale sorts "a" before "B"; the report's order is byte order, as SQLite's.
	Bytewise: ` COLLATE "C"`,
}

// classify names an error by its SQLSTATE.
func classify(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "23505": // unique_violation
		return sqlstore.ErrUnique
	case "23514", "23502", "23503", "P0001": // check, not null, foreign key, RAISE in a trigger
		return sqlstore.ErrConstraint
	case "22021", "22P05": // character_not_in_repertoire, untranslatable_character
		return sqlstore.ErrInvalidText
	case "CG001": // cardgate_one (migration 00018): a Stmt.One did not change exactly one row
		return sqlstore.ErrNotOne
	}
	return nil
}

// guardedSQL caches guarded's answers.
var guardedSQL sync.Map

// rebound caches rebind's answers: the store's statements are a fixed set of texts.
var rebound sync.Map

// rebind numbers the ? placeholders of q ($1, $2, …), leaving quoted text alone.
func rebind(q string) string {
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	r := b.String()
	rebound.Store(q, r)
	return r
}

// arrayList is a list parameter for = ANY / <> ALL: an array, empty (never NULL, which would
// match nothing) for none.
func arrayList(v any) (any, error) {
	switch l := v.(type) {
	case []string:
		if l == nil {
			return []string{}, nil
		}
		return l, nil
	case []int64:
		if l == nil {
			return []int64{}, nil
		}
		return l, nil
	}
	return nil, fmt.Errorf("list parameter of type %T", v)
}

// text makes a string storable in a TEXT column: PostgreSQL refuses NUL bytes and invalid UTF-8,
// which SQLite keeps. Used for what third parties wrote (a merchant's answer, an error text).
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// copyRows bulk-inserts with COPY, on the transaction under tx (InTx's, a pgTx) or the pool.
func copyRows(ctx context.Context, tx sqlstore.Conn, table string, columns []string, rows [][]any) error {
	var on pgConn
	switch q := tx.Querier().(type) {
	case *pgTx:
		var err error
		if on, err = q.copyConn(ctx); err != nil {
			return fmt.Errorf("copy into %s: %w", table, err)
		}
	case pgDB:
		on = q.on
	case pgQuerier:
		on = q.on
	default:
		return fmt.Errorf("copy into %s: not a PostgreSQL transaction", table)
	}
	_, err := on.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	return err
}
