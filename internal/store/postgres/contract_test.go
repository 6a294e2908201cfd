package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/postgres"
	"github.com/cardgate/cardgate/internal/store/postgres/pgtest"
	"github.com/cardgate/cardgate/internal/store/storetest"
)

// freshSchema is an empty schema for one test, dropped when it ends (pgtest).
func freshSchema(t *testing.T) string { return pgtest.FreshSchema(t, "cg_test") }

// counted adds the row counts the contract suite reads.
type counted struct{ *postgres.Store }

func (c counted) CountRows(ctx context.Context, table string) (int, error) {
	var n int
	err := c.Raw().QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s`, pgx.Identifier{table}.Sanitize())).Scan(&n)
	return n, err
}

func openAt(t *testing.T, url string) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T) store.Store { return counted{openAt(t, freshSchema(t))} }

func TestContract(t *testing.T) { storetest.Run(t, open) }
