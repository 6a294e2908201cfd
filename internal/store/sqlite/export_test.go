package sqlite

import (
	"context"
	"database/sql"
)

// DB is the store's database/sql handle, for the statement cache's test, which must drive the
// cache through database/sql itself; production code reaches the database only through the
// store (sqlstore.Conn).
func (s *Store) DB() *sql.DB { return s.db }

// OpenUngrouped opens the store with each transaction committing alone, as before group commit,
// so that a benchmark can compare the two in one run.
func OpenUngrouped(ctx context.Context, dir string) (*Store, error) { return open(ctx, dir, false) }

// GroupWaiting is how many transactions wait to join a group.
func (s *Store) GroupWaiting() int { return int(s.group.waiting.Load()) }
