package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
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

// TestOpenDirectoryWithURICharacters: the database file is the one in the directory asked for,
// even when the directory's name holds what SQLite's URI syntax reads as a query (?), a fragment
// (#) or an escape (%); go test names a fuzz seed's or a repeated subtest's directory with '#'.
func TestOpenDirectoryWithURICharacters(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	for _, name := range []string{"run#1", "run#2", "what?x=1", "pct%41"} {
		dir := filepath.Join(root, name)
		s, err := sqlite.Open(ctx, dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Each directory gets its own database: a shared one would already hold the merchant.
		if err := s.CreateMerchant(ctx, merchant.Merchant{ClientID: "m", Name: "m", CreatedAt: storetest.T0}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		s.Close()
		if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
			t.Errorf("%s: the database is not in its directory: %v", name, err)
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			t.Errorf("file %s written beside the data directories", e.Name())
		}
	}
}

// TestProcessesSeeConfigurationChanges: two handles on one file (serve and `cardgate merchant
// set`, say) cache merchants and routing rules; a change through one (or by plain SQL) is seen
// by the other within a second.
func TestProcessesSeeConfigurationChanges(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	storetest.ConfigSeenEverywhere(t, a, b, func(q string, args ...any) {
		if _, err := a.Raw().Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	})
}
