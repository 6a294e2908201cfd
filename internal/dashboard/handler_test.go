package dashboard_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/dashboard"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/store/storetest"
)

var ctx = context.Background()

// console is a sandbox gateway (its store on a temporary SQLite file) served over HTTP, with a
// merchant user of the sandbox merchant, an operator and a second merchant.
type console struct {
	t      *testing.T
	g      *gateway.Gateway
	srv    *httptest.Server
	st     store.Store
	raw    *sqlite.Store
	m      merchant.Merchant
	other  merchant.Merchant
	secure bool
}

const password = "a long sandbox password"

func newConsole(t *testing.T) *console {
	t.Helper()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.Start(ctx, gateway.Config{Store: st, Data: t.TempDir(), Manual: true, PublicURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	c := &console{t: t, g: g, st: st, raw: st, m: g.SandboxMerchant}
	c.srv = httptest.NewServer(g.Handler)
	t.Cleanup(c.srv.Close)
	c.other = storetest.Other(t, st, "OTHER_CONSOLE")
	hash, err := dashboard.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []dashboard.User{
		{Username: "dev", PasswordHash: hash, Role: dashboard.RoleMerchant, ClientID: c.m.ClientID, CreatedAt: time.Now()},
		{Username: "ops", PasswordHash: hash, Role: dashboard.RoleOperator, CreatedAt: time.Now()},
		{Username: "otherdev", PasswordHash: hash, Role: dashboard.RoleMerchant, ClientID: c.other.ClientID, CreatedAt: time.Now()},
	} {
		if _, err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// browser is one cookie jar that does not follow redirects, so each answer is seen.
type browser struct {
	c    *console
	http *http.Client
}

func (c *console) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{c: c, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status   int
	body     string
	location string
	resp     *http.Response
}

func (b *browser) do(method, path string, form url.Values) answer {
	b.c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.c.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(raw), location: resp.Header.Get("Location"), resp: resp}
}

func (b *browser) get(path string) answer { return b.do("GET", path, nil) }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the form token of the page at path.
func (b *browser) csrf(path string) string {
	b.c.t.Helper()
	a := b.get(path)
	m := csrfField.FindStringSubmatch(a.body)
	if m == nil {
		b.c.t.Fatalf("no CSRF token on %s (%d):\n%s", path, a.status, a.body)
	}
	return m[1]
}

func (b *browser) login(username, pw string) answer {
	b.c.t.Helper()
	return b.do("POST", "/dashboard/login", url.Values{"csrf": {b.csrf("/dashboard/login")}, "username": {username}, "password": {pw}})
}

func (b *browser) signIn(username string) *browser {
	b.c.t.Helper()
	if a := b.login(username, password); a.status != http.StatusSeeOther || a.location != "/dashboard/" {
		b.c.t.Fatalf("sign in as %s: %d %q\n%s", username, a.status, a.location, a.body)
	}
	return b
}

// post sends a form of a signed-in page with the page's own token.
func (b *browser) post(page, action string, form url.Values) answer {
	b.c.t.Helper()
	form.Set("csrf", b.csrf(page))
	return b.do("POST", action, form)
}

func want(t *testing.T, what string, a answer, status int, contains ...string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, a.status, status, a.body)
	}
	for _, s := range contains {
		if !strings.Contains(a.body, s) {
			t.Fatalf("%s: the page lacks %q:\n%s", what, s, a.body)
		}
	}
}

func TestSignInAndOut(t *testing.T) {
	c := newConsole(t)
	b := c.browser()
	a := b.get("/dashboard/payments?status=FAIL")
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/dashboard/login?next=") {
		t.Fatalf("a page before signing in: %d %q", a.status, a.location)
	}
	want(t, "wrong password", b.login("dev", "not the password"), http.StatusUnauthorized, "Wrong username or password.")
	want(t, "unknown user", b.login("nobody", password), http.StatusUnauthorized, "Wrong username or password.")

	// The return path survives the sign-in, inside the console only.
	form := url.Values{"csrf": {b.csrf("/dashboard/login")}, "username": {"dev"}, "password": {password}, "next": {"/dashboard/payments?status=FAIL"}}
	a = b.do("POST", "/dashboard/login", form)
	if a.status != http.StatusSeeOther || a.location != "/dashboard/payments?status=FAIL" {
		t.Fatalf("sign in: %d %q", a.status, a.location)
	}
	var session *http.Cookie
	for _, ck := range a.resp.Cookies() {
		if ck.Name == "cardgate_console" && ck.Value != "" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/dashboard/" || session.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/dashboard/, not Secure over http", session)
	}
	if len(session.Value) != 43 {
		t.Fatalf("session token %q: want 32 random bytes", session.Value)
	}
	want(t, "overview", b.get("/dashboard/"), http.StatusOK, "Overview", c.m.ClientID[:8])
	// The store holds the token's hash, never the token.
	if _, _, err := c.st.SessionByHash(ctx, session.Value, time.Now()); err == nil {
		t.Fatal("the session is found by its raw token")
	}
	want(t, "sign-in page once signed in", b.get("/dashboard/login"), http.StatusSeeOther)

	a = b.post("/dashboard/", "/dashboard/logout", url.Values{})
	if a.status != http.StatusSeeOther || a.location != "/dashboard/login" {
		t.Fatalf("sign out: %d %q", a.status, a.location)
	}
	if a := b.get("/dashboard/"); a.status != http.StatusSeeOther {
		t.Fatalf("after signing out: %d", a.status)
	}
	// The old cookie is dead on the server too, not only forgotten by the browser.
	req, _ := http.NewRequest("GET", c.srv.URL+"/dashboard/", nil)
	req.AddCookie(&http.Cookie{Name: "cardgate_console", Value: session.Value})
	resp, err := c.browser().http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the signed-out session still serves: %d", resp.StatusCode)
	}
}

