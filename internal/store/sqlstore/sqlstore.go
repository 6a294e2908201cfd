// Package sqlstore is cardgate's store written once for both databases: every query, the one
// transaction helper, the one scan path and the classification of driver errors. The sqlite/
// and postgres/ packages open their database (connection settings, pool, migrations), adapt
// their driver to Driver and name what really differs between the two in a Dialect value; the
// SQL here is written with ? placeholders, which the dialect rebinds.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer/simulator"
)

// Querier is what a driver adapter gives the store, on a pool and on a transaction alike.
// The SQL it is handed is already rebound for the driver.
type Querier interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, q string, args ...any) (int64, error)
	Query(ctx context.Context, q string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) Row
	// Batch runs the statements in order, returns how many rows each changed, and stops at the
	// first that fails (a *BatchError naming it; a Stmt.One that did not change exactly one row
	// fails with ErrNotOne): nothing after it runs. PostgreSQL pipelines them in one round trip
	// (outside a transaction, as one implicit transaction); SQLite, in process, runs them one by
	// one.
	Batch(ctx context.Context, stmts []Stmt) ([]int64, error)
}

// Rows is a result set; Close may be called more than once.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is one row; Scan returns sql.ErrNoRows (or an error that is it) when there is none.
type Row interface{ Scan(dest ...any) error }

// Stmt is one statement of a Batch or a Queue.
type Stmt struct {
	SQL  string
	Args []any
	// One: the statement must change exactly one row, or it fails with ErrNotOne and stops the
	// batch (PostgreSQL checks it in the database, so that a pipeline stops there too: what
	// follows in the same round trip, a commit included, does not run).
	One bool
	// Err, if set, turns the statement's failure (classified) into the caller's error, such as
	// payments.ErrDuplicate for a unique violation; it applies wherever the failure surfaces,
	// which for a queued statement may be a later call or the commit.
	Err func(error) error
}

// BatchError is the failure of one statement of a Batch or a Queue.
type BatchError struct {
	Stmt  Stmt
	Index int // in the batch or queue the statement came with
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("statement %d: %v", e.Index+1, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }

// Driver is the database: statements outside a transaction, and transactions.
type Driver interface {
	Querier
	Begin(ctx context.Context) (DriverTx, error)
	Ping(ctx context.Context) error
	Close() error
}

// DriverTx is an open transaction. Rollback after Commit is a harmless no-op.
type DriverTx interface {
	Querier
	// Queue runs stmts before whatever the transaction runs next, at the latest with its commit.
	// PostgreSQL sends them in that next round trip (BEGIN itself is sent with the first
	// statement), so a transaction of queued statements is one round trip, commit included;
	// SQLite runs them at once. A failure is a *BatchError returned by the call that ran them:
	// Queue itself, a later statement, or Commit.
	Queue(ctx context.Context, stmts []Stmt) error
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// The store's own error values: Dialect.Classify names a driver's error by its code (SQLite's
// extended result code, PostgreSQL's SQLSTATE), and the store decides on these alone, never on
// an error's text. The classified error still wraps the driver's (errors.As finds it).
var (
	// ErrUnique: a unique index or primary key refused the row.
	ErrUnique = errors.New("unique violation")
	// ErrConstraint: a CHECK, NOT NULL, foreign key or invariant trigger refused the change.
	ErrConstraint = errors.New("constraint violation")
	// ErrInvalidText: the database cannot hold the text (PostgreSQL: NUL bytes, invalid UTF-8).
	ErrInvalidText = errors.New("text the database cannot hold")
	// ErrNotOne: a Stmt.One changed no row, or more than one.
	ErrNotOne = errors.New("guarded statement did not change exactly one row")
)

type classified struct{ kind, err error }

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.kind, e.err} }

