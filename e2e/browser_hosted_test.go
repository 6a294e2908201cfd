package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cardgate/cardgate/protocol"
)

// The hosted card page in a real browser: a pay without card data (seed 002-11) sends the buyer
// to normalUrl = /checkout/{token}; headless Chromium types the card with real key events, goes
// through 3-D Secure (a challenge or a frictionless pass) and lands on the merchant's page. Like
// browser_test.go, these tests fail, never skip, without Chromium, and save screenshots as test
// artifacts (with CARDGATE_UPDATE_SCREENSHOTS=1 also docs/screenshots/hosted-*.png).

// hbHostedRun is a gateway, a merchant return page and a browser for hosted-page tests.
type hbHostedRun struct {
	*tdsRun
	shop      *merchantSite
	browser   context.Context
	shots     *shots
	returnURL string
}

// hbHostedQuery is the query of the merchant's return page; it must come back untouched.
const hbHostedQuery = "order=H1&lang=en"

func hbNewHostedRun(t *testing.T) *hbHostedRun {
	t.Helper()
	r := newTDSRun(t)
	shop := newMerchantSite(t)
	// Started after the gateway and the shop so that it stops first: its keep-alive connections
	// would hold their graceful shutdown.
	browser := newBrowser(t)
	return &hbHostedRun{tdsRun: r, shop: shop, browser: browser, shots: newShots(t),
		returnURL: shop.URL + "/checkout/return?" + hbHostedQuery}
}

// hostedRequest is seed 002-11 (a pay without card data) with a fresh paymentRequestId and the
// local return page.
func (h *hbHostedRun) hostedRequest(t *testing.T) *protocol.PayRequest {
	t.Helper()
	raw, err := os.ReadFile("testdata/fixtures/002-11-pay-request.json")
	if err != nil {
		t.Fatal(err)
	}
	var req protocol.PayRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatalf("seed 002-11: %v", err)
	}
	if req.PaymentMethod == nil || req.PaymentMethod.PaymentMethodMetaData != nil {
		t.Fatalf("seed 002-11 is not a pay without card data: %s", raw)
	}
	req.PaymentRequestID = newRequestID("hosted")
	req.PaymentRedirectURL = h.returnURL
	req.PaymentNotifyURL = "http://127.0.0.1:9/notify"
	return &req
}

// open pays req and returns the paymentId and the card page the answer sends the buyer to.
func (h *hbHostedRun) open(t *testing.T, req *protocol.PayRequest) (paymentID, normalURL string) {
	t.Helper()
	resp, raw := h.pay(t, req)
	if resp.Result.ResultStatus != "U" || resp.Result.ResultCode != "PAYMENT_IN_PROCESS" {
		t.Fatalf("hosted pay result %+v, want U/PAYMENT_IN_PROCESS: %s", resp.Result, raw)
	}
	if resp.PaymentID == "" || !strings.HasPrefix(resp.NormalURL, h.g.url+"/checkout/") {
		t.Fatalf("paymentId %q normalUrl %q, want a page under %s/checkout/", resp.PaymentID, resp.NormalURL, h.g.url)
	}
	if f := resp.RedirectActionForm; f == nil || f.RedirectURL != resp.NormalURL {
		t.Errorf("redirectActionForm %+v, want the normalUrl %s", f, resp.NormalURL)
	}
	return resp.PaymentID, resp.NormalURL
}

// openPage opens url in a new tab with the viewport and waits for the card number field.
func (h *hbHostedRun) openPage(t *testing.T, url string, steps ...chromedp.Action[chromedp.Void]) context.Context {
	t.Helper()
	ctx := tab(t, h.browser)
	steps = append(steps, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("cardNo")), hbWatchCSP)
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("open the card page %s: %v", url, err)
	}
	return ctx
}

// html returns the open page's markup; keep adds it to the card-data scan.
func (h *hbHostedRun) html(t *testing.T, ctx context.Context, keep bool) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatalf("read page: %v", err)
	}
	if keep {
		// The sandbox hint names the test card 4242 4242 4242 4242 on purpose; the rest of the
		// page must not hold a card number.
		kept := hbSandboxHint.ReplaceAllString(s, "")
		h.keep("browser page", []byte(kept))
	}
	return s
}

