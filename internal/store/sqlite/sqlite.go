// Package sqlite is the embedded store: one SQLite file (pure Go, no cgo) under the data directory,
// the default for a developer's laptop and CI. Migrations are embedded and run at open. The
// queries are the shared ones of sqlstore; this package opens the file and says, in its
// Dialect, how SQLite differs.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	driver "modernc.org/sqlite" // also registers the "sqlite" driver for read-only tools
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cardgate/cardgate/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the database file inside the data directory.
const FileName = "cardgate.db"

// Store is the SQLite implementation of every store interface of cardgate.
type Store struct {
	*sqlstore.Store
	db    *sql.DB
	path  string
	group *groupCommit // nil when each transaction commits alone
}

// Open opens (creating if needed) the database in dir and migrates it. Its transactions commit
// in groups (group.go).
func Open(ctx context.Context, dir string) (*Store, error) { return open(ctx, dir, true) }

func open(ctx context.Context, dir string, grouped bool) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// WAL lets inquiries read while a payment commits; IMMEDIATE transactions take the write lock
	// at BEGIN so two writers queue on busy_timeout instead of failing on lock upgrade.
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// The automatic checkpoint runs inside the commit that crosses the threshold, with every
	// other writer queued behind the one connection. A pay touches the same few hot pages (the
	// right edges of its tables and indexes) again and again, so a checkpoint of 4,000 frames
	// (16 MB of log) copies each hot page once for more pays than SQLite's default of 1,000. In
	// `cardgate bench --baseline` the pay ratio went from 0.58 to 0.65–0.71 and the CPU per call
	// from 3.05 to 2.80 ms (docs/performance.md).
	// A checkpoint from a connection of its own measured no better, so it was not kept.
	q.Add("_pragma", "wal_autocheckpoint(4000)")
	// Group commit gives every member but the first a savepoint, and SQLite keeps the original of
	// each page a savepoint changes in a statement journal, in memory up to 64 KiB and beyond that
	// in a temporary file, which a group of two or three pays exceeds: under load one pwrite per
	// WAL frame written, as many write system calls as the log itself. In memory it costs none,
	// and its copies of the store's pages no longer go to the temporary directory. The journal is
	// held only while a group's transaction is open, so it is bounded by a group's pages. The
	// pragma also keeps SQLite's transient tables and indices (for an ORDER BY or GROUP BY that no
	// index serves) in memory, bounded by what such a query selects.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Set("_txlock", "immediate")
	conn, err := driver.NewConnector("file:" + uriPath(path) + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := sql.OpenDB(stmtCacheConnector{conn})
	if err := os.Chmod(path, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// One connection: SQLite has one writer at a time anyway, and queueing in Go is far cheaper
	// than writers spinning in SQLite's busy handler (whose sleeps grow to 100 ms and made the p99
	// of pay ten times its median). WAL keeps each statement short.
	db.SetMaxOpenConns(1)
	drv := sqlDB{querier: querier{db}, db: db}
	if grouped {
		drv.group = &groupCommit{db: db}
	}
	s := &Store{Store: sqlstore.New(drv, Dialect), db: db, path: path, group: drv.group}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.db, sub)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for attempt := 0; ; attempt++ {
		_, err = p.Up(ctx)
		// SQLite has no migration lock: two processes opening a fresh file at once race to
		// create goose's table; the loser retries and finds the work done.
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "already exists") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.path, err)
	}
	return nil
}

// uriPath escapes what SQLite's URI syntax reads as a query (?), a fragment (#) or an escape (%)
// in a file name: unescaped, a data directory "run#2" opens the file "run" beside it.
func uriPath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// GroupStats are the groups committed so far and the transactions they held (0 and 0 for a store
// opened without group commit): their ratio is the mean group size, which /metrics exports.
func (s *Store) GroupStats() (groups, members int64) {
	if s.group == nil {
		return 0, 0
	}
	return s.group.groups.Load(), s.group.members.Load()
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Describe implements store.Store.
func (s *Store) Describe() string { return "sqlite " + s.path }

// Dialect is how SQLite differs from PostgreSQL for the shared store.
var Dialect = sqlstore.Dialect{
	Classify: classify,
	Greatest: "max",
	// One writer at a time: the guarded UPDATE of a claim is the whole claim.
	SkipLocked:  "",
	InList:      "IN (SELECT value FROM json_each(?))",
	NotInList:   "NOT IN (SELECT value FROM json_each(?))",
	List:        jsonList,
	InsertOrder: "rowid",
	// Through the primary key, per transaction due: the set of every unleased payment would be
	// a scan of the table.
	DueTxnLease:     "(SELECT work_lease_until FROM payments p WHERE p.payment_id = t.payment_id) <= ?",
	AutoCaptureFrom: "payments INDEXED BY payments_auth_expiry",
	CardLastFour:    "json_extract(card, '$.lastFour')",
}

// classify names an error by SQLite's extended result code.
func classify(err error) error {
	var se *driver.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.ErrUnique
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_TRIGGER, sqlite3.SQLITE_CONSTRAINT_NOTNULL,
		sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.ErrConstraint
	}
	return nil
}

// jsonList is a list parameter for json_each: a JSON array, "[]" for none.
func jsonList(v any) (any, error) {
	switch l := v.(type) {
	case []string:
		if l == nil {
			return "[]", nil
		}
	case []int64:
		if l == nil {
			return "[]", nil
		}
	default:
		return nil, fmt.Errorf("list parameter of type %T", v)
	}
	b, err := json.Marshal(v)
	return string(b), err
}
