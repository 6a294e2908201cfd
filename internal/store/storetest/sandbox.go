package storetest

import (
	"fmt"
	"github.com/cardgate/cardgate/internal/calllog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/dashboard"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/sandbox"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/protocol"
)

// testForces: a forced result is used exactly as many times as set, by concurrent callers
// together; a set replaces the one before; 0 clears; merchants never use each other's.
func testForces(t *testing.T, s store.Store) {
	m, other := Sandbox(t, s), Other(t, s, "OTHER_FORCE")
	if _, ok, err := s.TakeForce(ctx, m.ClientID, sandbox.Pay); err != nil || ok {
		t.Fatalf("no force set: ok %v, %v", ok, err)
	}
	if err := s.SetForce(ctx, m.ClientID, sandbox.Force{Operation: sandbox.Pay, Code: protocol.CodeDoNotHonor, Remaining: 99}, T0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetForce(ctx, m.ClientID, sandbox.Force{Operation: sandbox.Pay, Code: protocol.CodeRiskReject, Remaining: 5}, T0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetForce(ctx, m.ClientID, sandbox.Force{Operation: sandbox.Refund, Code: protocol.CodeProcessFail, Remaining: 1}, T0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Forces(ctx, m.ClientID)
	same(t, "forces", fmt.Sprint(got, err), fmt.Sprint([]sandbox.Force{{Operation: sandbox.Pay, Code: protocol.CodeRiskReject, Remaining: 5},
		{Operation: sandbox.Refund, Code: protocol.CodeProcessFail, Remaining: 1}}, nil))
	if _, ok, _ := s.TakeForce(ctx, other.ClientID, sandbox.Pay); ok {
		t.Fatal("another merchant used the force")
	}
	var taken atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, ok, err := s.TakeForce(ctx, m.ClientID, sandbox.Pay)
			if err != nil {
				t.Error(err)
			}
			if ok {
				taken.Add(1)
				if code != protocol.CodeRiskReject {
					t.Errorf("forced code %s, want the replacing RISK_REJECT", code)
				}
			}
		}()
	}
	wg.Wait()
	same(t, "answers taken by 16 concurrent callers of a 5-answer force", taken.Load(), int64(5))
	if err := s.SetForce(ctx, m.ClientID, sandbox.Force{Operation: sandbox.Refund}, T0); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.TakeForce(ctx, m.ClientID, sandbox.Refund); ok {
		t.Fatal("a cleared force answered")
	}
	if got, _ := s.Forces(ctx, m.ClientID); len(got) != 0 {
		t.Fatalf("forces after use and clear: %v", got)
	}
}

// testResetMerchant: a reset removes every row of a merchant's test data from every table of the
// schema (found by its columns, so a table added later without a reset statement fails here),
// and nothing of another merchant's, nor the merchant itself, its keys or its routing rules.
func testResetMerchant(t *testing.T, s store.Store) {
	m, other := Sandbox(t, s), Other(t, s, "OTHER_RESET")
	seed := func(mid, prefix string) {
		t.Helper()
		mm := m
		if mid == other.ClientID {
			mm = other
		}
		msg := Notice(t, s, mm, prefix+"P1", T0)
		if err := s.RecordAttempt(ctx, msg, notify.Attempt{OutboxID: msg.ID, Attempt: 1, At: T0, HTTPStatus: 500}); err != nil {
			t.Fatal(err)
		}
		p, err := s.PaymentByID(ctx, mid, prefix+"P1")
		if err != nil {
			t.Fatal(err)
		}
		next := p
		next.Capture = payments.CaptureProcessing
		c := change(p, next, payments.OpCapture)
		c.NewTxn = newTxn(p, prefix+"T1", payments.TxnCapture, prefix+"C1", payments.TxnProcessing, 4200, T0.Add(time.Minute))
		mustApply(t, s, c)
		tp := buyerPayment(mm, prefix+"P2")
		mustCreate(t, s, tp)
		mustApply(t, s, approveSaving(tp, newToken(mm, prefix+"TOK", "buyer-1", "fp-"+prefix)))
		for _, ref := range []string{prefix + "P1", "ADYEN/" + prefix + "P2"} {
			if err := s.SimulatorLedger().RecordAuth(ctx, ref, []byte(`{"Outcome":1,}`), T0); err != nil {
				t.Fatal(err)
			}
		}
		cp := CapturedPayment(t, s, mm, prefix+"P3", 0)
		if err := s.OpenDispute(ctx, openChange(newDispute(cp, prefix+"D1", 100))); err != nil {
			t.Fatal(err)
		}
		if err := s.SetForce(ctx, mid, sandbox.Force{Operation: sandbox.Capture, Code: protocol.CodeProcessFail, Remaining: 2}, T0); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRoutingRules(ctx, mid, []byte(`{"rules":[]}`), T0); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordCalls(ctx, []calllog.Call{{MerchantID: mid, At: T0, RequestID: prefix + "R1", Path: "/ams/api/v1/payments/pay",
			ResultCode: "SUCCESS", ResultStatus: "S", Latency: time.Millisecond}}); err != nil {
			t.Fatal(err)
		}
		mu, _ := consoleUsers(t, s, mm, prefix)
		if err := s.CreateSession(ctx, dashboard.Session{TokenHash: prefix + "S", UserID: mu.ID, CSRF: "c", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordLoginFailure(ctx, mu.Username, "10.0.0.1", T0); err != nil {
			t.Fatal(err)
		}
	}
	seed(m.ClientID, "A")
	seed(other.ClientID, "B")
	before := tableRows(t, s)

	deleted, err := s.ResetMerchant(ctx, m.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if deleted["payments"] != 3 || deleted["disputes"] != 1 || deleted["outbox"] == 0 || deleted["card_tokens"] != 1 || deleted["sim_acquirer_ledger"] != 2 {
		t.Fatalf("deleted %v, want both payments, their notifications, the token and both ledger rows", deleted)
	}
	after := tableRows(t, s)
	for table, n := range before {
		// The gateway's and the merchants' own configuration stays, and so do the console's users,
		// their sessions and the sign-in throttle: people and their access, not test data, so a
		// developer who resets the sandbox from the console is still signed in afterwards.
		if kept := slices.Contains([]string{"merchants", "merchant_keys", "routing_rules", "gateway_keys", "sandbox_vault_keys",
			"sandbox_clock", "goose_db_version", "config_generation", "dashboard_users", "dashboard_sessions", "dashboard_login_failures"}, table); kept {
			if after[table] != n {
				t.Errorf("%s: %d rows before the reset, %d after; a reset keeps it", table, n, after[table])
			}
			continue
		}
		if n == 0 {
			t.Errorf("table %s had no rows before the reset: the test does not cover it", table)
		}
		// Exactly the other merchant's half is left of every table of test data.
		if after[table] == 0 || after[table] >= n {
			t.Errorf("%s: %d rows before the reset, %d after; want the other merchant's rows only", table, n, after[table])
		}
	}
	if _, err := s.PaymentByID(ctx, other.ClientID, "BP1"); err != nil {
		t.Fatalf("the other merchant's payment: %v", err)
	}
	if _, err := s.MerchantByClientID(ctx, m.ClientID); err != nil {
		t.Fatalf("the merchant after its reset: %v", err)
	}
	if raw, _, _ := s.RoutingRules(ctx, m.ClientID); string(raw) != `{"rules":[]}` {
		t.Fatalf("routing rules after the reset: %q", raw)
	}
	if _, ok, _ := s.TakeForce(ctx, other.ClientID, sandbox.Capture); !ok {
		t.Fatal("the other merchant's force is gone")
	}
}

// tableRows counts the rows of every table of the store's schema.
func tableRows(t *testing.T, s store.Store) map[string]int {
	t.Helper()
	raw := txStore(t, s).Raw()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if _, err := raw.Exec(ctx, `SELECT 1 FROM sqlite_master LIMIT 0`); err != nil {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rs, err := raw.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rs.Next() {
		var name string
		if err := rs.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rs.Close()
	out := map[string]int{}
	for _, table := range tables {
		var n int
		if err := raw.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// testCallLog: a merchant's calls come back in order after a cursor, another merchant's never;
// a prune keeps what is recent.
func testCallLog(t *testing.T, s store.Store) {
	m, other := Sandbox(t, s), Other(t, s, "OTHER_CALLS")
	var calls []calllog.Call
	for i := range 5 {
		calls = append(calls, calllog.Call{MerchantID: m.ClientID, At: T0.Add(time.Duration(i) * time.Hour), RequestID: fmt.Sprintf("R%d", i),
			Path: "/ams/api/v1/payments/pay", ResultCode: "SUCCESS", ResultStatus: "S", Latency: time.Duration(i) * time.Millisecond})
	}
	calls = append(calls, calllog.Call{MerchantID: other.ClientID, At: T0, RequestID: "X", Path: "/p", ResultCode: "F", ResultStatus: "F"},
		calllog.Call{MerchantID: "bad\x00id", At: T0, RequestID: "N", Path: "/p", ResultCode: "F", ResultStatus: "F"})
	if err := s.RecordCalls(ctx, calls); err != nil {
		t.Fatal(err)
	}
	first, err := s.CallsAfter(ctx, m.ClientID, 0, 3)
	if err != nil || len(first) != 3 || first[0].RequestID != "R0" || first[2].RequestID != "R2" || first[1].Latency != time.Millisecond || !first[1].At.Equal(T0.Add(time.Hour)) {
		t.Fatalf("first page: %+v %v", first, err)
	}
	rest, err := s.CallsAfter(ctx, m.ClientID, first[2].ID, 10)
	if err != nil || len(rest) != 2 || rest[0].RequestID != "R3" {
		t.Fatalf("after the cursor: %+v %v", rest, err)
	}
	if latest, err := s.CallsAfter(ctx, m.ClientID, -1, 2); err != nil || len(latest) != 2 || latest[0].RequestID != "R3" || latest[1].RequestID != "R4" {
		t.Fatalf("the latest two: %+v %v", latest, err)
	}
	if err := s.PruneCalls(ctx, T0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	left, _ := s.CallsAfter(ctx, m.ClientID, 0, 10)
	if len(left) != 2 || left[0].RequestID != "R3" {
		t.Fatalf("after the prune: %+v", left)
	}
	if mine, _ := s.CallsAfter(ctx, other.ClientID, 0, 10); len(mine) != 0 {
		t.Fatalf("the other merchant's call of T0 outlived the prune: %+v", mine)
	}
}
