package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/threeds"
	"github.com/cardgate/cardgate/protocol"
)

// The console in headless Chromium over the real binary: a console user made with the CLI signs
// in (after a refused password), searches, reads a 3-D Secure payment's timeline, resends its
// notification, has a routing document refused and then saved, has a forged form refused, and
// finds another merchant's payment not found. Every page is photographed at desktop and phone
// sizes (docs/screenshots/dashboard-*.png with CARDGATE_UPDATE_SCREENSHOTS=1). Like the other
// browser tests it fails, never skips, without Chromium.

const consolePassword = "console e2e password"

// consoleUser creates a console user of the sandbox merchant with the CLI, the password on stdin.
func consoleUser(t *testing.T, dir, username string) {
	t.Helper()
	cmd := exec.Command(binary, "user", "create", "--data", dir, "--username", username, "--sandbox-merchant")
	cmd.Stdin = strings.NewReader(consolePassword + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "console user "+username+" created") {
		t.Fatalf("user create: %v\n%s", err, out)
	}
}

// page waits for the next document (not the one marked stale) to show sel.
func nextPage(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(`html:not([data-stale]) ` + sel))
}

func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return s
}

func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s: the page lacks %q:\n%s", what, w, text)
		}
	}
}

// consoleShots photographs the page at url at both sizes; wait is a selector of the page.
func consoleShots(t *testing.T, ctx context.Context, s *shots, name, url, wait string) {
	t.Helper()
	for _, vp := range []struct {
		size          string
		emulate       chromedp.Action[chromedp.Void]
		width, height int
	}{{"desktop", desktop, 1280, 800}, {"phone", phone, 780, 1688}} {
		if err := chromedp.Do(ctx, vp.emulate, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(wait))); err != nil {
			t.Fatalf("%s %s: %v", name, vp.size, err)
		}
		// Nothing wider than the screen: tables scroll inside their box, never the page.
		w, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[document.documentElement.scrollWidth, window.innerWidth]`))
		if err != nil || w[0] > w[1] {
			t.Errorf("%s %s: the page is %v wide in a %v viewport (%v)", name, vp.size, w[0], w[1], err)
		}
		s.take(t, ctx, "dashboard-"+name+"-"+vp.size, "dashboard-"+name+"-"+vp.size+".png", vp.width, vp.height)
	}
	if err := chromedp.Do(ctx, desktop); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserConsole(t *testing.T) {
	t.Parallel()
	f := newFlow(t) // scans the data files and logs for the card numbers and CVVs used
	g := f.gateway
	rcv := ntNewReceiver(t, ntGatewayKey(t, g), ntAck)
	shop := newMerchantSite(t)
	consoleUser(t, g.dir, "dev")

	// Another merchant with a payment of its own.
	var other merchant.Credentials
	if err := json.Unmarshal(cardgate(t, "merchant", "create", "--data", g.dir, "--name", "Other shop", "--json"), &other); err != nil {
		t.Fatal(err)
	}
	oc, err := client.New(client.Config{BaseURL: g.url, ClientID: other.ClientID, PrivateKey: other.MerchantPrivateKey, GatewayPublicKey: other.GatewayPublicKey})
	if err != nil {
		t.Fatal(err)
	}
	theirCVV := nextCVV()
	f.card("4242424242424242", theirCVV)
	theirs, err := oc.Pay(context.Background(), payRequest("4242424242424242", theirCVV))
	if err != nil || theirs.Result.ResultStatus != "S" {
		t.Fatalf("the other merchant's pay: %+v %v", theirs, err)
	}

	// The sandbox merchant's payments: approved, declined, and one through 3-D Secure.
	pay := func(pan string, mutate func(*protocol.PayRequest)) *protocol.PayResponse {
		t.Helper()
		cvv := nextCVV()
		f.card(pan, cvv)
		req := payRequest(pan, cvv)
		req.PaymentNotifyURL = rcv.srv.URL + "/notify"
		if mutate != nil {
			mutate(req)
		}
		return g.pay(req)
	}
	approved := pay("5555555555554444", nil)
	pay("4000000000000002", nil)
	for range 3 {
		pay("4242424242424242", nil)
	}
	tds := pay("4000002760003184", func(r *protocol.PayRequest) {
		r.PaymentMethod.PaymentMethodMetaData.Is3DSAuthentication = true
		r.PaymentRedirectURL = shop.URL + "/return"
	})
	if tds.Result.ResultStatus != "U" || tds.NormalURL == "" {
		t.Fatalf("3-D Secure pay: %+v", tds.Result)
	}
	if _, err := g.client.OpenDispute(context.Background(), &protocol.SandboxDisputeOpenRequest{PaymentID: approved.PaymentID}); err != nil {
		t.Fatalf("open a dispute: %v", err)
	}

	browser := newBrowser(t)
	shots := newShots(t)
	ctx := longTab(t, browser, 2*time.Minute) // every step of the walk below, in one tab

	// The buyer passes the challenge; the result is notified.
	if err := chromedp.Do(ctx, chromedp.Navigate(tds.NormalURL), enterCode(threeds.Code), chromedp.WaitVisible(chromedp.ID("thanks"))); err != nil {
		t.Fatalf("3-D Secure challenge: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for rcvCount(rcv, tds.PaymentID) < 2 { // PAYMENT_RESULT and CAPTURE_RESULT, so none is in flight below
		if time.Now().After(deadline) {
			t.Fatal("the 3-D Secure payment's result and capture were never notified")
		}
		time.Sleep(50 * time.Millisecond)
	}

	base := g.url + "/dashboard/"
	t.Run("SignIn", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
			t.Fatalf("the console before signing in: %v", err)
		}
		consoleShots(t, ctx, shots, "login", base+"login", "#username")
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("username"), "dev"), chromedp.SendKeys(chromedp.ID("password"), "not the password"),
			markStale, chromedp.Click(chromedp.CSS(`form button[type="submit"]`)), nextPage("#error")); err != nil {
			t.Fatalf("wrong password: %v", err)
		}
		mustContain(t, "wrong password", bodyText(t, ctx), "Wrong username or password.")
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("password"), consolePassword), markStale,
			chromedp.Click(chromedp.CSS(`form button[type="submit"]`)), nextPage(".stats")); err != nil {
			t.Fatalf("sign in: %v", err)
		}
		mustContain(t, "overview", bodyText(t, ctx), "Overview", "approval rate", g.creds.ClientID)
		consoleShots(t, ctx, shots, "overview", base, ".stats")

		// Without JavaScript too: sign in, open a payment, resend its notification.
		// A browser context of its own: the tabs of one context share the signed-in cookie.
		plain, closePlain := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		defer closePlain()
		plain, stopPlain := context.WithTimeout(plain, 30*time.Second)
		defer stopPlain()
		for _, step := range []struct {
			what string
			do   []chromedp.Action[chromedp.Void]
		}{
			{"open the sign-in page", []chromedp.Action[chromedp.Void]{noScript, chromedp.Navigate(base + "login"), chromedp.WaitVisible(chromedp.ID("username"))}},
			{"sign in", []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.ID("username"), "dev"), chromedp.SendKeys(chromedp.ID("password"), consolePassword),
				chromedp.Click(chromedp.CSS(`form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(".stats"))}},
			{"open a payment", []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "payments/" + approved.PaymentID), chromedp.WaitVisible(chromedp.ID("timeline"))}},
			{"resend", []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS(`#notifications form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(".notice"))}},
		} {
			if err := chromedp.Do(plain, step.do...); err != nil {
				loc, _ := chromedp.Run(plain, chromedp.Location())
				t.Fatalf("without JavaScript, %s: %v (at %s)", step.what, err, loc)
			}
		}
	})

	t.Run("Search", func(t *testing.T) {
		consoleShots(t, ctx, shots, "payments", base+"payments", "#payments")
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("last4"), "3184"), markStale,
			chromedp.Click(chromedp.CSS(`.filters button[type="submit"]`)), nextPage("#payments")); err != nil {
			t.Fatalf("search: %v", err)
		}
		text := bodyText(t, ctx)
		mustContain(t, "search by last four", text, tds.PaymentID, "VISA •••• 3184")
		if strings.Contains(text, approved.PaymentID) || strings.Contains(text, theirs.PaymentID) {
			t.Errorf("the search for 3184 lists other payments:\n%s", text)
		}
	})

	paymentURL := base + "payments/" + tds.PaymentID
	t.Run("Timeline", func(t *testing.T) {
		if err := chromedp.Do(ctx, markStale, chromedp.Click(chromedp.CSS(`#payments a[href*="`+tds.PaymentID+`"]`)), nextPage("#timeline")); err != nil {
			t.Fatalf("open the payment: %v", err)
		}
		text := bodyText(t, ctx)
		mustContain(t, "payment page", text, "42.00 SGD", "VISA •••• 3184", "CHALLENGE", "authenticated",
			"Payment created · 3-D Secure challenge opened", "3-D Secure: authenticated", "Authorization approved", "Captured",
			"PAYMENT_RESULT", "DELIVERED", "CAPTURE_RESULT")
		if strings.Contains(text, "4000002760003184") {
			t.Error("the payment page shows the full card number")
		}
		order := []string{"Payment created · 3-D Secure challenge opened", "3-D Secure: authenticated", "Authorization approved", "Capture sent", "Captured"}
		for i := 1; i < len(order); i++ {
			if strings.Index(text, order[i-1]) > strings.Index(text, order[i]) {
				t.Errorf("timeline: %q after %q", order[i-1], order[i])
			}
		}
		consoleShots(t, ctx, shots, "payment", paymentURL, "#timeline")
	})

	t.Run("Resend", func(t *testing.T) {
		before := rcvCount(rcv, tds.PaymentID)
		if err := chromedp.Do(ctx, chromedp.Navigate(paymentURL), chromedp.WaitVisible(chromedp.ID("notifications")), markStale,
			chromedp.Click(chromedp.CSS(`#notifications form button[type="submit"]`)), nextPage(".notice")); err != nil {
			t.Fatalf("resend: %v", err)
		}
		mustContain(t, "after the resend", bodyText(t, ctx), "Notification sent again", "resend")
		if after := rcvCount(rcv, tds.PaymentID); after != before+1 {
			t.Errorf("the receiver got %d notifications of the payment from the resend, want 1", after-before)
		}
	})

	t.Run("RoutingRefusedThenAccepted", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"routing"), chromedp.WaitVisible(chromedp.ID("document")),
			chromedp.SetValue(chromedp.ID("document"), `{"rules":[{"match":{"currency":["SGD"]},"route":["NOPE"]}]}`), markStale,
			chromedp.Click(chromedp.CSS(`form.card button[type="submit"]`)), nextPage("#error")); err != nil {
			t.Fatalf("refused document: %v", err)
		}
		mustContain(t, "refused", bodyText(t, ctx), "the rules in force are unchanged", "rules[0].route")
		if n := g.count(`SELECT count(*) FROM routing_rules`); n != 0 {
			t.Errorf("a refused document was stored (%d rows)", n)
		}
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("document"),
			`{"rules":[{"match":{"cardBrand":["VISA"]},"route":["ADYEN","CHECKOUT"]}],"default":{"weights":{"ALIPAY":50,"ADYEN":50}}}`), markStale,
			chromedp.Click(chromedp.CSS(`form.card button[type="submit"]`)), nextPage(".notice")); err != nil {
			t.Fatalf("accepted document: %v", err)
		}
		mustContain(t, "saved", bodyText(t, ctx), "Routing rules saved.", "CHECKOUT")
		consoleShots(t, ctx, shots, "routing", base+"routing", "#document")
	})

	t.Run("ForgedFormRefused", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"settings"), chromedp.WaitVisible(chromedp.ID("notifyUrl")),
			chromedp.SetValue(chromedp.ID("notifyUrl"), "https://evil.example/notify"),
			forgeTokens, markStale,
			chromedp.Click(chromedp.CSS(`form[action$="notify-url"] button`)), chromedp.WaitReady(chromedp.CSS(`html:not([data-stale]) body`))); err != nil {
			t.Fatalf("forged form: %v", err)
		}
		mustContain(t, "forged form", bodyText(t, ctx), "Forbidden")
		if n := g.count(`SELECT count(*) FROM merchants WHERE notify_url <> ''`); n != 0 {
			t.Errorf("a forged form changed a notify URL")
		}
		// The session's own cookie on a POST without a token, as another site's form would send
		// it (were SameSite not there too). The page's CSP forbids fetch, so Go sends it.
		session := browserCookie(t, ctx, base, "cardgate_console")
		req, _ := http.NewRequest("POST", base+"settings/notify-url", strings.NewReader(url.Values{"notifyUrl": {"https://evil.example/n"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "cardgate_console", Value: session})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("a POST without a token: HTTP %d, want 403", resp.StatusCode)
		}
		if n := g.count(`SELECT count(*) FROM merchants WHERE notify_url <> ''`); n != 0 {
			t.Errorf("a POST without a token changed a notify URL")
		}
		consoleShots(t, ctx, shots, "settings", base+"settings", "#gateway-key")
	})

	t.Run("AnotherMerchantsPaymentNotFound", func(t *testing.T) {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"payments/"+theirs.PaymentID))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 404 {
			t.Errorf("another merchant's payment: HTTP %d, want 404", resp.Status)
		}
		text := bodyText(t, ctx)
		mustContain(t, "another merchant's payment", text, "Not found")
		if strings.Contains(text, "Other shop") {
			t.Error("the not-found page names the other merchant")
		}
		resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(base+"payments/"+theirs.PaymentID+"?m="+other.ClientID))
		if err != nil || resp.Status != 404 {
			t.Errorf("another merchant's payment with its client id in the URL: %v %v, want 404", resp, err)
		}
	})

	t.Run("OtherPages", func(t *testing.T) {
		consoleShots(t, ctx, shots, "disputes", base+"disputes", "#disputes")
		mustContain(t, "disputes", bodyText(t, ctx), approved.PaymentID, "OPEN", "Supply defense")
		consoleShots(t, ctx, shots, "sandbox", base+"sandbox", "#now")
	})

	t.Run("SignOut", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(".signout button")), markStale,
			chromedp.Click(chromedp.CSS(".signout button")), nextPage("#username")); err != nil {
			t.Fatalf("sign out: %v", err)
		}
		if _, err := chromedp.Run(ctx, chromedp.NavigateResponse(paymentURL)); err != nil || !strings.Contains(mustLocation(ctx), "/dashboard/login?next=") {
			t.Errorf("a page after signing out: %v, at %s", err, mustLocation(ctx))
		}
	})
}

// browserCookie reads a cookie the browser holds for url.
func browserCookie(t *testing.T, ctx context.Context, url, name string) string {
	t.Helper()
	var value string
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
		for _, c := range res.Cookies {
			if c.Name == name {
				value = c.Value
			}
		}
		return err
	}))
	if err != nil || value == "" {
		t.Fatalf("cookie %s: %q %v", name, value, err)
	}
	return value
}

// longTab is a tab whose steps may take d in all (tab's limit is 20 s).
func longTab(t *testing.T, browser context.Context, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	ctx, stop := context.WithTimeout(ctx, d)
	t.Cleanup(stop)
	return ctx
}

// forgeTokens replaces the page's form tokens, as a forged form would carry.
var forgeTokens = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	_, err := chromedp.Evaluate[bool](`document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged'), true`)(ctx, t)
	return err
})

func mustLocation(ctx context.Context) string {
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// rcvCount counts the notifications about the payment that arrived.
func rcvCount(r *ntReceiver, paymentID string) int {
	n := 0
	for _, a := range r.all() {
		if strings.Contains(string(a.body), fmt.Sprintf("%q", paymentID)) {
			n++
		}
	}
	return n
}