// landed checks that the browser is on the merchant's return page, reached by a plain GET of
// paymentRedirectUrl with nothing appended and no Referer. It reports whether it got there; when
// it did not, it says why if the page's Content-Security-Policy blocked the way (hbWatchCSP).
func (h *hbHostedRun) landed(t *testing.T, ctx context.Context) bool {
	t.Helper()
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := chromedp.Do(wait, chromedp.WaitVisible(chromedp.ID("thanks"))); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		csp, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.cspViolations || []`))
		t.Errorf("did not land on the merchant's page (still at %s; CSP violations %q; merchant visits %d): %v",
			loc, csp, hbVisits(h.shop), err)
		return false
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || loc != h.returnURL {
		t.Errorf("landed on %q (%v), want %q exactly", loc, err, h.returnURL)
	}
	v := h.shop.lastVisit(t)
	if v.Method != http.MethodGet || v.URL.Path != "/checkout/return" || v.URL.RawQuery != hbHostedQuery {
		t.Errorf("merchant got %s %s, want GET /checkout/return?%s with nothing appended", v.Method, v.URL, hbHostedQuery)
	}
	if ref := v.Header.Get("Referer"); ref != "" {
		t.Errorf("the payment pages leaked their address to the merchant: Referer %q", ref)
	}
	return true
}

func hbVisits(m *merchantSite) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.visits)
}

// hbWatchCSP records the page's Content-Security-Policy violations in window.cspViolations, for
// landed's report: a blocked form redirect leaves the browser silently on the page.
var hbWatchCSP = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	_, err := chromedp.Evaluate[bool](`window.cspViolations = [], document.addEventListener("securitypolicyviolation",
	  e => window.cspViolations.push(e.violatedDirective + " blocked " + e.blockedURI)), true`)(ctx, t)
	return err
})

// hbClearField empties a field as the buyer does: select all, then Backspace.
func hbClearField(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.getElementById(`+hbJsString(id)+`).select(), true`)(ctx, t)
			return err
		}),
		chromedp.SendKeys(chromedp.ID(id), kb.Backspace),
	)
}

// hbVisitedChallenge reports whether the tab's history holds a challenge page.
func hbVisitedChallenge(t *testing.T, ctx context.Context) bool {
	t.Helper()
	hist, err := chromedp.Run(ctx, chromedp.NavigationEntries())
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	for _, e := range hist.Entries {
		if strings.Contains(e.URL, "/threeds/") {
			return true
		}
	}
	return false
}

// hbCardForm is what the buyer types.
type hbCardForm struct{ number, month, year, cvv, name string }

// hbTypeCard types every field with real key events.
func hbTypeCard(f hbCardForm) chromedp.Action[chromedp.Void] {
	var steps []chromedp.Action[chromedp.Void]
	for _, fv := range []struct{ id, v string }{
		{"cardNo", f.number}, {"expiryMonth", f.month}, {"expiryYear", f.year}, {"cvv", f.cvv}, {"cardholderName", f.name},
	} {
		if fv.v != "" {
			steps = append(steps, chromedp.SendKeys(chromedp.ID(fv.id), fv.v))
		}
	}
	return chromedp.Steps(steps...)
}

var hbSandboxHint = regexp.MustCompile(`<p class="hint">Sandbox: use a test card[^<]*</p>`)

var hbPayButton = chromedp.CSS(`form button[type="submit"]`)

// hbBrandIs waits (JavaScript on) until the brand hint reads want.
func hbBrandIs(want string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](`document.getElementById("brand").textContent.trim() === "`+want+`"`,
			chromedp.WithPollingTimeout(3*time.Second))(ctx, t)
		return err
	})
}

