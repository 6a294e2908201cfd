package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/dashboard"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
)

// consoleUsers makes a merchant user and an operator.
func consoleUsers(t *testing.T, s store.Store, m merchant.Merchant, prefix string) (dashboard.User, dashboard.User) {
	t.Helper()
	mu := dashboard.User{Username: prefix + "merchant", PasswordHash: "$argon2id$h1", Role: dashboard.RoleMerchant, ClientID: m.ClientID, CreatedAt: T0}
	op := dashboard.User{Username: prefix + "operator", PasswordHash: "$argon2id$h2", Role: dashboard.RoleOperator, CreatedAt: T0}
	for _, u := range []*dashboard.User{&mu, &op} {
		id, err := s.CreateUser(ctx, *u)
		if err != nil {
			t.Fatalf("create %s: %v", u.Username, err)
		}
		u.ID = id
	}
	return mu, op
}

// testConsoleUsersAndSessions: users round-trip and are unique by name; a merchant user needs a
// real merchant and an operator names none; a session is found by its hash until it expires or
// is deleted, and a new password ends every session of its user.
func testConsoleUsersAndSessions(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	mu, op := consoleUsers(t, s, m, "")
	if mu.ID == op.ID || mu.ID == 0 {
		t.Fatalf("ids %d %d", mu.ID, op.ID)
	}
	got, err := s.UserByName(ctx, "merchant")
	same(t, "merchant user", fmt.Sprint(got, err), fmt.Sprint(mu, nil))
	got, err = s.UserByID(ctx, op.ID)
	same(t, "operator", fmt.Sprint(got, err), fmt.Sprint(op, nil))
	_, err = s.UserByName(ctx, "nobody")
	wantErr(t, "unknown user", err, dashboard.ErrNoUser)
	_, err = s.UserByName(ctx, "bad\x00name")
	wantErr(t, "unstorable name", err, dashboard.ErrNoUser)
	_, err = s.CreateUser(ctx, dashboard.User{Username: "merchant", PasswordHash: "x", Role: dashboard.RoleOperator, CreatedAt: T0})
	wantErr(t, "taken username", err, dashboard.ErrUserExists)
	for _, bad := range []dashboard.User{
		{Username: "ghost", PasswordHash: "x", Role: dashboard.RoleMerchant, ClientID: "NO_SUCH_MERCHANT", CreatedAt: T0},
		{Username: "nomerchant", PasswordHash: "x", Role: dashboard.RoleMerchant, CreatedAt: T0},
		{Username: "opwithmerchant", PasswordHash: "x", Role: dashboard.RoleOperator, ClientID: m.ClientID, CreatedAt: T0},
		{Username: "king", PasswordHash: "x", Role: "king", CreatedAt: T0},
	} {
		if _, err := s.CreateUser(ctx, bad); err == nil {
			t.Errorf("user %+v was stored", bad)
		}
	}

	se := dashboard.Session{TokenHash: "hash-1", UserID: mu.ID, CSRF: "csrf-1", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}
	if err := s.CreateSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	gotS, gotU, err := s.SessionByHash(ctx, "hash-1", T0.Add(time.Minute))
	same(t, "session", fmt.Sprint(gotS, gotU, err), fmt.Sprint(se, mu, nil))
	_, _, err = s.SessionByHash(ctx, "hash-1", T0.Add(time.Hour))
	wantErr(t, "expired session", err, dashboard.ErrNoSession)
	_, _, err = s.SessionByHash(ctx, "hash-2", T0)
	wantErr(t, "unknown session", err, dashboard.ErrNoSession)
	// A new session sweeps the expired ones.
	if err := s.CreateSession(ctx, dashboard.Session{TokenHash: "hash-2", UserID: op.ID, CSRF: "c2", CreatedAt: T0.Add(2 * time.Hour), ExpiresAt: T0.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	same(t, "sessions after the sweep", count(t, s, "dashboard_sessions"), 1)
	if err := s.DeleteSession(ctx, "hash-2"); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.SessionByHash(ctx, "hash-2", T0.Add(2*time.Hour))
	wantErr(t, "deleted session", err, dashboard.ErrNoSession)

	for _, h := range []string{"a", "b"} {
		if err := s.CreateSession(ctx, dashboard.Session{TokenHash: h, UserID: mu.ID, CSRF: "c", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSession(ctx, dashboard.Session{TokenHash: "op", UserID: op.ID, CSRF: "c", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "merchant", "$argon2id$new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserByName(ctx, "merchant"); got.PasswordHash != "$argon2id$new" {
		t.Fatalf("hash after SetPassword: %q", got.PasswordHash)
	}
	for _, h := range []string{"a", "b"} {
		_, _, err = s.SessionByHash(ctx, h, T0)
		wantErr(t, "session after a new password", err, dashboard.ErrNoSession)
	}
	if _, _, err := s.SessionByHash(ctx, "op", T0); err != nil {
		t.Fatalf("another user's session after the password change: %v", err)
	}
	wantErr(t, "password of an unknown user", s.SetPassword(ctx, "nobody", "x"), dashboard.ErrNoUser)
}

// testConsoleLoginFailures: failures count per username and per address within the window, are
// forgotten per username, and a day-old failure goes with the next one.
func testConsoleLoginFailures(t *testing.T, s store.Store) {
	for i, f := range []struct{ user, ip string }{{"alice", "10.0.0.1"}, {"alice", "10.0.0.2"}, {"bob", "10.0.0.1"}, {"alice", "10.0.0.1"}} {
		if err := s.RecordLoginFailure(ctx, f.user, f.ip, T0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what, user, ip string, since time.Time, wantUser, wantIP int) {
		t.Helper()
		u, i, err := s.LoginFailures(ctx, user, ip, since)
		same(t, what, fmt.Sprint(u, i, err), fmt.Sprint(wantUser, wantIP, nil))
	}
	check("all", "alice", "10.0.0.1", T0, 3, 3)
	check("since the second minute", "alice", "10.0.0.1", T0.Add(2*time.Minute), 1, 2)
	check("unknown", "carol", "10.9.9.9", T0, 0, 0)
	// Text a guesser types is counted, not refused, whatever it holds.
	if err := s.RecordLoginFailure(ctx, "bad\x00\xffname", "10.0.0.3", T0.Add(5*time.Minute)); err != nil {
		t.Fatalf("odd username: %v", err)
	}
	if err := s.ClearLoginFailures(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	check("after clearing alice", "alice", "10.0.0.1", T0, 0, 1)
	if err := s.RecordLoginFailure(ctx, "dave", "10.0.0.4", T0.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("bob a day later", "bob", "10.0.0.4", T0, 0, 1)
}

// testConsoleSearchPayments: every filter, newest first, and keyset pages that together list
// every payment once in order; another merchant's payments never appear.
func testConsoleSearchPayments(t *testing.T, s store.Store) {
	m, other := Sandbox(t, s), Other(t, s, "OTHER_SEARCH")
	jpy, _ := money.Lookup("JPY")
	var all []payments.Payment
	for i := range 25 {
		p := NewPayment(m, fmt.Sprintf("P%02d", i), fmt.Sprintf("R%02d", i))
		// Pairs share a creation time, so the cursor's tie-break by payment id is exercised.
		p.CreatedAt = T0.Add(time.Duration(i/2) * time.Hour)
		p.UpdatedAt = p.CreatedAt
		p.Amount.Minor = int64(1000 * (i + 1))
		if i%5 == 0 {
			p.Card.LastFour, p.Card.Masked = "0002", "************0002"
		}
		if i == 7 {
			p.Amount = money.Amount{Currency: jpy, Minor: 500}
		}
		mustCreate(t, s, p)
		if i%3 == 0 {
			next := p
			next.State = payments.StateFail
			p = mustApply(t, s, change(p, next, payments.OpAuthDeclined))
		}
		all = append(all, p)
	}
	mustCreate(t, s, NewPayment(other, "OTHER1", "R00"))
	newestFirst := slices.Clone(all)
	slices.SortFunc(newestFirst, func(a, b payments.Payment) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return 1
		}
		return -1
	})
	idsOf := func(ps []payments.Payment) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	search := func(q dashboard.PaymentQuery) []string {
		t.Helper()
		q.MerchantID = m.ClientID
		got, err := s.SearchPayments(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return idsOf(got)
	}
	// Pages of 4: every payment once, in order.
	var paged []string
	q := dashboard.PaymentQuery{Limit: 4}
	for range 20 {
		q.MerchantID = m.ClientID
		page, err := s.SearchPayments(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, idsOf(page)...)
		last := page[len(page)-1]
		q.AfterCreated, q.AfterID = last.CreatedAt, last.ID
	}
	same(t, "pages", paged, idsOf(newestFirst))

	filter := func(keep func(payments.Payment) bool) []string {
		out := []string{}
		for _, p := range newestFirst {
			if keep(p) {
				out = append(out, p.ID)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    dashboard.PaymentQuery
		keep func(payments.Payment) bool
	}{
		{"state", dashboard.PaymentQuery{State: payments.StateFail}, func(p payments.Payment) bool { return p.State == payments.StateFail }},
		{"dates", dashboard.PaymentQuery{From: T0.Add(3 * time.Hour), To: T0.Add(6 * time.Hour)},
			func(p payments.Payment) bool {
				return !p.CreatedAt.Before(T0.Add(3*time.Hour)) && p.CreatedAt.Before(T0.Add(6*time.Hour))
			}},
		{"amounts", dashboard.PaymentQuery{MinMinor: 5000, MaxMinor: 9000}, func(p payments.Payment) bool { return p.Amount.Minor >= 5000 && p.Amount.Minor <= 9000 }},
		{"last four", dashboard.PaymentQuery{LastFour: "0002"}, func(p payments.Payment) bool { return p.Card.LastFour == "0002" }},
		{"last four and state", dashboard.PaymentQuery{LastFour: "0002", State: payments.StateFail},
			func(p payments.Payment) bool { return p.Card.LastFour == "0002" && p.State == payments.StateFail }},
		{"payment id", dashboard.PaymentQuery{PaymentID: "P13"}, func(p payments.Payment) bool { return p.ID == "P13" }},
		{"request id", dashboard.PaymentQuery{PaymentRequestID: "R04"}, func(p payments.Payment) bool { return p.RequestID == "R04" }},
		{"another merchant's id", dashboard.PaymentQuery{PaymentID: "OTHER1"}, func(payments.Payment) bool { return false }},
		{"unstorable", dashboard.PaymentQuery{PaymentID: "P\x00"}, func(payments.Payment) bool { return false }},
	} {
		same(t, tc.name, search(tc.q), filter(tc.keep))
	}
	// A filtered search pages too.
	first := search(dashboard.PaymentQuery{State: payments.StateFail, Limit: 2})
	p, _ := s.PaymentByID(ctx, m.ClientID, first[1])
	rest := search(dashboard.PaymentQuery{State: payments.StateFail, AfterCreated: p.CreatedAt, AfterID: p.ID})
	same(t, "filtered pages", append(first, rest...), filter(func(p payments.Payment) bool { return p.State == payments.StateFail }))
}

// testConsoleReadModels: a payment's events, the merchant's disputes and their history, the day
// aggregates, the merchant list and added keys, each for the merchant alone.
func testConsoleReadModels(t *testing.T, s store.Store) {
	m, other := Sandbox(t, s), Other(t, s, "OTHER_READ")
	cp := CapturedPayment(t, s, m, "PC", 0)
	evs, err := s.PaymentEvents(ctx, m.ClientID, cp.ID)
	if err != nil {
		t.Fatal(err)
	}
	ops := []payments.Op{}
	for _, ev := range evs {
		ops = append(ops, ev.Op)
	}
	same(t, "events", ops, []payments.Op{payments.OpCreate, payments.OpAuthApproved, payments.OpCaptureSucceeded})
	if evs, _ := s.PaymentEvents(ctx, other.ClientID, cp.ID); len(evs) != 0 {
		t.Fatalf("another merchant read the events: %v", evs)
	}
	for i, id := range []string{"D1", "D2"} {
		d := newDispute(cp, id, 100)
		d.OpenedAt = d.OpenedAt.Add(time.Duration(i) * time.Minute)
		if err := s.OpenDispute(ctx, openChange(d)); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := s.MerchantDisputes(ctx, m.ClientID, 10)
	if err != nil || len(ds) != 2 || ds[0].ID != "D2" || ds[1].ID != "D1" {
		t.Fatalf("disputes newest first: %+v %v", ds, err)
	}
	if ds, _ := s.MerchantDisputes(ctx, other.ClientID, 10); len(ds) != 0 {
		t.Fatalf("another merchant's disputes: %+v", ds)
	}
	devs, err := s.DisputeEvents(ctx, m.ClientID, "D1")
	if err != nil || len(devs) != 1 || devs[0].Event != "OPEN" || devs[0].DisputeID != "D1" {
		t.Fatalf("dispute events: %+v %v", devs, err)
	}
	if devs, _ := s.DisputeEvents(ctx, other.ClientID, "D1"); len(devs) != 0 {
		t.Fatalf("another merchant read a dispute's events: %+v", devs)
	}

	// Days: two payments on T0's day (one captured above, one failed), one the next day.
	day := T0.Truncate(24 * time.Hour)
	failed := mustCreate(t, s, NewPayment(m, "PF", "RF"))
	next := failed
	next.State = payments.StateFail
	mustApply(t, s, change(failed, next, payments.OpAuthDeclined))
	later := NewPayment(m, "PL", "RL")
	later.CreatedAt = T0.Add(24 * time.Hour)
	mustCreate(t, s, later)
	mustCreate(t, s, NewPayment(other, "PO", "RO"))
	perDay, err := s.PaymentsPerDay(ctx, m.ClientID, day, day.Add(7*24*time.Hour))
	same(t, "payments per day", fmt.Sprint(perDay, err), fmt.Sprint([]dashboard.DayPayments{
		{Day: day, Total: 2, Succeeded: 1, Failed: 1}, {Day: day.Add(24 * time.Hour), Total: 1}}, nil))

	msg := Notice(t, s, m, "PN", T0)
	if err := s.RecordAttempt(ctx, msg, notify.Attempt{OutboxID: msg.ID, Attempt: 1, At: T0, HTTPStatus: 200, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	msg.Status, msg.Attempts = notify.StatusDelivered, 1
	if err := s.RecordAttempt(ctx, msg, notify.Attempt{OutboxID: msg.ID, Attempt: 1, At: T0, HTTPStatus: 200, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	Notice(t, s, m, "PN2", T0.Add(24*time.Hour))
	Notice(t, s, other, "PON", T0)
	deliveries, err := s.DeliveriesPerDay(ctx, m.ClientID, day, day.Add(7*24*time.Hour))
	// The dispute notifications of T0's day are pending too.
	same(t, "deliveries per day", fmt.Sprint(deliveries, err), fmt.Sprint([]dashboard.DayDeliveries{
		{Day: day, Delivered: 1, Pending: 2}, {Day: day.Add(24 * time.Hour), Pending: 1}}, nil))

	ms, err := s.Merchants(ctx)
	if err != nil || len(ms) != 2 || ms[0].ClientID != m.ClientID || ms[1].ClientID != other.ClientID {
		t.Fatalf("merchants oldest first: %v %v", ms, err)
	}
	if err := s.AddMerchantKey(ctx, other.ClientID, "2", "PUB2"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "a taken version", s.AddMerchantKey(ctx, other.ClientID, "2", "PUB3"), dashboard.ErrKeyExists)
	wantErr(t, "an unknown merchant", s.AddMerchantKey(ctx, "NO_SUCH", "1", "PUB"), merchant.ErrNotFound)
	got, _ := s.MerchantByClientID(ctx, other.ClientID)
	same(t, "keys", got.PublicKeys, map[string]string{"1": "PUB1-" + other.ClientID, "2": "PUB2"})
}