func TestSignInFormNeedsItsToken(t *testing.T) {
	c := newConsole(t)
	b := c.browser()
	b.get("/dashboard/login") // the cookie, but a form without the token
	want(t, "no token", b.do("POST", "/dashboard/login", url.Values{"username": {"dev"}, "password": {password}}), http.StatusForbidden)
	want(t, "wrong token", b.do("POST", "/dashboard/login", url.Values{"csrf": {"x"}, "username": {"dev"}, "password": {password}}), http.StatusForbidden)
	fresh := c.browser() // a token but no cookie: another site's form
	want(t, "no cookie", fresh.do("POST", "/dashboard/login", url.Values{"csrf": {b.csrf("/dashboard/login")}, "username": {"dev"}, "password": {password}}), http.StatusForbidden)
}

func TestThrottle(t *testing.T) {
	c := newConsole(t)
	b := c.browser()
	for i := range dashboard.MaxUserFailures {
		want(t, fmt.Sprintf("failure %d", i+1), b.login("dev", "wrong password"), http.StatusUnauthorized)
	}
	// The right password no longer helps within the window: the guesser cannot tell it was right.
	want(t, "throttled", b.login("dev", password), http.StatusTooManyRequests, "Too many failed sign-ins")
	// Another user from the same address is not locked out by them.
	c.browser().signIn("ops")
	// A day later (the window passed) the user signs in, and that clears the failures.
	if err := c.st.ClearLoginFailures(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	c.browser().signIn("dev")
	// Per address: MaxIPFailures over any usernames.
	c2 := newConsole(t)
	b2 := c2.browser()
	for i := range dashboard.MaxIPFailures {
		b2.login(fmt.Sprintf("guess%d", i), "wrong password")
	}
	want(t, "throttled address", b2.login("dev", password), http.StatusTooManyRequests)
}

func TestCSRF(t *testing.T) {
	c := newConsole(t)
	b := c.browser().signIn("dev")
	set := url.Values{"notifyUrl": {"https://shop.example/notify"}}
	want(t, "no token", b.do("POST", "/dashboard/settings/notify-url", set), http.StatusForbidden)
	set.Set("csrf", "forged")
	want(t, "wrong token", b.do("POST", "/dashboard/settings/notify-url", set), http.StatusForbidden)
	// Another session's token is wrong too.
	other := c.browser().signIn("dev")
	set.Set("csrf", other.csrf("/dashboard/settings"))
	want(t, "another session's token", b.do("POST", "/dashboard/settings/notify-url", set), http.StatusForbidden)
	if m, _ := c.st.MerchantByClientID(ctx, c.m.ClientID); m.NotifyURL != "" {
		t.Fatalf("a refused POST changed the notify URL to %q", m.NotifyURL)
	}
	a := b.post("/dashboard/settings", "/dashboard/settings/notify-url", url.Values{"notifyUrl": {"https://shop.example/notify"}})
	want(t, "with the token", a, http.StatusSeeOther)
	if m, _ := c.st.MerchantByClientID(ctx, c.m.ClientID); m.NotifyURL != "https://shop.example/notify" {
		t.Fatalf("notify URL %q", m.NotifyURL)
	}
	want(t, "settings after", b.get(a.location), http.StatusOK, "Notify URL saved.", "https://shop.example/notify")
	want(t, "a bad URL", b.post("/dashboard/settings", "/dashboard/settings/notify-url", url.Values{"notifyUrl": {"https://user@shop.example/"}}),
		http.StatusUnprocessableEntity, "Refused")
	// Without a session at all a POST is refused, not redirected.
	want(t, "signed out POST", c.browser().do("POST", "/dashboard/settings/notify-url", set), http.StatusForbidden)
}

// seed creates n payments of m, one a minute from t0: failed, approved, in process, in turn.
func seed(t *testing.T, st store.Store, m merchant.Merchant, prefix string, n int, t0 time.Time) []payments.Payment {
	t.Helper()
	var out []payments.Payment
	for i := range n {
		p := storetest.NewPayment(m, fmt.Sprintf("%s%03d", prefix, i), fmt.Sprintf("req-%s%03d", prefix, i))
		p.CreatedAt, p.UpdatedAt, p.ExpiresAt = t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Hour)
		p.Amount.Minor = int64(100 * (i + 1))
		switch i % 3 {
		case 0:
			p.State, p.ResultCode = payments.StateFail, "DO_NOT_HONOR"
		case 1:
			p.State, p.ResultCode = payments.StateSuccess, "SUCCESS"
		}
		if err := st.CreatePayment(ctx, p, payments.Event{PaymentID: p.ID, Op: payments.OpCreate, To: p.State, At: p.CreatedAt}); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestPaymentsListAndScope(t *testing.T) {
	c := newConsole(t)
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	seed(t, c.st, c.m, "PAY", 60, t0)
	seed(t, c.st, c.other, "OTH", 3, t0)
	b := c.browser().signIn("dev")
	a := b.get("/dashboard/payments")
	want(t, "first page", a, http.StatusOK, "PAY059", "PAY010", `id="older"`)
	if strings.Contains(a.body, "PAY009") || strings.Contains(a.body, "OTH") {
		t.Fatal("the first page holds more than 50 payments, or another merchant's")
	}
	older := regexp.MustCompile(`href="([^"]+)" class="button ghost" id="older"`).FindStringSubmatch(a.body)
	a = b.get(strings.ReplaceAll(older[1], "&amp;", "&"))
	want(t, "second page", a, http.StatusOK, "PAY009", "PAY000")
	if strings.Contains(a.body, "PAY010") || strings.Contains(a.body, `id="older"`) {
		t.Fatal("the second page repeats the first, or offers a third")
	}
	for _, tc := range []struct {
		query      string
		has, hasnt []string
	}{
		{"status=FAIL", []string{"PAY057", "PAY000"}, []string{"PAY058"}},
		{"min=5000&max=5200", []string{"PAY049", "PAY050", "PAY051"}, []string{"PAY048", "PAY052"}},
		{"id=PAY007", []string{"PAY007"}, []string{"PAY006"}},
		{"id=req-PAY008", []string{"PAY008"}, []string{"PAY007"}},
		{"last4=4242&status=SUCCESS", []string{"PAY058"}, []string{"PAY057"}},
		{"from=2026-11-22", nil, []string{"PAY0"}},
		{"to=2026-11-20", nil, []string{"PAY0"}},
		{"id=OTH001", []string{"No payment matches."}, []string{"payments/OTH001"}},
		{"m=" + c.other.ClientID, []string{"PAY059"}, []string{"OTH"}}, // a merchant user cannot pick
	} {
		a := b.get("/dashboard/payments?" + tc.query)
		want(t, tc.query, a, http.StatusOK, tc.has...)
		for _, s := range tc.hasnt {
			if strings.Contains(a.body, s) {
				t.Errorf("%s: the page holds %s", tc.query, s)
			}
		}
	}
	want(t, "bad filters", b.get("/dashboard/payments?min=abc&last4=12&from=yesterday"), http.StatusOK,
		"Minimum amount must be", "Last four must be four digits.", "From must be a date")

	want(t, "own payment", b.get("/dashboard/payments/PAY003"), http.StatusOK, "Payment created", "req-PAY003", "VISA •••• 4242")
	want(t, "another merchant's payment", b.get("/dashboard/payments/OTH001"), http.StatusNotFound, "Not found")
	want(t, "another merchant's payment, asking for it", b.get("/dashboard/payments/OTH001?m="+c.other.ClientID), http.StatusNotFound)
	want(t, "made-up payment", b.get("/dashboard/payments/NOPE"), http.StatusNotFound)

	ops := c.browser().signIn("ops")
	// The oldest merchant by default (the other one: storetest makes it in the past).
	want(t, "operator, default merchant", ops.get("/dashboard/payments"), http.StatusOK, "OTH002", c.m.ClientID)
	a = ops.get("/dashboard/payments?m=" + c.m.ClientID)
	want(t, "operator picks", a, http.StatusOK, "PAY059")
	if strings.Contains(a.body, "OTH002") {
		t.Fatal("the operator's pick shows the other merchant's payments")
	}
	want(t, "operator, the other's payment", ops.get("/dashboard/payments/OTH001?m="+c.other.ClientID), http.StatusOK, "req-OTH001")
	want(t, "operator, unknown merchant", ops.get("/dashboard/payments?m=NOPE"), http.StatusNotFound)

	// The operator's forms act on the merchant picked, which their actions carry.
	settings := ops.get("/dashboard/settings?m=" + c.other.ClientID)
	want(t, "operator's settings of the other merchant", settings, http.StatusOK, `action="/dashboard/settings/notify-url?m=`+c.other.ClientID+`"`)
	a = ops.post("/dashboard/settings?m="+c.other.ClientID, "/dashboard/settings/notify-url?m="+c.other.ClientID, url.Values{"notifyUrl": {"https://other.example/n"}})
	want(t, "operator sets the other merchant's notify URL", a, http.StatusSeeOther)
	if !strings.Contains(a.location, "m="+c.other.ClientID) {
		t.Errorf("the redirect %q forgets the merchant picked", a.location)
	}
	theirs, _ := c.st.MerchantByClientID(ctx, c.other.ClientID)
	ours, _ := c.st.MerchantByClientID(ctx, c.m.ClientID)
	if theirs.NotifyURL != "https://other.example/n" || ours.NotifyURL != "" {
		t.Fatalf("notify URLs after the operator's change: theirs %q, ours %q", theirs.NotifyURL, ours.NotifyURL)
	}
}

func TestResend(t *testing.T) {
	c := newConsole(t)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`)
	}))
	defer receiver.Close()
	msg := storetest.Notice(t, c.st, c.m, "PAYN", time.Now())
	if _, err := c.raw.Raw().Exec(ctx, `UPDATE outbox SET url = ? WHERE id = ?`, receiver.URL, msg.ID); err != nil {
		t.Fatal(err)
	}
	storetest.Notice(t, c.st, c.other, "PAYO", time.Now())
	b := c.browser().signIn("dev")
	want(t, "payment page", b.get("/dashboard/payments/PAYN"), http.StatusOK, "PAYMENT_RESULT", "Resend", "No attempt yet.")
	form := url.Values{"notification": {fmt.Sprint(msg.ID)}}
	want(t, "resend without a token", b.do("POST", "/dashboard/payments/PAYN/resend", form), http.StatusForbidden)
	if log, _ := c.st.Attempts(ctx, msg.ID); len(log) != 0 {
		t.Fatalf("a refused resend made an attempt: %+v", log)
	}
	a := b.post("/dashboard/payments/PAYN", "/dashboard/payments/PAYN/resend", form)
	want(t, "resend", a, http.StatusSeeOther)
	want(t, "after the resend", b.get(a.location), http.StatusOK, "Notification sent again", "resend", "delivered")
	if log, _ := c.st.Attempts(ctx, msg.ID); len(log) != 1 || !log[0].Manual || !log[0].Delivered {
		t.Fatalf("attempts after the resend: %+v", log)
	}
	// Another merchant's notification, through this merchant's payment or the other's.
	others, _ := c.st.Messages(ctx, c.other.ClientID, "PAYO")
	form.Set("notification", fmt.Sprint(others[0].ID))
	want(t, "another merchant's notification", b.post("/dashboard/payments/PAYN", "/dashboard/payments/PAYN/resend", form), http.StatusNotFound)
	want(t, "another merchant's payment", b.post("/dashboard/payments/PAYN", "/dashboard/payments/PAYO/resend", form), http.StatusNotFound)
}

func TestRoutingRefusedThenAccepted(t *testing.T) {
	c := newConsole(t)
	b := c.browser().signIn("dev")
	want(t, "page", b.get("/dashboard/routing"), http.StatusOK, "No rules yet", "ADYEN")
	good := `{"rules":[{"match":{"currency":["SGD"]},"route":["ADYEN","CHECKOUT"]}]}`
	want(t, "set", b.post("/dashboard/routing", "/dashboard/routing", url.Values{"document": {good}}), http.StatusSeeOther)
	bad := `{"rules":[{"match":{"currency":["SGD"]},"route":["NOPE"]}]}`
	a := b.post("/dashboard/routing", "/dashboard/routing", url.Values{"document": {bad}})
	want(t, "refused", a, http.StatusUnprocessableEntity, "Refused, the rules in force are unchanged", "rules[0].route", "NOPE")
	raw, _, _ := c.st.RoutingRules(ctx, c.m.ClientID)
	if !strings.Contains(string(raw), "CHECKOUT") {
		t.Fatalf("the refused document replaced the rules: %s", raw)
	}
	want(t, "page after", b.get("/dashboard/routing"), http.StatusOK, "CHECKOUT", "Saved")
}

func TestSandboxPage(t *testing.T) {
	c := newConsole(t)
	b := c.browser().signIn("dev")
	before := c.g.Clock.Now()
	want(t, "page", b.get("/dashboard/sandbox"), http.StatusOK, "Advance", "DO_NOT_HONOR")
	want(t, "advance", b.post("/dashboard/sandbox", "/dashboard/sandbox/advance", url.Values{"duration": {"2h"}}), http.StatusSeeOther)
	if d := c.g.Clock.Now().Sub(before); d < 2*time.Hour {
		t.Fatalf("the clock moved %s", d)
	}
	want(t, "bad duration", b.post("/dashboard/sandbox", "/dashboard/sandbox/advance", url.Values{"duration": {"-1h"}}), http.StatusUnprocessableEntity, "Refused")
	want(t, "force", b.post("/dashboard/sandbox", "/dashboard/sandbox/force", url.Values{"operation": {"pay"}, "code": {"DO_NOT_HONOR"}, "count": {"2"}}), http.StatusSeeOther)
	if fs, _ := c.st.Forces(ctx, c.m.ClientID); len(fs) != 1 || fs[0].Remaining != 2 {
		t.Fatalf("forces %+v", fs)
	}
	want(t, "bad force", b.post("/dashboard/sandbox", "/dashboard/sandbox/force", url.Values{"operation": {"pay"}, "code": {"NOPE"}}), http.StatusUnprocessableEntity, "cannot be forced")
	want(t, "clear", b.post("/dashboard/sandbox", "/dashboard/sandbox/force", url.Values{"operation": {"pay"}, "count": {"0"}}), http.StatusSeeOther)
	if fs, _ := c.st.Forces(ctx, c.m.ClientID); len(fs) != 0 {
		t.Fatalf("forces after clearing %+v", fs)
	}
	seed(t, c.st, c.m, "PAY", 2, time.Now())
	want(t, "reset", b.post("/dashboard/sandbox", "/dashboard/sandbox/reset", url.Values{}), http.StatusSeeOther)
	if got, _ := c.st.SearchPayments(ctx, dashboard.PaymentQuery{MerchantID: c.m.ClientID}); len(got) != 0 {
		t.Fatalf("payments after the reset: %d", len(got))
	}
	want(t, "still signed in after the reset", b.get("/dashboard/"), http.StatusOK)
}

func TestSettingsKeysAndOverview(t *testing.T) {
	c := newConsole(t)
	b := c.browser().signIn("dev")
	pub, _ := c.g.Key.PublicKeyBase64()
	esc := func(s string) string { return strings.ReplaceAll(s, "+", "&#43;") } // as html/template writes it
	want(t, "settings", b.get("/dashboard/settings"), http.StatusOK, esc(pub), esc(c.m.PublicKeys["1"]))
	want(t, "bad key", b.post("/dashboard/settings", "/dashboard/settings/keys", url.Values{"version": {"2"}, "publicKey": {"nope"}}), http.StatusUnprocessableEntity, "RSA public key")
	want(t, "taken version", b.post("/dashboard/settings", "/dashboard/settings/keys", url.Values{"version": {"1"}, "publicKey": {pub}}), http.StatusUnprocessableEntity, "already registered")
	want(t, "add key", b.post("/dashboard/settings", "/dashboard/settings/keys", url.Values{"version": {"2"}, "publicKey": {pub}}), http.StatusSeeOther)
	if m, _ := c.st.MerchantByClientID(ctx, c.m.ClientID); m.PublicKeys["2"] != pub {
		t.Fatalf("keys %v", m.PublicKeys)
	}
	seed(t, c.st, c.m, "PAY", 6, c.g.Clock.Now().Add(-time.Hour))
	want(t, "overview", b.get("/dashboard/"), http.StatusOK, `<svg class="chart"`, `id="stat-payments">6<`, `id="stat-approval">50.0%<`)
}

func TestSecureCookie(t *testing.T) {
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := storetest.Sandbox(t, st)
	hash, _ := dashboard.HashPassword(password)
	if _, err := st.CreateUser(ctx, dashboard.User{Username: "dev", PasswordHash: hash, Role: dashboard.RoleMerchant, ClientID: m.ClientID, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dashboard.New(dashboard.Config{Store: st, Secure: true}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/dashboard/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if !ck.Secure {
			t.Fatalf("cookie %s is not Secure behind https", ck.Name)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
}

// postFile sends a multipart form with one file field, as the defense form does.
func (b *browser) postFile(page, action, field, name string, content []byte) answer {
	b.c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("csrf", b.csrf(page))
	fw, _ := w.CreateFormFile(field, name)
	_, _ = fw.Write(content)
	_ = w.Close()
	req, _ := http.NewRequest("POST", b.c.srv.URL+action, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := b.http.Do(req)
	if err != nil {
		b.c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(raw), location: resp.Header.Get("Location"), resp: resp}
}

// captured stores a payment of m captured with its capture transaction, as a dispute needs.
func captured(t *testing.T, st store.Store, m merchant.Merchant, id string) {
	t.Helper()
	p := storetest.CapturedPayment(t, st, m, id, 0)
	next := p
	next.Version = p.Version + 1
	txn := &payments.Txn{ID: "C-" + id, PaymentID: id, MerchantID: m.ClientID, Type: payments.TxnCapture, RequestID: p.RequestID,
		Status: payments.TxnSucceeded, Amount: p.Amount, ResultCode: "SUCCESS", CreatedAt: p.CapturedAt, UpdatedAt: p.CapturedAt, Internal: true}
	err := st.Apply(ctx, payments.Change{Payment: next, FromVersion: p.Version, NewTxn: txn,
		Event: payments.Event{PaymentID: id, TxnID: txn.ID, Op: payments.OpCaptureSucceeded, From: p.State, To: p.State, ResultCode: "SUCCESS", At: p.CapturedAt}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDisputes(t *testing.T) {
	c := newConsole(t)
	var ids []string
	for _, p := range []string{"PD1", "PD2"} {
		captured(t, c.st, c.m, p)
		d, err := c.g.Disputes.Open(ctx, disputes.OpenRequest{MerchantID: c.m.ClientID, PaymentID: p, DefenseWins: true})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	captured(t, c.st, c.other, "PO1")
	theirs, err := c.g.Disputes.Open(ctx, disputes.OpenRequest{MerchantID: c.other.ClientID, PaymentID: "PO1"})
	if err != nil {
		t.Fatal(err)
	}
	b := c.browser().signIn("dev")
	a := b.get("/dashboard/disputes")
	want(t, "list", a, http.StatusOK, ids[0], ids[1], "42.00 SGD", "Supply defense")
	if strings.Contains(a.body, theirs.ID) {
		t.Fatal("another merchant's dispute is listed")
	}
	want(t, "accept", b.post("/dashboard/disputes", "/dashboard/disputes/"+ids[0]+"/accept", url.Values{}), http.StatusSeeOther)
	want(t, "accept again", b.post("/dashboard/disputes", "/dashboard/disputes/"+ids[0]+"/accept", url.Values{}), http.StatusUnprocessableEntity, "ACCEPTED")
	want(t, "defend", b.postFile("/dashboard/disputes", "/dashboard/disputes/"+ids[1]+"/defend", "defense", "defense.pdf", []byte("%PDF-1.4 receipt")), http.StatusSeeOther)
	want(t, "an empty defense", b.postFile("/dashboard/disputes", "/dashboard/disputes/"+ids[1]+"/defend", "defense", "e.pdf", nil), http.StatusUnprocessableEntity)
	for id, state := range map[string]disputes.State{ids[0]: disputes.Accepted, ids[1]: disputes.Defended, theirs.ID: disputes.Open} {
		mid := c.m.ClientID
		if id == theirs.ID {
			mid = c.other.ClientID
		}
		d, err := c.st.DisputeByID(ctx, mid, id)
		if err != nil || d.State != state {
			t.Errorf("dispute %s: %s %v, want %s", id, d.State, err, state)
		}
	}
	want(t, "another merchant's dispute", b.post("/dashboard/disputes", "/dashboard/disputes/"+theirs.ID+"/accept", url.Values{}), http.StatusNotFound)
	want(t, "a payment's disputes on its page", b.get("/dashboard/payments/PD1"), http.StatusOK, "Dispute open", "Dispute accept", ids[0])
}

func TestProductionHasNoSandboxPage(t *testing.T) {
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.Start(ctx, gateway.Config{Mode: gateway.Production, Store: st, Data: t.TempDir(), Manual: true, PublicURL: "https://pay.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	m := storetest.Other(t, st, "PROD_SHOP")
	hash, _ := dashboard.HashPassword(password)
	if _, err := st.CreateUser(ctx, dashboard.User{Username: "shop", PasswordHash: hash, Role: dashboard.RoleMerchant, ClientID: m.ClientID, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := &console{t: t, g: g, st: st, raw: st, m: m, srv: httptest.NewServer(g.Handler)}
	defer c.srv.Close()
	b := c.browser()
	a := b.login("shop", password)
	if a.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", a.status)
	}
	for _, ck := range a.resp.Cookies() {
		if ck.Name == "cardgate_console" && !ck.Secure {
			t.Fatal("the session cookie of a gateway behind https is not Secure")
		}
	}
	// The cookie is Secure, so a plain-HTTP test client would not send it back: send it by hand.
	var session string
	for _, ck := range a.resp.Cookies() {
		if ck.Name == "cardgate_console" {
			session = ck.Value
		}
	}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", c.srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: "cardgate_console", Value: session})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, body := get("/dashboard/"); status != http.StatusOK || strings.Contains(body, `href="/dashboard/sandbox"`) {
		t.Fatalf("overview in production: %d, sandbox link shown: %v", status, strings.Contains(body, "/dashboard/sandbox"))
	}
	if status, _ := get("/dashboard/sandbox"); status != http.StatusNotFound {
		t.Fatalf("the sandbox page in production: %d, want 404", status)
	}
}