func hbText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+hbJsString(sel)+`) || {textContent: "<absent>"}).textContent.trim()`))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func hbJsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBrowserHostedChallenge: the hosted card page with JavaScript, a challenged card, the code,
// and back to the merchant.
func TestBrowserHostedChallenge(t *testing.T) {
	t.Parallel()
	h := hbNewHostedRun(t)
	h.used("4242424242424242", "761")
	paymentID, normalURL := h.open(t, h.hostedRequest(t))

	ctx := h.openPage(t, normalURL, desktop)
	page := h.html(t, ctx, true)
	for _, want := range []string{"42.00 SGD", "antom testing order", "Sandbox merchant", "Pay 42.00 SGD"} {
		if !strings.Contains(page, want) {
			t.Errorf("card page lacks %q", want)
		}
	}
	if title, err := chromedp.Run(ctx, chromedp.Title()); err != nil || title != "Pay by card · Sandbox merchant" {
		t.Errorf("title %q (%v)", title, err)
	}
	if b := hbText(t, ctx, "#brand"); b != "" {
		t.Errorf("brand %q before typing", b)
	}
	// The brand shows as the buyer types, before the number is complete.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("cardNo"), "4242"), hbBrandIs("VISA")); err != nil {
		t.Fatalf("brand while typing 4242: %q (%v), want VISA", hbText(t, ctx, "#brand"), err)
	}
	if err := chromedp.Do(ctx, hbTypeCard(hbCardForm{" 4242 4242 4242", "12", "30", "761", "Alan Wallex"})); err != nil {
		t.Fatalf("type the card: %v", err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("cardNo"))); err != nil || n != "4242 4242 4242 4242" {
		t.Errorf("card number field %q (%v)", n, err)
	}
	if b := hbText(t, ctx, "#brand"); b != "VISA" {
		t.Errorf("brand %q after the whole number, want VISA", b)
	}
	h.shots.take(t, ctx, "hosted-card-filled", "hosted-card-filled.png", 1280, 800)

	if err := chromedp.Do(ctx, chromedp.Click(hbPayButton), chromedp.WaitVisible(chromedp.ID("otp"))); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("pay: no challenge page (at %s): %v", loc, err)
	}
	// The same token leads on from the card page to the issuer's page.
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != strings.Replace(normalURL, "/checkout/", "/threeds/", 1) {
		t.Errorf("challenge at %q (%v), want the card page's token under /threeds/", loc, err)
	}
	page = h.html(t, ctx, true)
	for _, want := range []string{"42.00 SGD", "•••• 4242", "VISA", "antom testing order"} {
		if !strings.Contains(page, want) {
			t.Errorf("challenge page lacks %q", want)
		}
	}
	h.shots.take(t, ctx, "hosted-challenge", "hosted-challenge.png", 1280, 800)
	if err := chromedp.Do(ctx, enterCode("1234")); err != nil {
		t.Fatalf("enter code: %v", err)
	}
	h.landed(t, ctx)

	inq := h.inquire(t, paymentID)
	if inq.PaymentStatus != "SUCCESS" || inq.PaymentResultCode != "SUCCESS" {
		t.Fatalf("inquiry %s/%s, want SUCCESS", inq.PaymentStatus, inq.PaymentResultCode)
	}
	authenticated(t, "inquiry paymentResultInfo", inq.PaymentResultInfo.ThreeDSResult, true)
	if no := inq.PaymentResultInfo.CardNo; !strings.HasSuffix(no, "4242") || strings.HasPrefix(no, "424242424242") {
		t.Errorf("inquiry cardNo %q", inq.PaymentResultInfo.CardNo)
	}
	if inq.CardInfo != nil && inq.CardInfo.CardToken != "" {
		t.Errorf("card saved (cardToken %q) without tokenizeMode", inq.CardInfo.CardToken)
	}

	// Back on the card page: the finished payment and a way back to the shop, no form.
	if err := chromedp.Do(ctx, chromedp.Navigate(normalURL), chromedp.WaitVisible(chromedp.CSS("a.back"))); err != nil {
		t.Fatalf("reopen %s: %v", normalURL, err)
	}
	if page := h.html(t, ctx, true); !strings.Contains(page, "Payment authorized") || strings.Contains(page, `id="cardNo"`) {
		t.Errorf("card page after the payment:\n%s", page)
	}
	if c := h.authEvents(t, paymentID, "AUTH_APPROVED"); c != 1 {
		t.Errorf("AUTH_APPROVED events: %d, want 1", c)
	}
	if !t.Failed() {
		h.scan(t, "running")
	}
}

