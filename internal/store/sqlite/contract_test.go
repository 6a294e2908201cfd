package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/store/storetest"
)

// counted adds the row counts the contract suite reads.
type counted struct{ *sqlite.Store }

func (c counted) CountRows(ctx context.Context, table string) (int, error) {
	var n int
	err := c.Raw().QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %q`, table)).Scan(&n)
	return n, err
}

func open(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return counted{s}
}

func TestContract(t *testing.T) { storetest.Run(t, open) }
