package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
	"github.com/cardgate/cardgate/internal/store/storetest"
)

// TestClassifyByCode: Dialect.Classify decides by SQLite's extended result code alone. Each
// case makes SQLite itself refuse a statement (on the store's own connection settings, foreign
// keys on), so the codes are the driver's real ones; an error that only reads like a violation
// is no violation.
func TestClassifyByCode(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB() // unclassified: the driver's errors as they come
	for _, q := range []string{
		`CREATE TABLE cls_parent (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE cls (k TEXT PRIMARY KEY, u TEXT UNIQUE, n INTEGER NOT NULL CHECK (n >= 0), p INTEGER REFERENCES cls_parent (id))`,
		`CREATE TRIGGER cls_guard BEFORE UPDATE ON cls BEGIN SELECT RAISE(ABORT, 'cls invariant violated'); END`,
		`INSERT INTO cls VALUES ('a', 'ua', 1, NULL)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec := func(q string) error {
		_, err := db.ExecContext(ctx, q)
		return err
	}
	dup := exec(`INSERT INTO cls VALUES ('a', 'ub', 1, NULL)`)
	for _, tc := range []struct {
		name     string
		err      error
		wantCode int // 0: not a driver error
		want     error
	}{
		{"primary key", dup, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlstore.ErrUnique},
		{"unique index", exec(`INSERT INTO cls VALUES ('b', 'ua', 1, NULL)`), sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlstore.ErrUnique},
		{"check", exec(`INSERT INTO cls VALUES ('c', 'uc', -1, NULL)`), sqlite3.SQLITE_CONSTRAINT_CHECK, sqlstore.ErrConstraint},
		{"not null", exec(`INSERT INTO cls VALUES ('d', 'ud', NULL, NULL)`), sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlstore.ErrConstraint},
		{"foreign key", exec(`INSERT INTO cls VALUES ('e', 'ue', 1, 99)`), sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlstore.ErrConstraint},
		{"trigger RAISE(ABORT)", exec(`UPDATE cls SET n = 2`), sqlite3.SQLITE_CONSTRAINT_TRIGGER, sqlstore.ErrConstraint},
		{"wrapped", fmt.Errorf("insert: %w", dup), sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlstore.ErrUnique},
		{"syntax error", exec(`INSERT INTO cls VALUE ('f')`), sqlite3.SQLITE_ERROR, nil},
		{"no such table", exec(`INSERT INTO nowhere VALUES (1)`), sqlite3.SQLITE_ERROR, nil},
		{"the text of a unique violation, no code", errors.New("UNIQUE constraint failed: cls.k"), 0, nil},
		{"the text of a check violation, no code", errors.New("CHECK constraint failed: n >= 0"), 0, nil},
		{"no error", nil, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var se *driver.Error
			switch {
			case tc.wantCode == 0 && errors.As(tc.err, &se):
				t.Fatalf("%v is a driver error (code %d)", tc.err, se.Code())
			case tc.wantCode != 0 && (!errors.As(tc.err, &se) || se.Code() != tc.wantCode):
				t.Fatalf("%v: want a driver error of code %d", tc.err, tc.wantCode)
			}
			if got := sqlite.Dialect.Classify(tc.err); got != tc.want {
				t.Fatalf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestClassifiedErrorKeepsTheDriverError: the store's ErrUnique still has SQLite's own error
// under it, for a caller that needs the code or the message.
func TestClassifiedErrorKeepsTheDriverError(t *testing.T) {
	err := storetest.DuplicateKey(t, open(t))
	var se *driver.Error
	if !errors.Is(err, sqlstore.ErrUnique) || !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		t.Fatalf("duplicate client id: %v (%T), want ErrUnique over a driver error of code %d", err, err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	}
}