// TestBrowserHostedValidation: a refused form tells the buyer what to fix next to each field and
// keeps what they typed, except the card number and the security code, which the page never
// writes back; the corrected card passes 3-D Secure frictionlessly.
func TestBrowserHostedValidation(t *testing.T) {
	t.Parallel()
	h := hbNewHostedRun(t)
	h.used("4000000000003220", "762")
	paymentID, normalURL := h.open(t, h.hostedRequest(t))
	ctx := h.openPage(t, normalURL, desktop)

	bad := hbCardForm{number: "4242 4242 4242 4241", month: "13", year: "30", cvv: "762"} // Luhn fails; no name
	if err := chromedp.Do(ctx, hbTypeCard(bad), chromedp.Click(hbPayButton), chromedp.WaitVisible(chromedp.ID("summary"))); err != nil {
		t.Fatalf("submit the invalid card: no error summary: %v", err)
	}
	if role, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("summary"), "role")); err != nil || role.Value != "alert" {
		t.Errorf("summary role %q (%v), want alert", role.Value, err)
	}
	for sel, want := range map[string]string{
		"#cardNo-msg":         "This card number is not valid. Check it and try again.",
		"#expiry-msg":         "The expiry month must be 1 to 12.",
		"#cardholderName-msg": "Enter the name on the card.",
		"#cvv-msg":            "<absent>",
	} {
		if got := hbText(t, ctx, sel); got != want {
			t.Errorf("%s: %q, want %q", sel, got, want)
		}
	}
	for id, want := range map[string]string{"cardNo": "true", "expiryMonth": "true", "expiryYear": "true", "cardholderName": "true", "cvv": ""} {
		if a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID(id), "aria-invalid")); err != nil || a.Value != want {
			t.Errorf("#%s aria-invalid %q (%v), want %q", id, a.Value, err, want)
		}
	}
	for id, want := range map[string]string{"cardNo": "", "expiryMonth": "13", "expiryYear": "30", "cvv": "", "cardholderName": ""} {
		if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID(id))); err != nil || v != want {
			t.Errorf("#%s after the refused post: %q (%v), want %q", id, v, err, want)
		}
	}
	// The page as the browser holds it: no card number in any form, no security code.
	page := h.html(t, ctx, true)
	for _, secret := range []string{"4242 4242 4242 4241", "4242424242424241", "762"} {
		if strings.Contains(hbSandboxHint.ReplaceAllString(page, ""), secret) {
			t.Errorf("the refused page writes %q back", secret)
		}
	}
	// Each message sits right under its field and is tied to it for screen readers.
	var near []string
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var err error
		near, err = chromedp.Evaluate[[]string](`(() => {
		  const bad = [];
		  for (const [field, msg] of [["cardNo", "cardNo-msg"], ["expiryYear", "expiry-msg"], ["cardholderName", "cardholderName-msg"]]) {
		    const f = document.getElementById(field).getBoundingClientRect(), m = document.getElementById(msg).getBoundingClientRect();
		    const gap = m.top - f.bottom;
		    if (gap < 0 || gap > 24 || m.left > f.right || m.right < f.left) bad.push(msg + " is " + gap + "px from #" + field);
		  }
		  for (const [el, msg] of [["#cardNo", "cardNo-msg"], ["#cardholderName", "cardholderName-msg"], ["fieldset", "expiry-msg"]]) {
		    if ((document.querySelector(el).getAttribute("aria-describedby") || "") !== msg) bad.push(el + " not described by " + msg);
		  }
		  return bad;
		})()`)(ctx, tg)
		return err
	}))
	if err != nil || len(near) > 0 {
		t.Errorf("messages next to the fields: %v (%v)", near, err)
	}
	if b := hbText(t, ctx, "#brand"); b != "" {
		t.Errorf("brand %q on the refused page, whose number field is empty", b)
	}
	h.shots.take(t, ctx, "hosted-card-errors", "hosted-card-errors.png", 1280, 800)

	// Corrected: another card, a real month, the name; the security code again.
	if err := chromedp.Do(ctx,
		hbWatchCSP, hbClearField("cardNo"), hbClearField("expiryMonth"),
		hbTypeCard(hbCardForm{number: "4000 0000 0000 3220", month: "07", cvv: "762", name: "Alan Wallex"}),
		chromedp.Click(hbPayButton)); err != nil {
		t.Fatalf("submit the corrected card: %v", err)
	}
	h.landed(t, ctx)
	if hbVisitedChallenge(t, ctx) {
		t.Errorf("a frictionless card was shown the challenge page")
	}
	inq := h.inquire(t, paymentID)
	if inq.PaymentStatus != "SUCCESS" || inq.PaymentResultCode != "SUCCESS" {
		t.Fatalf("inquiry %s/%s, want SUCCESS", inq.PaymentStatus, inq.PaymentResultCode)
	}
	authenticated(t, "inquiry paymentResultInfo", inq.PaymentResultInfo.ThreeDSResult, false)
	if got := inq.PaymentResultInfo.ExpiryMonth; got != "" && got != "07" {
		t.Errorf("expiryMonth %q, want the corrected 07", got)
	}
	if !t.Failed() {
		h.scan(t, "running")
	}
}

