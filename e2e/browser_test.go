package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The buyer's side of 3-D Secure in a real browser: headless Chromium (the Debian package
// chromium, which .ci/run installs) opens normalUrl, types the code and submits the form, and
// lands on the merchant's page. The test fails, never skips, without Chromium: a green run means
// a browser ran.
//
// Screenshots of every page are saved as test artifacts; with CARDGATE_UPDATE_SCREENSHOTS=1 one of
// each page is also written to docs/screenshots for the README.

// chromiumPath is the browser to drive: $CARDGATE_TEST_CHROMIUM, else chromium on the PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CARDGATE_TEST_CHROMIUM")
	if path == "" {
		path = "chromium"
	}
	full, err := exec.LookPath(path)
	if err != nil {
		t.Fatalf("Chromium not found (%q: %v): install the Debian package chromium (apt-get install chromium; .ci/run does) or set CARDGATE_TEST_CHROMIUM", path, err)
	}
	return full
}

// syncWriter collects the browser's own output for the failure report.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 64<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// newBrowser starts headless Chromium with a fresh profile and stops it when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	out := &syncWriter{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(out),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.String())
		}
	})
	// The first Run starts the browser; it lives as long as bctx (no timeout on it).
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v\n%s", err, out.String())
	}
	return bctx
}

// tab opens a new tab of the browser, closed when the test ends, with a time limit for its steps.
func tab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	ctx, stop := context.WithTimeout(ctx, 20*time.Second)
	t.Cleanup(stop)
	return ctx
}

// noScript turns JavaScript off in the tab: the pages must work without it.
var noScript = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	return err
})

var (
	desktop = chromedp.EmulateViewport(1280, 800)
	phone   = chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait)
)

// shots saves screenshots as test artifacts and, when asked, as the committed copies in docs.
type shots struct {
	dir    string
	update bool
}

