package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
)

// groupStore opens a store with a table of its own for the group-commit tests, and a second,
// independent connection to the same file: what it reads is on disk (in the WAL), not in the
// store's open transaction.
func groupStore(t *testing.T) (*sqlite.Store, *sql.DB) {
	t.Helper()
	ctx := t.Context()
	s, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Raw().Exec(ctx, `CREATE TABLE grouped (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", "file:"+s.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return s, other
}

func insert(id int) func(tx sqlstore.Conn) error {
	return func(tx sqlstore.Conn) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO grouped (id) VALUES (?)`, id)
		return err
	}
}

func committed(t *testing.T, other *sql.DB, id int) bool {
	t.Helper()
	var n int
	if err := other.QueryRow(`SELECT count(*) FROM grouped WHERE id = ?`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// waitFor returns once n transactions wait to join a group (they queue behind the one running).
func waitFor(t *testing.T, s *sqlite.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.GroupWaiting() < n {
		if time.Now().After(deadline) {
			t.Errorf("%d transactions waiting after 10 s, want %d", s.GroupWaiting(), n)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// holdGroup starts a transaction that inserts id once release is called, and returns when it
// runs: the transactions started meanwhile queue behind it, to join its group.
func holdGroup(t *testing.T, s *sqlite.Store, wg *sync.WaitGroup, id int) (release func()) {
	t.Helper()
	running, done := make(chan struct{}), make(chan struct{})
	wg.Go(func() {
		if err := s.InTx(t.Context(), func(tx sqlstore.Conn) error {
			close(running)
			<-done
			return insert(id)(tx)
		}); err != nil {
			t.Errorf("first transaction: %v", err)
		}
	})
	<-running
	return func() { close(done) }
}

// TestGroupCommitJoinsWaitingTransactions: transactions that queue behind a running one join its
// group and are committed by one commit; each InTx returns only once its rows are on disk.
func TestGroupCommitJoinsWaitingTransactions(t *testing.T) {
	s, other := groupStore(t)
	groups0, members0 := s.GroupStats()
	const n = 8
	var wg sync.WaitGroup
	running := make(chan struct{})
	errs := make([]error, n)
	wg.Go(func() {
		errs[0] = s.InTx(t.Context(), func(tx sqlstore.Conn) error {
			close(running)
			waitFor(t, s, n-1)
			return insert(0)(tx)
		})
	})
	<-running
	for i := 1; i < n; i++ {
		wg.Go(func() {
			errs[i] = s.InTx(t.Context(), insert(i))
			// Returned means durable: another connection reads it.
			if errs[i] == nil && !committed(t, other, i) {
				t.Errorf("transaction %d returned before its row was committed", i)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
		if !committed(t, other, i) {
			t.Errorf("row %d not committed", i)
		}
	}
	if groups, members := s.GroupStats(); groups-groups0 != 1 || members-members0 != n {
		t.Errorf("%d groups of %d transactions, want 1 of %d", groups, members, n)
	}
}

// TestGroupCommitMemberFailureKeepsOthers: a transaction that fails (an error of fn, a refused
// statement, a panic) leaves nothing of its own, and the others of its group, before and after
// it, are committed.
func TestGroupCommitMemberFailureKeepsOthers(t *testing.T) {
	s, other := groupStore(t)
	failure := errors.New("fn failed")
	cases := []struct {
		name string
		fn   func(tx sqlstore.Conn) error
		want func(err error, panicked any) bool
		kept bool
	}{
		{"commits", insert(1), func(err error, _ any) bool { return err == nil }, true},
		{"fn fails after writing", func(tx sqlstore.Conn) error {
			if err := insert(2)(tx); err != nil {
				return err
			}
			return failure
		}, func(err error, _ any) bool { return errors.Is(err, failure) }, false},
		{"commits after a failure", insert(3), func(err error, _ any) bool { return err == nil }, true},
		{"statement refused", func(tx sqlstore.Conn) error {
			if err := insert(4)(tx); err != nil {
				return err
			}
			return insert(100)(tx) // the first transaction's row
		}, func(err error, _ any) bool { return errors.Is(err, sqlstore.ErrUnique) }, false},
		{"panics after writing", func(tx sqlstore.Conn) error {
			_ = insert(5)(tx)
			panic("member panicked")
		}, func(_ error, p any) bool { return p == "member panicked" }, false},
		{"commits last", insert(6), func(err error, _ any) bool { return err == nil }, true},
	}
	// The cases queue behind a transaction that holds its group open until all of them wait, and
	// then run in whatever order they are let in.
	var wg sync.WaitGroup
	release := holdGroup(t, s, &wg, 100)
	for i, tc := range cases {
		wg.Go(func() {
			var err error
			var panicked any
			func() {
				defer func() { panicked = recover() }()
				err = s.InTx(t.Context(), tc.fn)
			}()
			if !tc.want(err, panicked) {
				t.Errorf("%s: InTx returned %v (panic %v)", tc.name, err, panicked)
			}
		})
		waitFor(t, s, i+1)
	}
	release()
	wg.Wait()
	for i, tc := range cases {
		if got := committed(t, other, i+1); got != tc.kept {
			t.Errorf("%s: row committed %t, want %t", tc.name, got, tc.kept)
		}
	}
	if !committed(t, other, 100) {
		t.Error("the first transaction's row was not committed")
	}
}

// TestGroupCommitUnderLoad: many writers at once, some failing; every committed transaction's row
// is there and no failed one's, whatever groups they fell into. Run with -race.
func TestGroupCommitUnderLoad(t *testing.T) {
	s, other := groupStore(t)
	groups0, members0 := s.GroupStats()
	const writers, each = 16, 40
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		kept = map[int]bool{}
	)
	for w := range writers {
		wg.Go(func() {
			for k := range each {
				id := w*each + k
				fail := id%7 == 3
				err := s.InTx(t.Context(), func(tx sqlstore.Conn) error {
					if err := insert(id)(tx); err != nil {
						return err
					}
					if fail {
						return fmt.Errorf("writer %d fails %d", w, id)
					}
					return nil
				})
				if (err != nil) != fail {
					t.Errorf("transaction %d: %v", id, err)
				}
				mu.Lock()
				kept[id] = err == nil
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	want := 0
	for id, ok := range kept {
		if committed(t, other, id) != ok {
			t.Errorf("row %d committed %t, want %t", id, !ok, ok)
		}
		if ok {
			want++
		}
	}
	groups, members := s.GroupStats()
	groups, members = groups-groups0, members-members0
	if members != int64(want) {
		t.Errorf("groups committed %d transactions, want %d", members, want)
	}
	t.Logf("%d transactions in %d groups", members, groups)
}

// TestGroupCommitCancelledMemberLeavesGroup: a transaction whose context ends before its commit
// is rolled back (as database/sql does) and the group it was in commits the others.
func TestGroupCommitCancelledMemberLeavesGroup(t *testing.T) {
	s, other := groupStore(t)
	var wg sync.WaitGroup
	release := holdGroup(t, s, &wg, 1)
	wg.Go(func() {
		ctx, cancel := context.WithCancel(t.Context())
		err := s.InTx(ctx, func(tx sqlstore.Conn) error {
			err := insert(2)(tx)
			cancel()
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled transaction: %v, want context.Canceled", err)
		}
	})
	waitFor(t, s, 1)
	wg.Go(func() {
		if err := s.InTx(t.Context(), insert(3)); err != nil {
			t.Errorf("third transaction: %v", err)
		}
	})
	waitFor(t, s, 2)
	release()
	wg.Wait()
	for id, want := range map[int]bool{1: true, 2: false, 3: true} {
		if got := committed(t, other, id); got != want {
			t.Errorf("row %d committed %t, want %t", id, got, want)
		}
	}
}

// TestGroupCommitRawWritesJoin: a write asked for outside a transaction (an Exec, an UPDATE …
// RETURNING through QueryRow, with or without a row) queues with the transactions and shares
// their group's commit; a refused one leaves the others alone.
func TestGroupCommitRawWritesJoin(t *testing.T) {
	s, other := groupStore(t)
	groups0, members0 := s.GroupStats()
	ctx := t.Context()
	var wg sync.WaitGroup
	release := holdGroup(t, s, &wg, 1)
	steps := []func(){
		func() {
			if _, err := s.Raw().Exec(ctx, `INSERT INTO grouped (id) VALUES (2)`); err != nil {
				t.Errorf("raw insert: %v", err)
			}
		},
		func() {
			var id int
			err := s.Raw().QueryRow(ctx, `UPDATE grouped SET id = id WHERE id = -1 RETURNING id`).Scan(&id)
			if !errors.Is(err, sql.ErrNoRows) {
				t.Errorf("UPDATE … RETURNING of no row: %v, want sql.ErrNoRows", err)
			}
		},
		func() {
			var id int
			if err := s.Raw().QueryRow(ctx, `INSERT INTO grouped (id) VALUES (3) RETURNING id`).Scan(&id); err != nil || id != 3 {
				t.Errorf("INSERT … RETURNING: %d, %v", id, err)
			}
		},
	}
	for i, step := range steps {
		wg.Go(step)
		waitFor(t, s, i+1)
	}
	release()
	wg.Wait()
	for id := 1; id <= 3; id++ {
		if !committed(t, other, id) {
			t.Errorf("row %d not committed", id)
		}
	}
	if groups, members := s.GroupStats(); groups-groups0 != 1 || members-members0 != 4 {
		t.Errorf("%d groups of %d, want 1 of 4", groups-groups0, members-members0)
	}
}

// TestGroupSavepointsStayInMemory: the savepoints of a group's members journal the pages they
// change; the journal stays in memory (temp_store), where a temporary file would cost a write
// system call for every page (docs/performance.md "Group commit on SQLite"). Each member here
// changes far more than the 64 KiB SQLite keeps in memory before it spills to a file, and looks
// for that file while its group's transaction is open (SQLite closes it when the group ends).
func TestGroupSavepointsStayInMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd to see the process's open files")
	}
	s, _ := groupStore(t)
	ctx := t.Context()
	if _, err := s.Raw().Exec(ctx, `CREATE TABLE wide (id INTEGER PRIMARY KEY, body BLOB)`); err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		if _, err := s.Raw().Exec(ctx, `INSERT INTO wide (id, body) VALUES (?, zeroblob(3000))`, i); err != nil {
			t.Fatal(err)
		}
	}
	groups0, members0 := s.GroupStats()
	var wg sync.WaitGroup
	release := holdGroup(t, s, &wg, 0)
	const members = 4
	for m := range members {
		wg.Go(func() {
			if err := s.InTx(ctx, func(tx sqlstore.Conn) error {
				if _, err := tx.Exec(ctx, `UPDATE wide SET body = randomblob(3000) WHERE id % ? = 0`, m+1); err != nil {
					return err
				}
				if f := sqliteTempFiles(t); len(f) > 0 {
					t.Errorf("member %d: SQLite journals in a temporary file: %v", m, f)
				}
				return nil
			}); err != nil {
				t.Errorf("member %d: %v", m, err)
			}
		})
	}
	waitFor(t, s, members)
	release()
	wg.Wait()
	if groups, n := s.GroupStats(); groups-groups0 != 1 || n-members0 != members+1 {
		t.Fatalf("%d transactions in %d groups, want %d in one", n-members0, groups-groups0, members+1)
	}
}

// sqliteTempFiles lists the process's open files that have no name: SQLite's temporary files,
// which it opens unnamed (O_TMPFILE) or unlinks at once, so that they vanish with the process.
func sqliteTempFiles(t *testing.T) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasSuffix(target, " (deleted)") {
			found = append(found, target)
		}
	}
	return found
}
