package sqlite_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/store/sqlite"
)

// TestStatementCache: statements run through the cache behave as uncached ones: a statement
// reused after a constraint error works, the same query nested inside its own open rows gets a
// statement of its own instead of resetting the outer one, and a rolled-back insert is gone.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE cache_t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const ins = `INSERT INTO cache_t (k, v) VALUES (?, ?)`
	for k := range 3 {
		if _, err := db.ExecContext(ctx, ins, k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, ins, 1, "dup"); err == nil || !strings.Contains(err.Error(), "UNIQUE constraint failed") {
		t.Fatalf("duplicate key through the cached statement: %v, want a UNIQUE error", err)
	}
	if _, err := db.ExecContext(ctx, ins, 3, "after the error"); err != nil {
		t.Fatalf("cached statement after an error: %v", err)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	const sel = `SELECT k FROM cache_t WHERE k >= ? ORDER BY k`
	outer, err := tx.QueryContext(ctx, sel, 0)
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	for outer.Next() {
		var k int
		if err := outer.Scan(&k); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, k)
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (`+sel+`)`, k).Scan(&n); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.QueryContext(ctx, sel, k) // the same text as the open outer query
		if err != nil {
			t.Fatal(err)
		}
		inner.Close()
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	if len(seen) != 4 {
		t.Fatalf("outer query saw %v, want 4 rows: the nested query reset it", seen)
	}
	if _, err := tx.ExecContext(ctx, ins, 10, "rolled back"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM cache_t WHERE k = 10`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rolled-back row: count %d, %v", n, err)
	}
}