func newShots(t *testing.T) *shots {
	s := &shots{dir: t.TempDir(), update: os.Getenv("CARDGATE_UPDATE_SCREENSHOTS") == "1"}
	if s.update {
		if err := os.MkdirAll(filepath.Join("..", "docs", "screenshots"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// take captures the viewport as a PNG of the expected size; doc names the committed copy ("" for
// none).
func (s *shots) take(t *testing.T, ctx context.Context, name, doc string, width, height int) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(png))
	if err != nil || format != "png" || cfg.Width != width || cfg.Height != height {
		t.Errorf("screenshot %s: %s %dx%d (%v), want png %dx%d", name, format, cfg.Width, cfg.Height, err, width, height)
	}
	path := filepath.Join(s.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
	if s.update && doc != "" {
		docPath := filepath.Join("..", "docs", "screenshots", doc)
		if err := os.WriteFile(docPath, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", docPath)
	}
}

// merchantSite is the merchant's return page, recording how the browser arrived.
type merchantSite struct {
	*httptest.Server
	mu     sync.Mutex
	visits []*http.Request
}

func newMerchantSite(t *testing.T) *merchantSite {
	m := &merchantSite{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		m.mu.Lock()
		m.visits = append(m.visits, r.Clone(context.Background()))
		m.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><html lang="en"><title>Thank you</title>`+
			`<h1 id="thanks">Thank you for your order</h1><p>We are confirming your payment.</p></html>`)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *merchantSite) lastVisit(t *testing.T) *http.Request {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.visits) == 0 {
		t.Fatalf("the browser never reached the merchant's page")
	}
	return m.visits[len(m.visits)-1]
}

// markStale tags the current document so that a wait can tell the next page from this one.
var markStale = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	_, err := chromedp.Evaluate[bool](`document.documentElement.dataset.stale = "1", true`)(ctx, t)
	return err
})

// enterCode types a code into the page's field and presses Verify.
func enterCode(code string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("otp")),
		chromedp.SendKeys(chromedp.ID("otp"), code),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
}

// layout is what the browser measured of the open challenge page.
type layout struct {
	ScrollWidth  float64 `json:"scrollWidth"`
	Viewport     float64 `json:"viewport"`
	ButtonTop    float64 `json:"buttonTop"`
	ButtonBottom float64 `json:"buttonBottom"`
	ButtonLeft   float64 `json:"buttonLeft"`
	ButtonRight  float64 `json:"buttonRight"`
	ButtonHeight float64 `json:"buttonHeight"`
	InputHeight  float64 `json:"inputHeight"`
	FontSize     float64 `json:"fontSize"`
	Label        string  `json:"label"`
	Button       string  `json:"button"`
	Focused      string  `json:"focused"`
	Resources    int     `json:"resources"`
}

const measure = `(() => {
  const b = document.querySelector('form button[type="submit"]').getBoundingClientRect();
  const i = document.getElementById('otp');
  const l = document.querySelector('label[for="otp"]');
  return {
    scrollWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
    buttonTop: b.top, buttonBottom: b.bottom, buttonLeft: b.left, buttonRight: b.right, buttonHeight: b.height,
    inputHeight: i.getBoundingClientRect().height, fontSize: parseFloat(getComputedStyle(i).fontSize),
    label: l ? l.textContent.trim() : '', button: document.querySelector('form button').textContent.trim(),
    focused: document.activeElement ? document.activeElement.id : '',
    resources: performance.getEntriesByType('resource').length,
  };
})()`

// TestBrowserThreeDS: the 3-D Secure challenge page in headless Chromium.
func TestBrowserThreeDS(t *testing.T) {
	t.Parallel()
	r := newTDSRun(t)
	shop := newMerchantSite(t)
	// Started after the gateway so that it stops first: its keep-alive connections would hold the
	// gateway's graceful shutdown.
	browser := newBrowser(t)
	shots := newShots(t)
	returnURL := shop.URL + "/checkout/return?order=B1&lang=en"

	challenge := func(t *testing.T, pan, cvv string) (paymentID, normalURL string) {
		t.Helper()
		req := r.request(pan, cvv, true)
		req.PaymentRedirectURL = returnURL
		resp, raw := r.pay(t, req)
		return resp.PaymentID, r.challenged(t, resp, raw)
	}
	// keepHTML adds what the browser shows to the card-data scan.
	keepHTML := func(t *testing.T, ctx context.Context) string {
		t.Helper()
		h, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatalf("read page: %v", err)
		}
		r.keep("browser page", []byte(h))
		return h
	}
	landed := func(t *testing.T, ctx context.Context) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("thanks"))); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("did not land on the merchant's page (at %s): %v", loc, err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil || loc != returnURL {
			t.Errorf("landed on %q (%v), want %q exactly", loc, err, returnURL)
		}
		v := shop.lastVisit(t)
		if v.Method != http.MethodGet || v.URL.RawQuery != "order=B1&lang=en" {
			t.Errorf("merchant got %s %s, want GET with the query untouched", v.Method, v.URL)
		}
		if ref := v.Header.Get("Referer"); ref != "" {
			t.Errorf("the issuer page leaked its address to the merchant: Referer %q", ref)
		}
	}

	t.Run("ChallengeLayout", func(t *testing.T) {
		_, normalURL := challenge(t, "4242424242424242", "751")
		for _, vp := range []struct {
			name, doc     string
			emulate       chromedp.Action[chromedp.Void]
			width, height int
			pngW, pngH    int
		}{
			{"challenge-desktop", "challenge-desktop.png", desktop, 1280, 800, 1280, 800},
			{"challenge-phone", "challenge-phone.png", phone, 390, 844, 780, 1688},
		} {
			ctx := tab(t, browser)
			if err := chromedp.Do(ctx, vp.emulate, chromedp.Navigate(normalURL), chromedp.WaitVisible(chromedp.ID("otp"))); err != nil {
				t.Fatalf("%s: open %s: %v", vp.name, normalURL, err)
			}
			html := keepHTML(t, ctx)
			for _, want := range []string{"42.00 SGD", "•••• 4242", "VISA"} {
				if !strings.Contains(html, want) {
					t.Errorf("%s: page lacks %q", vp.name, want)
				}
			}
			m, err := chromedp.Run(ctx, chromedp.Evaluate[layout](measure))
			if err != nil {
				t.Fatalf("%s: measure: %v", vp.name, err)
			}
			if m.Viewport != float64(vp.width) || m.ScrollWidth > m.Viewport {
				t.Errorf("%s: page is %v wide in a %v viewport (horizontal scrolling)", vp.name, m.ScrollWidth, m.Viewport)
			}
			if m.ButtonLeft < 0 || m.ButtonRight > m.Viewport || m.ButtonBottom > float64(vp.height) || m.ButtonHeight < 44 || m.InputHeight < 44 {
				t.Errorf("%s: Verify button %+v or code field (%v high) not fully on the first screen at a tappable size", vp.name, m, m.InputHeight)
			}
			if m.FontSize < 16 {
				t.Errorf("%s: code field font %vpx: phones zoom into fields under 16px", vp.name, m.FontSize)
			}
			if m.Label == "" || m.Button != "Verify" || m.Focused != "otp" {
				t.Errorf("%s: label %q, button %q, focus on %q; want a labelled field with focus and a Verify button", vp.name, m.Label, m.Button, m.Focused)
			}
			if m.Resources != 0 {
				t.Errorf("%s: the page loaded %d resources: it must carry everything itself", vp.name, m.Resources)
			}
			shots.take(t, ctx, vp.name, vp.doc, vp.pngW, vp.pngH)
		}
	})

	t.Run("Challenge", func(t *testing.T) {
		paymentID, normalURL := challenge(t, "5555555555554444", "752")
		ctx := tab(t, browser)
		// Without JavaScript, as the pages promise.
		if err := chromedp.Do(ctx, noScript, desktop, chromedp.Navigate(normalURL), chromedp.WaitVisible(chromedp.ID("otp"))); err != nil {
			t.Fatalf("open %s: %v", normalURL, err)
		}
		keepHTML(t, ctx)
		shots.take(t, ctx, "challenge-open", "", 1280, 800)
		if err := chromedp.Do(ctx, enterCode("1234")); err != nil {
			t.Fatalf("enter code: %v", err)
		}
		landed(t, ctx)
		shots.take(t, ctx, "merchant-return", "", 1280, 800)

		inq := r.inquire(t, paymentID)
		if inq.PaymentStatus != "SUCCESS" || inq.PaymentResultCode != "SUCCESS" {
			t.Fatalf("inquiry %s/%s, want SUCCESS", inq.PaymentStatus, inq.PaymentResultCode)
		}
		res := inq.PaymentResultInfo.ThreeDSResult
		// Mastercard's ECI of a full authentication is 02.
		if res == nil || res.ThreeDSVersion != "2.2.0" || res.ECI != "02" || res.CAVV == "" || res.DSTransactionID == "" || !res.Challenged {
			t.Errorf("threeDSResult %+v", res)
		}

		// Back to the page (the browser's history): it shows the finished payment and a way back.
		if err := chromedp.Do(ctx, chromedp.Navigate(normalURL), chromedp.WaitVisible(chromedp.CSS("a.back"))); err != nil {
			t.Fatalf("reopen %s: %v", normalURL, err)
		}
		html := keepHTML(t, ctx)
		if !strings.Contains(html, "Payment authorized") || strings.Contains(html, `id="otp"`) {
			t.Errorf("finished page:\n%s", html)
		}
		shots.take(t, ctx, "challenge-done", "challenge-done.png", 1280, 800)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("a.back"))); err != nil {
			t.Fatalf("follow the link back: %v", err)
		}
		landed(t, ctx)
		if c := r.authEvents(t, paymentID, "AUTH_APPROVED"); c != 1 {
			t.Errorf("AUTH_APPROVED events: %d", c)
		}
	})

	t.Run("ChallengeWrongCode", func(t *testing.T) {
		paymentID, normalURL := challenge(t, "4000002760003184", "753")
		ctx := tab(t, browser)
		if err := chromedp.Do(ctx, desktop, chromedp.Navigate(normalURL)); err != nil {
			t.Fatalf("open %s: %v", normalURL, err)
		}
		for i, left := range []string{"2 attempts left", "1 attempt left"} {
			if err := chromedp.Do(ctx, markStale, enterCode(fmt.Sprintf("00%02d", i)),
				chromedp.WaitVisible(chromedp.CSS(`html:not([data-stale]) [role="alert"]`))); err != nil {
				t.Fatalf("wrong code %d: no error shown: %v", i+1, err)
			}
			msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[role="alert"]`)))
			if err != nil || !strings.Contains(msg, left) {
				t.Errorf("wrong code %d: error %q (%v), want %q", i+1, msg, err, left)
			}
			if focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); err != nil || focused != "otp" {
				t.Errorf("wrong code %d: focus on %q, want the code field", i+1, focused)
			}
			keepHTML(t, ctx)
			if i == 0 {
				shots.take(t, ctx, "challenge-error", "challenge-error.png", 1280, 800)
			}
		}
		if err := chromedp.Do(ctx, enterCode("9999")); err != nil {
			t.Fatalf("third code: %v", err)
		}
		landed(t, ctx)
		inq := r.inquire(t, paymentID)
		if inq.PaymentStatus != "FAIL" || inq.PaymentResultCode != "VERIFY_TIMES_EXCEED_LIMIT" {
			t.Fatalf("inquiry %s/%s, want FAIL/VERIFY_TIMES_EXCEED_LIMIT", inq.PaymentStatus, inq.PaymentResultCode)
		}
		if err := chromedp.Do(ctx, phone, chromedp.Navigate(normalURL), chromedp.WaitVisible(chromedp.CSS("a.back"))); err != nil {
			t.Fatalf("reopen %s: %v", normalURL, err)
		}
		if html := keepHTML(t, ctx); !strings.Contains(html, "not completed") {
			t.Errorf("failed page:\n%s", html)
		}
		shots.take(t, ctx, "challenge-failed-phone", "", 780, 1688)
	})

	t.Run("Frictionless", func(t *testing.T) {
		req := r.request("4000000000003220", "754", true)
		req.PaymentRedirectURL = returnURL
		resp, raw := r.pay(t, req)
		if resp.Result.ResultStatus != "S" || resp.NormalURL != "" || resp.RedirectActionForm != nil || resp.PaymentActionForm != "" {
			t.Fatalf("frictionless pay %s: want S and no page for the browser", raw)
		}
		authenticated(t, "frictionless pay", resp.PaymentResultInfo.ThreeDSResult, false)
	})

	if t.Failed() {
		return
	}
	r.scan(t, "running")
}
