package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresURL is the server the PostgreSQL tests use. .ci/run starts it; a test that cannot reach
// it fails rather than skips, so a green run always means they ran.
func postgresURL() string {
	if u := os.Getenv("CARDGATE_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// freshSchema creates an empty schema for one test and returns a URL whose connections use it.
func freshSchema(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, postgresURL())
	if err != nil {
		t.Fatalf("PostgreSQL at %s is required (start it with pg_ctlcluster): %v", postgresURL(), err)
	}
	defer conn.Close(context.Background())
	schema := fmt.Sprintf("cg_e2e_%d_%d", time.Now().UnixNano(), rand.IntN(1_000_000))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, postgresURL())
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(postgresURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestCrashPostgres: three instances started at once on one empty PostgreSQL database share
// 2,000 payments with captures and refunds while a random one is SIGKILLed and restarted; every
// success is stored and notified, nothing is authorized or captured twice, and the payments whose
// authorization was in flight on a killed instance are final within a minute of its lease.
func TestCrashPostgres(t *testing.T) {
	crashRun(t, crashConfig{instances: 3, storeArgs: []string{"--database", freshSchema(t), "--data", t.TempDir()}, payments: 2000, kills: 6, workers: 8, holdEvery: 20})
}
