package sqlite

import "database/sql"

// DB is the store's database/sql handle, for the statement cache's test, which must drive the
// cache through database/sql itself; production code reaches the database only through the
// store (sqlstore.Conn).
func (s *Store) DB() *sql.DB { return s.db }