// Dialect is everything that differs between the two databases, in one place. The SQL text
// fragments are spliced into statements that are otherwise the same for both.
type Dialect struct {
	// Rebind turns the ? placeholders of a statement into the driver's ($1, $2, … for
	// PostgreSQL); nil keeps them. It is called on every statement, so it should cache.
	Rebind func(string) string
	// Classify returns ErrUnique, ErrConstraint or ErrInvalidText for a driver error with such a
	// code, nil for any other.
	Classify func(error) error
	// Greatest is the two-argument maximum function (SQLite max, PostgreSQL GREATEST).
	Greatest string
	// SkipLocked ends a row-picking sub-select: PostgreSQL's FOR UPDATE SKIP LOCKED lets
	// instances claim side by side; SQLite has one writer at a time, so the guarded UPDATE is the
	// whole claim and it is empty.
	SkipLocked string
	// InList and NotInList test a column against one list parameter, which keeps a statement's
	// text fixed however long the list (SQLite: json_each of a JSON array; PostgreSQL: an array).
	InList, NotInList string
	// List encodes a []string or []int64 as that parameter.
	List func(v any) (any, error)
	// InsertOrder orders rows of one table as inserted (SQLite rowid, PostgreSQL a seq column).
	InsertOrder string
	// DueTxnLease is Due's test that a transaction's payment holds no work lease (alias t; one
	// parameter): written for each planner so that it walks the primary key or a small set.
	DueTxnLease string
	// AutoCaptureFrom is the FROM of Due's automatic-capture branch (SQLite must be told the
	// partial index, or it scans every payment).
	AutoCaptureFrom string
	// CardLastFour is the expression of a payment's last four card digits (from the masked
	// summary in the card column), exactly as the console's index (migration 00016) names it.
	CardLastFour string
	// Text makes a third party's text storable (PostgreSQL refuses NUL and invalid UTF-8);
	// nil keeps it as it is.
	Text func(string) string
	// Copy bulk-inserts rows into table (PostgreSQL COPY); nil inserts them one statement a row,
	// which SQLite's statement cache compiles once.
	Copy func(ctx context.Context, tx Conn, table string, columns []string, rows [][]any) error
	// Bytewise follows a text expression to make it sort byte by byte, whatever its column's
	// collation (PostgreSQL COLLATE "C"; SQLite's default BINARY does already: empty), so that
	// an order both stores must agree on, a report's, is the same on both.
	Bytewise string
}

// Store implements every store interface of cardgate (store.Store but for what sqlite/ and
// postgres/ add: Describe and the like) on a Driver.
type Store struct {
	d     *Dialect
	db    Conn
	drv   Driver
	cache *configCache
}

// New returns the store on drv, speaking dialect d.
func New(drv Driver, d Dialect) *Store {
	dp := &d
	return &Store{d: dp, drv: drv, db: Conn{on: drv, d: dp}, cache: newConfigCache()}
}

// Conn runs statements, written with ?, on the database or in a transaction: rebound for the
// driver, errors classified.
type Conn struct {
	on Querier
	d  *Dialect
}

func (d *Dialect) bind(q string) string {
	if d.Rebind == nil {
		return q
	}
	return d.Rebind(q)
}

func (d *Dialect) classify(err error) error {
	if err == nil || d.Classify == nil {
		return err
	}
	if kind := d.Classify(err); kind != nil {
		return &classified{kind: kind, err: err}
	}
	return err
}

func (d *Dialect) text(s string) string {
	if d.Text == nil {
		return s
	}
	return d.Text(s)
}

// Exec runs a statement and returns the number of rows it changed.
func (c Conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	n, err := c.on.Exec(ctx, c.d.bind(q), args...)
	return n, c.d.stmtErr(err) // in a transaction, a queued statement's failure may surface here
}

// Query runs a query; the caller closes the rows.
func (c Conn) Query(ctx context.Context, q string, args ...any) (RowSet, error) {
	r, err := c.on.Query(ctx, c.d.bind(q), args...)
	if err != nil {
		return RowSet{}, c.d.stmtErr(err)
	}
	return RowSet{r: r, d: c.d}, nil
}