// TestBrowserHostedWrongCodeThreeTimes: three wrong codes end the hosted payment; the buyer is
// told so, with a way back to the shop.
func TestBrowserHostedWrongCodeThreeTimes(t *testing.T) {
	t.Parallel()
	h := hbNewHostedRun(t)
	h.used("4242424242424242", "763")
	paymentID, normalURL := h.open(t, h.hostedRequest(t))
	ctx := h.openPage(t, normalURL, desktop)
	if err := chromedp.Do(ctx, hbTypeCard(hbCardForm{"4242424242424242", "01", "2031", "763", "Alan Wallex"}),
		chromedp.Click(hbPayButton), chromedp.WaitVisible(chromedp.ID("otp"))); err != nil {
		t.Fatalf("pay: no challenge page: %v", err)
	}
	for i, left := range []string{"2 attempts left", "1 attempt left"} {
		if err := chromedp.Do(ctx, markStale, enterCode("000"+string(rune('1'+i))),
			chromedp.WaitVisible(chromedp.CSS(`html:not([data-stale]) [role="alert"]`))); err != nil {
			t.Fatalf("wrong code %d: no error shown: %v", i+1, err)
		}
		if msg := hbText(t, ctx, `[role="alert"]`); !strings.Contains(msg, left) {
			t.Errorf("wrong code %d: %q, want %q", i+1, msg, left)
		}
	}
	if err := chromedp.Do(ctx, enterCode("9999")); err != nil {
		t.Fatalf("third code: %v", err)
	}
	// The product sends the buyer back to the shop at once (nothing appended), as after a
	// passed challenge: the merchant learns the result by inquiry or notification.
	h.landed(t, ctx)
	inq := h.inquire(t, paymentID)
	if inq.PaymentStatus != "FAIL" || inq.PaymentResultCode != "VERIFY_TIMES_EXCEED_LIMIT" {
		t.Fatalf("inquiry %s/%s, want FAIL/VERIFY_TIMES_EXCEED_LIMIT", inq.PaymentStatus, inq.PaymentResultCode)
	}
	if c := h.authEvents(t, paymentID, "AUTH_APPROVED"); c != 0 {
		t.Errorf("AUTH_APPROVED events after a failed challenge: %d", c)
	}

	// The buyer's link (normalUrl) now says the payment was not completed and leads back.
	if err := chromedp.Do(ctx, chromedp.Navigate(normalURL), chromedp.WaitVisible(chromedp.CSS("a.back"))); err != nil {
		t.Fatalf("reopen %s: %v", normalURL, err)
	}
	page := h.html(t, ctx, true)
	if !strings.Contains(page, "not completed") || strings.Contains(page, `id="cardNo"`) {
		t.Errorf("card page after the failure:\n%s", page)
	}
	if back := hbText(t, ctx, "a.back"); back != "Return to Sandbox merchant" {
		t.Errorf("link back %q", back)
	}
	h.shots.take(t, ctx, "hosted-failed", "hosted-failed.png", 1280, 800)
	// The issuer's page says the same, and a new code changes nothing.
	threeds := strings.Replace(normalURL, "/checkout/", "/threeds/", 1)
	if err := chromedp.Do(ctx, chromedp.Navigate(threeds), chromedp.WaitVisible(chromedp.CSS("a.back"))); err != nil {
		t.Fatalf("open %s: %v", threeds, err)
	}
	if page := h.html(t, ctx, true); !strings.Contains(page, "not completed") || strings.Contains(page, `id="otp"`) {
		t.Errorf("challenge page after the failure:\n%s", page)
	}
	if status, loc, _ := h.submit(t, threeds, "1234"); status != http.StatusSeeOther || loc != h.returnURL {
		t.Errorf("the right code after the failure: %d %q, want 303 back to the shop", status, loc)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("a.back"))); err != nil {
		t.Fatalf("follow the link back: %v", err)
	}
	h.landed(t, ctx)
	if inq := h.inquire(t, paymentID); inq.PaymentStatus != "FAIL" {
		t.Errorf("inquiry after a late right code: %s", inq.PaymentStatus)
	}
	if !t.Failed() {
		h.scan(t, "running")
	}
}

// TestBrowserHostedNoJavaScript: with JavaScript off the whole flow works, a refused post included
// (the buyer types the number again: the server never writes it back).
func TestBrowserHostedNoJavaScript(t *testing.T) {
	t.Parallel()
	h := hbNewHostedRun(t)
	h.used("5555555555554444", "764")
	paymentID, normalURL := h.open(t, h.hostedRequest(t))
	ctx := h.openPage(t, normalURL, noScript, phone)
	// No script runs: the hint stays empty while typing.
	if err := chromedp.Do(ctx, hbTypeCard(hbCardForm{number: "5555 5555 5555 4444", month: "12", year: "30", name: "Alan Wallex"})); err != nil {
		t.Fatalf("type the card: %v", err)
	}
	if b := hbText(t, ctx, "#brand"); b != "" {
		t.Errorf("brand %q with JavaScript off: is script really off?", b)
	}
	// Forgot the security code.
	if err := chromedp.Do(ctx, chromedp.Click(hbPayButton), chromedp.WaitVisible(chromedp.ID("summary"))); err != nil {
		t.Fatalf("submit without a security code: %v", err)
	}
	if msg := hbText(t, ctx, "#cvv-msg"); msg != "Enter the security code." {
		t.Errorf("#cvv-msg %q", msg)
	}
	if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("cardNo"))); err != nil || v != "" {
		t.Errorf("#cardNo after the refused post: %q (%v), want it empty", v, err)
	}
	if got := hbText(t, ctx, "#cardNo-note"); got != "Enter the card number again." {
		t.Errorf("#cardNo-note %q, want the buyer told to type the number again", got)
	}
	if page := h.html(t, ctx, true); strings.Contains(page, "5555 5555 5555 4444") {
		t.Errorf("the refused page writes the card number back")
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("cardNo"), "5555 5555 5555 4444"), chromedp.SendKeys(chromedp.ID("cvv"), "764"), chromedp.Click(hbPayButton),
		chromedp.WaitVisible(chromedp.ID("otp"))); err != nil {
		t.Fatalf("pay: no challenge page: %v", err)
	}
	if page := h.html(t, ctx, true); !strings.Contains(page, "•••• 4444") || !strings.Contains(page, "MASTERCARD") {
		t.Errorf("challenge page lacks the card")
	}
	h.shots.take(t, ctx, "hosted-challenge-nojs-phone", "", 780, 1688)
	if err := chromedp.Do(ctx, enterCode("1234")); err != nil {
		t.Fatalf("enter code: %v", err)
	}
	h.landed(t, ctx)
	inq := h.inquire(t, paymentID)
	if inq.PaymentStatus != "SUCCESS" {
		t.Fatalf("inquiry %s/%s, want SUCCESS", inq.PaymentStatus, inq.PaymentResultCode)
	}
	if r := inq.PaymentResultInfo.ThreeDSResult; r == nil || r.ECI != "02" || r.CAVV == "" || !r.Challenged {
		t.Errorf("threeDSResult %+v, want Mastercard's eci 02, a cavv, challenged", r)
	}
	if !t.Failed() {
		h.scan(t, "running")
	}
}

