package sqlite_test

import (
	"context"
	"testing"

	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/store/storetest"
)

// BenchmarkConsoleSearch is the console's payment list on a million stored payments
// (docs/performance.md "The console's payment search"):
//
//	go test ./internal/store/sqlite -run '^$' -bench ConsoleSearch -benchtime 200x -timeout 30m
//
// CARDGATE_BENCH_ROWS changes the number of payments.
func BenchmarkConsoleSearch(b *testing.B) {
	s, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchConsoleSearch(b, s, storetest.ConsoleBenchRows())
}
