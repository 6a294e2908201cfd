package postgres_test

import (
	"context"
	"testing"

	"github.com/cardgate/cardgate/internal/store/postgres"
	"github.com/cardgate/cardgate/internal/store/postgres/pgtest"
	"github.com/cardgate/cardgate/internal/store/storetest"
)

// BenchmarkConsoleSearch is the console's payment list on a million stored payments, on
// PostgreSQL ($CARDGATE_TEST_POSTGRES):
//
//	go test ./internal/store/postgres -run '^$' -bench ConsoleSearch -benchtime 200x -timeout 30m
func BenchmarkConsoleSearch(b *testing.B) {
	s, err := postgres.Open(context.Background(), pgtest.FreshSchema(b, "cg_bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchConsoleSearch(b, s, storetest.ConsoleBenchRows())
}