// TestBrowserHostedSaveCardConsent: with tokenizeMode ASKFORCONSENT the page asks; a ticked box
// saves the card, an unticked one does not; without ASKFORCONSENT there is no box.
func TestBrowserHostedSaveCardConsent(t *testing.T) {
	t.Parallel()
	h := hbNewHostedRun(t)
	h.used("4000000000003220", "765")
	withMode := func(mode string) *protocol.PayRequest {
		req := h.hostedRequest(t)
		if mode != "" {
			req.PaymentMethod.PaymentMethodMetaData = &protocol.CardMetaData{TokenizeMode: mode}
		}
		return req
	}
	const box = `input[type="checkbox"][name="saveCard"]`
	pay := func(t *testing.T, ctx context.Context) {
		t.Helper()
		if err := chromedp.Do(ctx, hbTypeCard(hbCardForm{"4000000000003220", "06", "30", "765", "Alan Wallex"}), chromedp.Click(hbPayButton)); err != nil {
			t.Fatalf("pay: %v", err)
		}
		h.landed(t, ctx)
	}

	t.Run("Ticked", func(t *testing.T) {
		paymentID, normalURL := h.open(t, withMode("ASKFORCONSENT"))
		ctx := h.openPage(t, normalURL, desktop)
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(box))); err != nil {
			t.Fatalf("no visible save-card box: %v", err)
		}
		label, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const b = document.querySelector(`+hbJsString(box)+`);
		  return b.checked ? "checked by default" : (b.labels.length ? b.labels[0].textContent.replace(/\s+/g, " ").trim() : ""); })()`))
		if err != nil || label != "Save this card with Sandbox merchant for faster checkout next time" {
			t.Errorf("save-card box label %q (%v)", label, err)
		}
		// The buyer clicks the words, not the small box: the label carries the click.
		if err := chromedp.Do(ctx, hbTypeCard(hbCardForm{"4000 0000 0000 3220", "06", "30", "765", "Alan Wallex"}),
			chromedp.Click(chromedp.CSS("label.save span"))); err != nil {
			t.Fatal(err)
		}
		if checked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector(`+hbJsString(box)+`).checked`)); err != nil || !checked {
			t.Errorf("a click on the label did not tick the box (%v)", err)
		}
		h.shots.take(t, ctx, "hosted-card-save", "hosted-card-save.png", 1280, 800)
		if err := chromedp.Do(ctx, chromedp.Click(hbPayButton)); err != nil {
			t.Fatalf("pay: %v", err)
		}
		h.landed(t, ctx)
		inq := h.inquire(t, paymentID)
		if inq.PaymentStatus != "SUCCESS" {
			t.Fatalf("inquiry %s/%s, want SUCCESS", inq.PaymentStatus, inq.PaymentResultCode)
		}
		if inq.CardInfo == nil || inq.CardInfo.CardToken == "" {
			t.Errorf("inquiry cardInfo %+v: no cardToken after the buyer agreed to save the card", inq.CardInfo)
		}
	})

	t.Run("Unticked", func(t *testing.T) {
		paymentID, normalURL := h.open(t, withMode("ASKFORCONSENT"))
		ctx := h.openPage(t, normalURL, desktop)
		pay(t, ctx)
		inq := h.inquire(t, paymentID)
		if inq.PaymentStatus != "SUCCESS" {
			t.Fatalf("inquiry %s/%s, want SUCCESS", inq.PaymentStatus, inq.PaymentResultCode)
		}
		if inq.CardInfo != nil && inq.CardInfo.CardToken != "" {
			t.Errorf("card saved (cardToken %q) though the buyer did not agree", inq.CardInfo.CardToken)
		}
	})

	t.Run("NotAsked", func(t *testing.T) {
		for _, mode := range []string{"", "ENABLED", "DISABLED"} {
			_, normalURL := h.open(t, withMode(mode))
			ctx := h.openPage(t, normalURL, desktop)
			if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('input[type="checkbox"], [name="saveCard"]').length`)); err != nil || n != 0 {
				t.Errorf("tokenizeMode %q: %d save-card boxes (%v), want none", mode, n, err)
			}
		}
	})

	if !t.Failed() {
		h.scan(t, "running")
	}
}

// hbCardLayout is what the browser measured of the open card page.
type hbCardLayout struct {
	ScrollWidth  float64  `json:"scrollWidth"`
	Viewport     float64  `json:"viewport"`
	ViewportH    float64  `json:"viewportH"`
	ButtonTop    float64  `json:"buttonTop"`
	ButtonBottom float64  `json:"buttonBottom"`
	ButtonLeft   float64  `json:"buttonLeft"`
	ButtonRight  float64  `json:"buttonRight"`
	ButtonHeight float64  `json:"buttonHeight"`
	Button       string   `json:"button"`
	MinInput     float64  `json:"minInput"`
	MinInputID   string   `json:"minInputId"`
	MinFont      float64  `json:"minFont"`
	Unlabelled   []string `json:"unlabelled"`
	Outside      []string `json:"outside"`
	Overlaps     []string `json:"overlaps"`
	RowSkew      float64  `json:"rowSkew"`
	Resources    int      `json:"resources"`
}

// hbMeasureCard scrolls the Pay button into view (as the buyer does) and measures the page.
const hbMeasureCard = `(() => {
  const vw = window.innerWidth, vh = window.innerHeight;
  const inputs = [...document.querySelectorAll('form input[type="text"]')];
  let minInput = Infinity, minInputId = "", minFont = Infinity;
  const unlabelled = [], outside = [], overlaps = [];
  for (const i of inputs) {
    const r = i.getBoundingClientRect();
    if (r.height < minInput) { minInput = r.height; minInputId = i.id; }
    minFont = Math.min(minFont, parseFloat(getComputedStyle(i).fontSize));
    if (!(i.labels && i.labels.length) && !i.getAttribute("aria-label")) unlabelled.push(i.id);
  }
  for (const e of document.querySelectorAll("main, main *")) {
    const r = e.getBoundingClientRect();
    if (r.width && (r.left < -0.5 || r.right > vw + 0.5)) outside.push(e.tagName + (e.id ? "#" + e.id : ""));
  }
  // Fields, labels and messages must not overlap one another.
  const boxes = [...document.querySelectorAll("form input, form label, form legend, form .msg, form button")]
    .filter(e => !e.closest("label.save") || e.matches("label.save"))
    .map(e => [e.tagName + (e.id ? "#" + e.id : e.className ? "." + e.className : ""), e.getBoundingClientRect()]);
  for (let a = 0; a < boxes.length; a++) for (let b = a + 1; b < boxes.length; b++) {
    const [na, ra] = boxes[a], [nb, rb] = boxes[b];
    if (ra.width && rb.width && ra.left < rb.right - 1 && rb.left < ra.right - 1 && ra.top < rb.bottom - 1 && rb.top < ra.bottom - 1) overlaps.push(na + "/" + nb);
  }
  const m = document.getElementById("expiryMonth").getBoundingClientRect(), c = document.getElementById("cvv").getBoundingClientRect();
  const btn = document.querySelector('form button[type="submit"]');
  btn.scrollIntoView({block: "nearest"});
  const b = btn.getBoundingClientRect();
  return {
    scrollWidth: document.documentElement.scrollWidth, viewport: vw, viewportH: vh,
    buttonTop: b.top, buttonBottom: b.bottom, buttonLeft: b.left, buttonRight: b.right, buttonHeight: b.height,
    button: btn.textContent.trim(), minInput, minInputId, minFont, unlabelled, outside, overlaps,
    rowSkew: Math.abs(m.top - c.top), resources: performance.getEntriesByType("resource").length,
  };
})()`

// TestBrowserHostedLayout: the card page on a phone and a desktop, open, refused and with the
// consent box: no sideways scrolling, tappable fields, the Pay button reachable, nothing overlaps.
func TestBrowserHostedLayout(t *testing.T) {
	t.Parallel()
	h := hbNewHostedRun(t)
	h.used("4242424242424242", "766")
	viewports := []struct {
		name          string
		emulate       chromedp.Action[chromedp.Void]
		width, height int
		pngW, pngH    int
	}{
		{"desktop", desktop, 1280, 800, 1280, 800},
		{"phone", phone, 390, 844, 780, 1688},
	}
	check := func(t *testing.T, ctx context.Context, name string, width, height int) {
		t.Helper()
		m, err := chromedp.Run(ctx, chromedp.Evaluate[hbCardLayout](hbMeasureCard))
		if err != nil {
			t.Fatalf("%s: measure: %v", name, err)
		}
		if m.Viewport != float64(width) || m.ScrollWidth > m.Viewport {
			t.Errorf("%s: page is %v wide in a %v viewport (horizontal scrolling)", name, m.ScrollWidth, m.Viewport)
		}
		if len(m.Outside) > 0 {
			t.Errorf("%s: elements cut off at the sides: %v", name, m.Outside)
		}
		if m.ButtonTop < 0 || m.ButtonLeft < 0 || m.ButtonRight > m.Viewport || m.ButtonBottom > m.ViewportH || m.ButtonHeight < 44 {
			t.Errorf("%s: Pay button not fully visible after scrolling, or under 44px: %+v", name, m)
		}
		if !strings.HasPrefix(m.Button, "Pay ") {
			t.Errorf("%s: button %q", name, m.Button)
		}
		if m.MinInput < 44 {
			t.Errorf("%s: field #%s is %vpx tall, under the 44px touch size", name, m.MinInputID, m.MinInput)
		}
		if m.MinFont < 16 {
			t.Errorf("%s: a field's font is %vpx: phones zoom into fields under 16px", name, m.MinFont)
		}
		if len(m.Unlabelled) > 0 {
			t.Errorf("%s: fields without a label: %v", name, m.Unlabelled)
		}
		if len(m.Overlaps) > 0 {
			t.Errorf("%s: overlapping elements: %v", name, m.Overlaps)
		}
		if m.RowSkew > 1 {
			// Reported, not failed: a label wrapping over two lines pushes the security code
			// field below the expiry fields on narrow screens.
			t.Logf("%s: the security code field sits %vpx off the expiry fields", name, m.RowSkew)
		}
		if m.Resources != 0 {
			t.Errorf("%s: the page loaded %d resources: it must carry everything itself", name, m.Resources)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`)); err != nil {
			t.Fatal(err)
		}
	}

	_, normalURL := h.open(t, h.hostedRequest(t))
	for _, vp := range viewports {
		ctx := h.openPage(t, normalURL, vp.emulate)
		h.html(t, ctx, true)
		h.shots.take(t, ctx, "hosted-card-"+vp.name, "hosted-card-"+vp.name+".png", vp.pngW, vp.pngH)
		check(t, ctx, "open "+vp.name, vp.width, vp.height)
		// Other brands in the hint while typing.
		if vp.name == "desktop" {
			for _, c := range []struct{ prefix, brand string }{{"5555", "MASTERCARD"}, {"3782", "AMEX"}, {"4", "VISA"}} {
				if err := chromedp.Do(ctx, hbClearField("cardNo"), hbBrandIs(""), chromedp.SendKeys(chromedp.ID("cardNo"), c.prefix), hbBrandIs(c.brand)); err != nil {
					t.Errorf("brand after %s: %q (%v), want %s", c.prefix, hbText(t, ctx, "#brand"), err, c.brand)
				}
			}
			continue
		}
		// On the phone: every field refused at once, the longest the page gets.
		if err := chromedp.Do(ctx, chromedp.Click(hbPayButton), chromedp.WaitVisible(chromedp.ID("summary"))); err != nil {
			t.Fatalf("submit the empty form: %v", err)
		}
		for _, id := range []string{"cardNo-msg", "expiry-msg", "cvv-msg", "cardholderName-msg"} {
			if hbText(t, ctx, "#"+id) == "<absent>" {
				t.Errorf("empty form: no #%s", id)
			}
		}
		check(t, ctx, "refused "+vp.name, vp.width, vp.height)
		h.shots.take(t, ctx, "hosted-card-errors-phone", "hosted-card-errors-phone.png", vp.pngW, vp.pngH)
	}

	req := h.hostedRequest(t)
	req.PaymentMethod.PaymentMethodMetaData = &protocol.CardMetaData{TokenizeMode: "ASKFORCONSENT"}
	_, consentURL := h.open(t, req)
	ctx := h.openPage(t, consentURL, phone)
	check(t, ctx, "consent phone", 390, 844)
	h.shots.take(t, ctx, "hosted-card-save-phone", "", 780, 1688)
	size, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const l = document.querySelector("label.save").getBoundingClientRect();
	  const b = document.querySelector("label.save input").getBoundingClientRect(); return [l.height, b.width, b.height]; })()`))
	if err != nil || len(size) != 3 {
		t.Fatalf("measure the consent box: %v", err)
	}
	if size[0] < 24 {
		t.Errorf("consent label %vpx tall: too small a target", size[0])
	}
	t.Logf("consent: label %vpx tall, checkbox %vx%vpx", size[0], size[1], size[2])
	if !t.Failed() {
		h.scan(t, "running")
	}
}