// QueryRow runs a query of one row.
func (c Conn) QueryRow(ctx context.Context, q string, args ...any) OneRow {
	return OneRow{r: c.on.QueryRow(ctx, c.d.bind(q), args...), d: c.d}
}

// Batch runs the statements in order, in one round trip where the driver can, and returns how
// many rows each changed (Querier.Batch).
func (c Conn) Batch(ctx context.Context, stmts ...Stmt) ([]int64, error) {
	n, err := c.on.Batch(ctx, c.d.bindAll(stmts))
	return n, c.d.stmtErr(err)
}

// Queue runs the statements before whatever the transaction runs next, at the latest with its
// commit (DriverTx.Queue): on PostgreSQL in that round trip. Their failure may therefore be
// returned by Queue, by a later statement or by InTx's commit, turned by the failing
// statement's Err where it has one. Outside a transaction it is Batch.
func (c Conn) Queue(ctx context.Context, stmts ...Stmt) error {
	if len(stmts) == 0 {
		return nil
	}
	if q, ok := c.on.(interface {
		Queue(context.Context, []Stmt) error
	}); ok {
		return c.d.stmtErr(q.Queue(ctx, c.d.bindAll(stmts)))
	}
	_, err := c.Batch(ctx, stmts...)
	return err
}

func (d *Dialect) bindAll(stmts []Stmt) []Stmt {
	out := make([]Stmt, len(stmts))
	for i, st := range stmts {
		st.SQL = d.bind(st.SQL)
		out[i] = st
	}
	return out
}

// stmtErr classifies a driver error and, for a statement's failure, applies its Err.
func (d *Dialect) stmtErr(err error) error {
	var be *BatchError
	if !errors.As(err, &be) {
		return d.classify(err)
	}
	cerr := d.classify(be.Err)
	if be.Stmt.Err != nil {
		return be.Stmt.Err(cerr)
	}
	return fmt.Errorf("statement %d: %w", be.Index+1, cerr)
}

// RowSet is the rows of Conn.Query, with their errors classified.
type RowSet struct {
	r Rows
	d *Dialect
}

func (r RowSet) Next() bool             { return r.r.Next() }
func (r RowSet) Scan(dest ...any) error { return r.d.classify(r.r.Scan(dest...)) }
func (r RowSet) Err() error             { return r.d.classify(r.r.Err()) }
func (r RowSet) Close()                 { r.r.Close() }

// OneRow is the row of Conn.QueryRow, with its error classified.
type OneRow struct {
	r Row
	d *Dialect
}

func (r OneRow) Scan(dest ...any) error { return r.d.stmtErr(r.r.Scan(dest...)) }

// InTx runs fn in one short transaction and commits it when fn returns nil. The rollback is
// deferred, so it also runs when fn panics (the panic goes on) and when ctx is cancelled (on a
// context of its own): a transaction never keeps its connection, which for SQLite is the only
// one. Guards live in the statements (version checks, unique indexes, row locks), so the
// default isolation level is enough.
func (s *Store) InTx(ctx context.Context, fn func(tx Conn) error) error {
	tx, err := s.drv.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", s.d.classify(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if err := fn(Conn{on: tx, d: s.d}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		var be *BatchError
		if errors.As(err, &be) {
			// A queued statement, sent with the commit, failed: its own error, not the commit's.
			return s.d.stmtErr(err)
		}
		return fmt.Errorf("commit: %w", s.d.classify(err))
	}
	return nil
}

// Raw runs statements outside a transaction (for the PostgreSQL-only tables and for tests).
func (s *Store) Raw() Conn { return s.db }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.drv.Ping(ctx) }

// Close stops the configuration poll and closes the database.
func (s *Store) Close() error {
	s.closeCache()
	return s.drv.Close()
}

// SimulatorLedger returns the store's simulator ledger.
func (s *Store) SimulatorLedger() simulator.Ledger { return SimLedger{s.db} }

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

// placeholders is "?,?,…" for n values.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }
