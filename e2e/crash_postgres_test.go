package e2e

import (
	"testing"

	"github.com/cardgate/cardgate/internal/store/postgres/pgtest"
)

// freshSchema is an empty PostgreSQL schema for one test (pgtest.FreshSchema): a test that
// cannot reach the server fails rather than skips, so a green run always means it ran.
func freshSchema(t testing.TB) string { return pgtest.FreshSchema(t, "cg_e2e") }

// TestCrashPostgres: three instances started at once on one empty PostgreSQL database share
// 2,000 payments with captures and refunds while a random one is SIGKILLed and restarted; every
// success is stored and notified, nothing is authorized or captured twice, and the payments whose
// authorization was in flight on a killed instance are final within a minute of its lease.
func TestCrashPostgres(t *testing.T) {
	crashRun(t, crashConfig{instances: 3, storeArgs: []string{"--database", freshSchema(t), "--data", t.TempDir()}, payments: 2000, kills: 6, workers: 8, holdEvery: 20, failoverEvery: 10})
}
