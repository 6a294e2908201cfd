package sqlite_test

import (
	"context"
	"testing"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/store/storetest"
)

// The store contract (storetest.Run, from contract_test.go) covers the behaviour; what is left
// here is SQLite's own: a file on disk.

// TestReopenKeepsData: the store is a real file; a second Open migrates nothing and finds it all.
func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := merchant.EnsureSandbox(ctx, s, storetest.T0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.SandboxMerchant(ctx); err != nil || got.ClientID != m.ClientID {
		t.Fatalf("after reopen: %v", err)
	}
}
