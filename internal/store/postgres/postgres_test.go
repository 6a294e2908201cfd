package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/postgres"
	"github.com/cardgate/cardgate/internal/store/postgres/pgtest"
	"github.com/cardgate/cardgate/internal/store/storetest"
)

var _ store.Store = (*postgres.Store)(nil)

// TestMigrationsRunOnceWhenInstancesStartAtOnce: three instances open one empty schema at once;
// the advisory lock serializes the migrations and every instance ends up on the same schema.
func TestMigrationsRunOnceWhenInstancesStartAtOnce(t *testing.T) {
	u := freshSchema(t)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		stores []*postgres.Store
	)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), u)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			stores = append(stores, s)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, s := range stores {
		t.Cleanup(func() { s.Close() })
	}
	if t.Failed() {
		return
	}
	var applied int
	if err := stores[0].Raw().QueryRow(context.Background(), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(files) {
		t.Fatalf("migrations recorded %d times, want %d (once each)", applied, len(files))
	}
	// Every instance works on the one schema.
	m := storetest.Sandbox(t, stores[0])
	for _, s := range stores {
		if got, err := s.SandboxMerchant(context.Background()); err != nil || got.ClientID != m.ClientID {
			t.Fatalf("instance sees %v (%v)", got.ClientID, err)
		}
	}
	// A later start migrates nothing.
	s := openAt(t, u)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestInstancesShareTheOutbox: two stores (two pools, as two instances) on one schema, racing
// to claim notifications, never lease one message twice.
func TestInstancesShareTheOutbox(t *testing.T) {
	u := freshSchema(t)
	a, b := openAt(t, u), openAt(t, u)
	storetest.ConcurrentClaims(t, a, b)
}

// TestInstancesShareTheDueWork: two instances claiming the same due work (FOR UPDATE SKIP
// LOCKED under a lease) never hold one payment's work at once.
func TestInstancesShareTheDueWork(t *testing.T) {
	u := freshSchema(t)
	a, b := openAt(t, u), openAt(t, u)
	storetest.ConcurrentWorkClaims(t, a, b)
}

// TestInstancesCreateOnePayment: one paymentRequestId sent to two instances at once authorizes
// once.
func TestInstancesCreateOnePayment(t *testing.T) {
	u := freshSchema(t)
	a, b := openAt(t, u), openAt(t, u)
	m := storetest.Sandbox(t, a)
	var (
		wg   sync.WaitGroup
		errs = make([]error, 20)
	)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			p := storetest.NewPayment(m, fmt.Sprintf("P%02d", i), "R-SAME")
			errs[i] = s.CreatePayment(context.Background(), p, payments.Event{PaymentID: p.ID, Op: payments.OpCreate, To: p.State, At: p.CreatedAt})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d instances created the payment: %v", ok, errs)
	}
}

// TestDescribeHidesThePassword: the banner and the logs never show the password.
func TestDescribeHidesThePassword(t *testing.T) {
	u, err := url.Parse(freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "s3cret-Pw") // the server trusts; the password is only carried
	s := openAt(t, u.String())
	d := s.Describe()
	if strings.Contains(d, "s3cret-Pw") || !strings.Contains(d, "127.0.0.1") || !strings.Contains(d, "cg_test_") {
		t.Fatalf("Describe: %q", d)
	}
	if _, err := postgres.Open(context.Background(), "postgres://u:s3cret-Pw@127.0.0.1:1/x?connect_timeout=1"); err == nil || strings.Contains(err.Error(), "s3cret-Pw") {
		t.Fatalf("open error: %v", err)
	}
}

// TestInstancesSeeConfigurationChanges: two instances on one schema cache merchants and routing
// rules; a change through one (or by plain SQL) is seen by the other within a second.
func TestInstancesSeeConfigurationChanges(t *testing.T) {
	u := freshSchema(t)
	a, b := openAt(t, u), openAt(t, u)
	storetest.ConfigSeenEverywhere(t, a, b, func(q string, args ...any) {
		if _, err := a.Raw().Exec(context.Background(), q, args...); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPayWritesRoundTrips counts, on the wire, what each write of a pay costs: every guarded
// change with its rows, a create, a batch of notification attempts is one round trip (BEGIN
// and COMMIT included), a claim one, a refused change two (its ROLLBACK); and every statement
// is prepared once per connection: a second pay parses nothing, and pg_prepared_statements
// holds each form of the payment UPDATE once, executed by both pays. (A failed batch makes pgx forget the
// statements it held, so the next ones on that connection prepare them again: two more round
// trips, once, after a conflict or a duplicate; the claim after the stale apply shows it.)
func TestPayWritesRoundTrips(t *testing.T) {
	var w pgtest.Wire
	ctx := context.Background()
	s, err := postgres.OpenWith(ctx, freshSchema(t)+"&pool_max_conns=1", func(c *pgxpool.Config) {
		c.ConnConfig.DialFunc = w.Dial
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	m := storetest.Sandbox(t, s)
	storetest.PayWrites(t, s, m, "P-WARM", false, func(string) {}) // the connection prepares the statements
	want := map[string]int{"create": 1, "approve": 1, "reserve capture": 1, "capture result": 1, "stale apply": 2,
		"claim notifications": 2, "record attempts": 2}
	wantParses := map[string]int{"record attempts": 2} // BEGIN and COMMIT, forgotten with the failed batch: one round trip more
	w.Reset()
	total := 0
	storetest.PayWrites(t, s, m, "P-COUNTED", true, func(name string) {
		c := w.Counts()
		t.Logf("%-20s %d round trips, %d statements parsed", name, c.RoundTrips, c.Parses)
		total += c.RoundTrips
		if c.RoundTrips != want[name] || c.Parses != wantParses[name] {
			t.Errorf("%s: %d round trips and %d statements parsed, want %d and %d", name, c.RoundTrips, c.Parses, want[name], wantParses[name])
		}
		if name == "capture result" {
			preparedOnce(t, s)
		}
		w.Reset()
	})
	t.Logf("total %d round trips", total)
}

// preparedOnce: the connection (the pool's only one) has prepared each form of the guarded
// payment UPDATE once and run it for both pays. A change writes only the columns it moves
// (Change.Prev), so approve, reserve and capture result are three statements, two runs each.
func preparedOnce(t *testing.T, s *postgres.Store) {
	t.Helper()
	rs, err := s.Raw().Query(context.Background(), `SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements
		WHERE statement LIKE '%UPDATE payments SET%' AND statement NOT LIKE '%pg_prepared_statements%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	n := 0
	for rs.Next() {
		var (
			stmt  string
			execs int64
		)
		if err := rs.Scan(&stmt, &execs); err != nil {
			t.Fatal(err)
		}
		n++
		t.Logf("prepared once, executed %d times: %.70s…", execs, stmt)
		if execs != 2 { // the same step of each pay
			t.Errorf("a payment UPDATE was executed %d times as a prepared statement, want 2", execs)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("%d forms of the payment UPDATE are prepared on the connection, want 3 (approve, reserve, capture result)", n)
	}
}
