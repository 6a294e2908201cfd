package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// The hosted card page (issue 5) over HTTP against the real binary: the merchant's server sends a
// pay without card data and gets U with normalUrl to /checkout/{token}; the buyer's browser is
// plain net/http (tdsRun.web, no redirects followed) that GETs the page and POSTs the form fields
// cardNo, expiryMonth, expiryYear, cvv, cardholderName (and saveCard), then the 3-D Secure page's
// otp. Every card a test types is registered with tdsRun.used, so the scan at the end looks for it.

// hpRedirect is the merchant's return page of the hosted pays built here; its query must come
// back untouched.
const hpRedirect = "https://shop.example.com/hosted/return?order=H1&lang=en"

// hpPayRequest is payRequest without card data: the buyer types the card on the gateway's
// page. tokenizeMode "" sends no paymentMethodMetaData at all, as seeds 001-07 and 002-11 do.
func hpPayRequest(buyerID, tokenizeMode string) *protocol.PayRequest {
	req := payRequest("", "")
	req.PaymentRedirectURL = hpRedirect
	req.PaymentMethod.PaymentMethodMetaData = nil
	if tokenizeMode != "" {
		req.PaymentMethod.PaymentMethodMetaData = &protocol.CardMetaData{TokenizeMode: tokenizeMode}
	}
	req.Order.Buyer.ReferenceBuyerID = buyerID
	req.Order.ReferenceOrderID = newRequestID("hosted-order")
	return req
}

// hpCardForm is what a buyer types on the card page.
func hpCardForm(pan, cvv string) url.Values {
	return url.Values{
		"cardNo":         {pan},
		"expiryMonth":    {"09"},
		"expiryYear":     {fmt.Sprint(time.Now().Year() + 3)},
		"cvv":            {cvv},
		"cardholderName": {"Ada Lovelace"},
	}
}

// hpSpaced writes a card number in groups of four, as buyers type it.
func hpSpaced(pan string) string {
	var parts []string
	for len(pan) > 4 {
		parts = append(parts, pan[:4])
		pan = pan[4:]
	}
	return strings.Join(append(parts, pan), " ")
}

// hpOpen checks the answer to a hosted pay (U, normalUrl to the card page, both action forms)
// and returns normalUrl.
func (r *tdsRun) hpOpen(t *testing.T, resp *protocol.PayResponse, raw []byte) string {
	t.Helper()
	if resp.Result.ResultStatus != "U" || resp.Result.ResultCode != "PAYMENT_IN_PROCESS" {
		t.Fatalf("hosted pay result %+v, want U/PAYMENT_IN_PROCESS: %s", resp.Result, raw)
	}
	if resp.PaymentID == "" || !strings.HasPrefix(resp.NormalURL, r.g.url+"/checkout/") || len(resp.NormalURL) < len(r.g.url)+len("/checkout/")+20 {
		t.Fatalf("paymentId %q normalUrl %q, want an unguessable page under %s/checkout/", resp.PaymentID, resp.NormalURL, r.g.url)
	}
	if f := resp.RedirectActionForm; f == nil || f.RedirectURL != resp.NormalURL || f.Method == "" {
		t.Errorf("redirectActionForm %+v, want the normalUrl", f)
	}
	var form map[string]string
	if err := json.Unmarshal([]byte(resp.PaymentActionForm), &form); err != nil {
		t.Errorf("paymentActionForm %q is not a JSON string of an object: %v", resp.PaymentActionForm, err)
	} else if form["redirectUrl"] != resp.NormalURL || form["paymentActionFormType"] != "RedirectActionForm" || form["method"] == "" {
		t.Errorf("paymentActionForm %v", form)
	}
	if resp.PaymentTime != "" {
		t.Errorf("paymentTime %q before any card was entered", resp.PaymentTime)
	}
	return resp.NormalURL
}

// hpPostCard posts the card form as the buyer's browser does and returns the status, the raw
// Location and the page. Every answer is kept for the card-data scan, a refused form (422)
// included: the page never writes the card number back (only the sandbox hint names a test
// card, on purpose, and is left out).
func (r *tdsRun) hpPostCard(t *testing.T, pageURL string, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := r.web.PostForm(pageURL, form)
	if err != nil {
		t.Fatalf("POST %s: %v", pageURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.keep("POST card page", hbSandboxHint.ReplaceAll(b, nil))
	if pan := form.Get("cardNo"); pan != "" && strings.Contains(string(b), pan) {
		t.Errorf("card page answer writes the card number back")
	}
	if cvv := form.Get("cvv"); cvv != "" && strings.Contains(string(b), `value="`+cvv+`"`) {
		t.Errorf("card page answer echoes the security code")
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// hpResolve makes a Location absolute against the page it came from.
func hpResolve(t *testing.T, base, loc string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	l, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return b.ResolveReference(l).String()
}

// hpToken is the last path element of a buyer page's URL.
func hpToken(pageURL string) string { return pageURL[strings.LastIndex(pageURL, "/")+1:] }

// hpEnterChallenge posts a card the issuer challenges and expects the buyer sent to the 3-D
// Secure page of the same token; it returns that page's URL.
func (r *tdsRun) hpEnterChallenge(t *testing.T, normalURL string, form url.Values) string {
	t.Helper()
	status, loc, body := r.hpPostCard(t, normalURL, form)
	want := r.g.url + "/threeds/" + hpToken(normalURL)
	if status != http.StatusSeeOther || hpResolve(t, normalURL, loc) != want {
		t.Fatalf("POST card: %d Location %q, want 303 to %s\n%s", status, loc, want, body)
	}
	status, page := r.page(t, want)
	pan := strings.Map(hpDigits, form.Get("cardNo"))
	if status != http.StatusOK || !strings.Contains(page, `name="otp"`) || !strings.Contains(page, "•••• "+pan[len(pan)-4:]) {
		t.Fatalf("challenge page: %d\n%s", status, page)
	}
	return want
}

func hpDigits(r rune) rune {
	if r >= '0' && r <= '9' {
		return r
	}
	return -1
}

// hpPassCode posts the right code and expects 303 to exactly redirect.
func (r *tdsRun) hpPassCode(t *testing.T, challengeURL, redirect string) {
	t.Helper()
	status, loc, body := r.submit(t, challengeURL, "1234")
	if status != http.StatusSeeOther || loc != redirect {
		t.Fatalf("POST otp=1234: %d Location %q, want 303 to %q exactly\n%s", status, loc, redirect, body)
	}
}

// hpAdvance moves the sandbox clock.
func (r *tdsRun) hpAdvance(t *testing.T, d string) {
	t.Helper()
	adv, err := r.g.client.AdvanceClock(context.Background(), d)
	if err != nil || adv.Result.ResultStatus != "S" {
		t.Fatalf("advance clock %s: %+v %v", d, adv, err)
	}
}

func escaped(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = html.EscapeString(v)
	}
	return out
}

// hpAuthenticated checks the threeDSResult of a passed authentication of any brand: the eci of
// an authenticated cardholder is 05 for Visa, AMEX and JCB and 02 for Mastercard.
func hpAuthenticated(t *testing.T, where string, r *protocol.ThreeDSResult, challenged bool) {
	t.Helper()
	if r == nil {
		t.Errorf("%s: no threeDSResult", where)
		return
	}
	if r.ThreeDSVersion != "2.2.0" || (r.ECI != "05" && r.ECI != "02") || r.CAVV == "" || r.DSTransactionID == "" || r.Challenged != challenged {
		t.Errorf("%s: threeDSResult %+v, want 2.2.0, eci 05 or 02, a cavv, a dsTransactionId, challenged %v", where, r, challenged)
	}
}

// hpMark is everything a refused card form must leave untouched.
type hpMark struct {
	version, events, outbox, tokens int
	sealed, card                    string
}

func (r *tdsRun) hpMarkOf(t *testing.T, paymentID string) hpMark {
	t.Helper()
	var m hpMark
	if err := r.db.QueryRow(`SELECT version, sealed_card, card FROM payments WHERE payment_id = ?`, paymentID).Scan(&m.version, &m.sealed, &m.card); err != nil {
		t.Fatal(err)
	}
	m.events = r.count(t, `SELECT count(*) FROM payment_events WHERE payment_id = ?`, paymentID)
	m.outbox = r.count(t, `SELECT count(*) FROM outbox WHERE payment_id = ?`, paymentID)
	m.tokens = r.count(t, `SELECT count(*) FROM card_tokens`)
	return m
}

// hpSeedExpiry moves seed 002-23's paymentExpiryTime (2024-01-01T00:30:00+08:00 as printed) to d
// from now, in the sample's layout and UTC offset: the gateway refuses an expiry in the past
// (PARAM_ILLEGAL paymentExpiryTime), so the sample as printed can no longer be sent as it was meant.
func hpSeedExpiry(t *testing.T, m map[string]any, d time.Duration) string {
	t.Helper()
	printed, _ := m["paymentExpiryTime"].(string)
	at, err := time.Parse(time.RFC3339, printed)
	if err != nil {
		t.Fatalf("seed paymentExpiryTime %q: %v", printed, err)
	}
	return time.Now().Add(d).In(at.Location()).Format("2006-01-02T15:04:05Z07:00")
}

// hpSeed loads a hosted seed pay request as printed, with a fresh paymentRequestId, its
// notifications sent to a receiver of this test rather than to the sample's third-party host, and
// (002-23) a paymentExpiryTime 30 minutes ahead.
func hpSeed(t *testing.T, name, notifyURL string) map[string]any {
	t.Helper()
	m := loadFixture(t, name)
	if pm, _ := m["paymentMethod"].(map[string]any); pm["paymentMethodMetaData"] != nil || pm["paymentMethodId"] != nil {
		t.Fatalf("%s is not a hosted pay: %v", name, pm)
	}
	set(t, m, "paymentRequestId", newRequestID(strings.TrimSuffix(name, "-pay-request.json")))
	set(t, m, "paymentNotifyUrl", notifyURL)
	if _, ok := m["paymentExpiryTime"]; ok {
		set(t, m, "paymentExpiryTime", hpSeedExpiry(t, m, 30*time.Minute))
	}
	return m
}

// hpScanDir extends the scans of tdsRun (which leave vault.key out) to everything in the data
// directory, vault.key and any temporary key file included, and to the given process outputs: no
// card number in any written form, no CVV.
func hpScanDir(t *testing.T, when, dir string, outputs map[string][]byte, cards []tdsCard) {
	t.Helper()
	files := map[string][]byte{}
	for name, b := range outputs {
		files[name] = b
	}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[p] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) == 0 {
		t.Fatalf("%s: no cards to scan for", when)
	}
	for _, c := range cards {
		needles := panForms(c.pan)
		if c.cvv != "" {
			needles = append(needles, `"cvv":"`+c.cvv+`"`, "cvv="+c.cvv, `"cvv": "`+c.cvv+`"`)
		}
		for name, b := range files {
			for _, n := range needles {
				if strings.Contains(string(b), n) {
					t.Errorf("%s: %s contains %q", when, name, n)
				}
			}
		}
	}
}

// hpScanAll runs tdsRun's scan and hpScanDir on the gateway of r.
func (r *tdsRun) hpScanAll(t *testing.T, when string) {
	t.Helper()
	r.scan(t, when)
	r.mu.Lock()
	cards := append([]tdsCard(nil), r.cards...)
	r.mu.Unlock()
	if _, err := os.Stat(filepath.Join(r.g.dir, "vault.key")); err != nil {
		t.Errorf("%s: the key file is not where the scan looks: %v", when, err)
	}
	hpScanDir(t, when, r.g.dir, map[string][]byte{"stdout": r.g.stdout.Bytes(), "stderr": r.g.stderr.Bytes()}, cards)
}

// TestHostedSeeds sends Antom's hosted samples 001-07, 002-11 and 002-23 (a pay without card
// data) and takes each through the card page and the challenge back to its paymentRedirectUrl;
// 002-23's own paymentExpiryTime decides when an abandoned page closes.
func TestHostedSeeds(t *testing.T) {
	t.Parallel()
	r := newTDSRun(t)
	rcv := ntNewReceiver(t, ntGatewayKey(t, r.g), ntAck)

	for _, tc := range []struct {
		fixture, pan, cvv, amount, description string
	}{
		{"001-07-pay-request.json", "4000002760003184", "411", "300.00 EUR", "Cappuccino #grande (Mika's coffee shop)"},
		{"002-11-pay-request.json", "5555555555554444", "412", "42.00 SGD", "antom testing order"},
		{"002-23-pay-request.json", "378282246310005", "4130", "42.00 SGD", "antom testing order"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			m := hpSeed(t, tc.fixture, rcv.srv.URL+"/antom/notify")
			redirect, _ := m["paymentRedirectUrl"].(string)
			body, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			resp, raw := r.payRaw(t, body)
			normalURL := r.hpOpen(t, resp, raw)

			status, page := r.page(t, normalURL)
			if status != http.StatusOK {
				t.Fatalf("GET card page: %d\n%s", status, page)
			}
			for _, want := range []string{tc.amount, html.EscapeString(tc.description), `name="cardNo"`, `name="expiryMonth"`,
				`name="expiryYear"`, `name="cvv"`, `name="cardholderName"`, `method="post"`} {
				if !strings.Contains(page, want) {
					t.Errorf("card page lacks %q:\n%s", want, page)
				}
			}
			if strings.Contains(page, `name="saveCard"`) {
				t.Errorf("card page asks to save the card without tokenizeMode ASKFORCONSENT")
			}

			r.used(tc.pan, tc.cvv)
			challengeURL := r.hpEnterChallenge(t, normalURL, hpCardForm(hpSpaced(tc.pan), tc.cvv))
			r.hpPassCode(t, challengeURL, redirect)

			inq := r.inquire(t, resp.PaymentID)
			if inq.PaymentStatus != "SUCCESS" || inq.PaymentResultCode != "SUCCESS" {
				t.Fatalf("inquiry %s/%s, want SUCCESS", inq.PaymentStatus, inq.PaymentResultCode)
			}
			hpAuthenticated(t, "inquiry paymentResultInfo", inq.PaymentResultInfo.ThreeDSResult, true)
			if inq.CardInfo == nil || !sameThreeDS(inq.CardInfo.ThreeDSResult, inq.PaymentResultInfo.ThreeDSResult) {
				t.Errorf("inquiry cardInfo.threeDSResult %+v differs from paymentResultInfo's", inq.CardInfo)
			}
			if inq.PaymentRedirectURL != redirect || inq.PaymentTime == "" {
				t.Errorf("inquiry paymentRedirectUrl %q paymentTime %q", inq.PaymentRedirectURL, inq.PaymentTime)
			}
			masked := strings.Repeat("*", len(tc.pan)-4) + tc.pan[len(tc.pan)-4:]
			if info := inq.PaymentResultInfo; info.CardNo != masked || info.CVVResultRaw != "Y" {
				t.Errorf("inquiry cardNo %q cvvResultRaw %q, want %q and Y (the typed CVV reached the authorization)", info.CardNo, info.CVVResultRaw, masked)
			}
			n := rcv.ntFind(t, protocol.NotifyTypePaymentResult, resp.PaymentID)
			if n.verified != nil || n.resultStatus() != "S" || n.path != "/antom/notify" {
				t.Errorf("PAYMENT_RESULT: verified %v status %s path %s", n.verified, n.resultStatus(), n.path)
			}
			if c := r.authEvents(t, resp.PaymentID, "AUTH_APPROVED"); c != 1 {
				t.Errorf("AUTH_APPROVED events: %d", c)
			}
		})
	}

	t.Run("002-23-expiry", func(t *testing.T) {
		// The same sample, abandoned on the card page. Its paymentExpiryTime (30 minutes ahead)
		// replaces the 14-minute default: open at 20 minutes, closed at 31.
		m := hpSeed(t, "002-23-pay-request.json", rcv.srv.URL+"/antom/notify")
		redirect, _ := m["paymentRedirectUrl"].(string)
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		resp, raw := r.payRaw(t, body)
		normalURL := r.hpOpen(t, resp, raw)
		if status, page := r.page(t, normalURL); status != http.StatusOK || !strings.Contains(page, `name="cardNo"`) {
			t.Fatalf("card page: %d\n%s", status, page)
		}
		r.hpAdvance(t, "20m")
		if inq := r.inquire(t, resp.PaymentID); inq.PaymentStatus != "PROCESSING" {
			t.Fatalf("inquiry 20 minutes in (before the request's paymentExpiryTime): %s/%s, want PROCESSING", inq.PaymentStatus, inq.PaymentResultCode)
		}
		if status, page := r.page(t, normalURL); status != http.StatusOK || !strings.Contains(page, `name="cardNo"`) {
			t.Errorf("card page 20 minutes in: %d, want the form still open\n%s", status, page)
		}
		r.hpAdvance(t, "11m")
		inq := r.inquire(t, resp.PaymentID)
		if inq.PaymentStatus != "FAIL" || inq.PaymentResultCode != "ORDER_IS_CLOSED" {
			t.Fatalf("inquiry after paymentExpiryTime: %s/%s, want FAIL/ORDER_IS_CLOSED", inq.PaymentStatus, inq.PaymentResultCode)
		}
		n := rcv.ntFind(t, protocol.NotifyTypePaymentResult, resp.PaymentID)
		if r, _ := n.msg["result"].(map[string]any); n.verified != nil || n.resultStatus() != "F" || r["resultCode"] != "ORDER_IS_CLOSED" {
			t.Errorf("PAYMENT_RESULT of the expired payment: verified %v result %v", n.verified, n.msg["result"])
		}
		status, page := r.page(t, normalURL)
		if status != http.StatusOK || strings.Contains(page, `name="cardNo"`) || !strings.Contains(page, "not completed in time") ||
			!strings.Contains(page, `href="`+html.EscapeString(redirect)+`"`) {
			t.Errorf("card page after the expiry: %d\n%s", status, page)
		}
	})

	r.hpScanAll(t, "running")
	r.g.stop()
	r.hpScanAll(t, "stopped")
}

// TestHostedCardPage: the card page's edges: refused forms write nothing, two posts of one form
// authorize once, finished and unknown pages, replays, a failed challenge and an abandoned page.
func TestHostedCardPage(t *testing.T) {
	t.Parallel()
	r := newTDSRun(t)
	rcv := ntNewReceiver(t, ntGatewayKey(t, r.g), ntAck)
	open := func(t *testing.T, buyer, tokenizeMode string) (*protocol.PayRequest, *protocol.PayResponse, string) {
		t.Helper()
		req := hpPayRequest(buyer, tokenizeMode)
		req.PaymentNotifyURL = rcv.srv.URL + "/notify"
		resp, raw := r.pay(t, req)
		return req, resp, r.hpOpen(t, resp, raw)
	}

	t.Run("InvalidCard", func(t *testing.T) {
		_, resp, normalURL := open(t, "buyer-invalid", "")
		before := r.hpMarkOf(t, resp.PaymentID)
		expired := hpCardForm("4000000000003220", "521")
		expired.Set("expiryMonth", "01")
		expired.Set("expiryYear", "2020")
		for _, tc := range []struct {
			name string
			form url.Values
			want []string
		}{
			{"empty", url.Values{}, []string{"Enter your card number.", "Enter the expiry month and year.", "Enter the security code.",
				"Enter the name on the card."}},
			{"all wrong", url.Values{"cardNo": {"4242 4242 4242 4241"}, "expiryMonth": {"13"}, "expiryYear": {"2031"}, "cvv": {"12"}},
				[]string{"This card number is not valid.", "The expiry month must be 1 to 12.", "The security code has 3 or 4 digits.",
					"Enter the name on the card."}},
			{"expired", expired, []string{"This card has expired."}},
			{"amex code", hpCardForm("378282246310005", "521"), []string{"The security code has 4 digits."}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if pan := tc.form.Get("cardNo"); pan == "4000000000003220" || pan == "378282246310005" {
					r.used(pan, tc.form.Get("cvv"))
				}
				status, loc, page := r.hpPostCard(t, normalURL, tc.form)
				if status != http.StatusUnprocessableEntity || loc != "" {
					t.Fatalf("POST: %d Location %q, want 422\n%s", status, loc, page)
				}
				for _, want := range append(escaped(tc.want), `role="alert"`, `aria-invalid="true"`, `name="cardNo"`) {
					if !strings.Contains(page, want) {
						t.Errorf("422 page lacks %q:\n%s", want, page)
					}
				}
				if after := r.hpMarkOf(t, resp.PaymentID); after != before {
					t.Errorf("a refused form wrote: before %+v, after %+v", before, after)
				}
			})
		}
		if inq := r.inquire(t, resp.PaymentID); inq.PaymentStatus != "PROCESSING" {
			t.Errorf("inquiry after refused forms: %s", inq.PaymentStatus)
		}
		// The page still takes a good card afterwards.
		r.used("4000000000003220", "522")
		if status, loc, body := r.hpPostCard(t, normalURL, hpCardForm("4000000000003220", "522")); status != http.StatusSeeOther || loc != hpRedirect {
			t.Fatalf("good card after refused forms: %d %q\n%s", status, loc, body)
		}
	})

	t.Run("ConcurrentPosts", func(t *testing.T) {
		// The buyer double-clicks Pay, or two tabs post the form: one authorization, both tabs
		// sent back to the shop. Three rounds, to give the race a chance.
		for round := range 3 {
			req, resp, normalURL := open(t, fmt.Sprintf("buyer-double-%d", round), "")
			cvv := fmt.Sprintf("53%d", round)
			r.used("4000000000003220", cvv)
			form := hpCardForm("4000000000003220", cvv)
			start := make(chan struct{})
			var wg sync.WaitGroup
			got := make([]string, 2)
			for i := range got {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res, err := r.web.PostForm(normalURL, form)
					if err != nil {
						got[i] = err.Error()
						return
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					r.keep("POST card page", b)
					got[i] = fmt.Sprintf("%d %s", res.StatusCode, res.Header.Get("Location"))
				}()
			}
			close(start)
			wg.Wait()
			for i, g := range got {
				if g != "303 "+hpRedirect {
					t.Errorf("round %d POST %d: %s, want 303 %s", round, i, g, hpRedirect)
				}
			}
			if c := r.authEvents(t, resp.PaymentID, "AUTH_APPROVED"); c != 1 {
				t.Errorf("round %d: AUTH_APPROVED events %d, want 1", round, c)
			}
			if c := r.count(t, `SELECT count(*) FROM payment_events WHERE payment_id = ? AND op LIKE 'AUTH_%'`, resp.PaymentID); c != 1 {
				t.Errorf("round %d: AUTH_* events %d, want 1", round, c)
			}
			inq := r.inquire(t, resp.PaymentID)
			if inq.PaymentStatus != "SUCCESS" {
				t.Fatalf("round %d: inquiry %s/%s", round, inq.PaymentStatus, inq.PaymentResultCode)
			}
			// Every card on the hosted page goes through 3-D Secure: this one passes frictionless.
			hpAuthenticated(t, "inquiry", inq.PaymentResultInfo.ThreeDSResult, false)
			r.oneResult(t, resp.PaymentID)
			if n := rcv.ntFind(t, protocol.NotifyTypePaymentResult, resp.PaymentID); n.verified != nil || n.resultStatus() != "S" {
				t.Errorf("PAYMENT_RESULT: %v %s", n.verified, n.resultStatus())
			}
			if round > 0 {
				continue
			}
			// The finished payment's page: its state and the way back, no form.
			status, page := r.page(t, normalURL)
			if status != http.StatusOK || !strings.Contains(page, "Payment authorized") || strings.Contains(page, `name="cardNo"`) ||
				!strings.Contains(page, `href="`+html.EscapeString(hpRedirect)+`"`) {
				t.Errorf("page of the authorized payment: %d\n%s", status, page)
			}
			// A late third post (the back button) authorizes nothing more.
			if status, loc, _ := r.hpPostCard(t, normalURL, form); status != http.StatusSeeOther || loc != hpRedirect {
				t.Errorf("late POST: %d %q", status, loc)
			}
			if c := r.authEvents(t, resp.PaymentID, "AUTH_APPROVED"); c != 1 {
				t.Errorf("AUTH_APPROVED after a late POST: %d", c)
			}
			// The pay replay now gives the final answer, without a page.
			final, raw := r.pay(t, req)
			if final.PaymentID != resp.PaymentID || final.Result.ResultStatus != "S" || final.NormalURL != "" || final.RedirectActionForm != nil {
				t.Errorf("replay after the card page: %s", raw)
			}
		}
	})

	t.Run("UnknownPage", func(t *testing.T) {
		payments := r.count(t, `SELECT count(*) FROM payments`)
		status, page := r.page(t, r.g.url+"/checkout/no-such-token")
		if status != http.StatusNotFound || strings.Contains(page, `name="cardNo"`) {
			t.Errorf("GET unknown card page: %d\n%s", status, page)
		}
		r.used("4000000000003220", "541")
		if status, loc, _ := r.hpPostCard(t, r.g.url+"/checkout/no-such-token", hpCardForm("4000000000003220", "541")); status != http.StatusNotFound || loc != "" {
			t.Errorf("POST to an unknown card page: %d Location %q", status, loc)
		}
		if n := r.count(t, `SELECT count(*) FROM payments`); n != payments {
			t.Errorf("payments %d → %d after a post to an unknown page", payments, n)
		}
		// Tokens the gateway could not have made (a NUL, invalid UTF-8, too long) are not found
		// either, without a store error (PostgreSQL refuses a NUL) or an ERROR line.
		for _, p := range []string{"/checkout/%00", "/checkout/abc%00def", "/threeds/%FF", "/checkout/" + strings.Repeat("A", 65)} {
			if status, _ := r.page(t, r.g.url+p); status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", p, status)
			}
		}
		if strings.Contains(string(r.g.stderr.Bytes()), "level=ERROR") {
			t.Errorf("ERROR lines after unknown pages:\n%s", r.g.stderr.Bytes())
		}
	})

	t.Run("Replay", func(t *testing.T) {
		req, first, normalURL := open(t, "buyer-replay", "")
		again, raw := r.pay(t, req)
		if again.PaymentID != first.PaymentID || r.hpOpen(t, again, raw) != normalURL {
			t.Errorf("replay: paymentId %q normalUrl %q, want %q %q", again.PaymentID, again.NormalURL, first.PaymentID, normalURL)
		}
		if n := r.count(t, `SELECT count(*) FROM payments WHERE request_id = ?`, req.PaymentRequestID); n != 1 {
			t.Errorf("payments of the request: %d", n)
		}
	})

	t.Run("WrongCodeThreeTimes", func(t *testing.T) {
		_, resp, normalURL := open(t, "buyer-wrong-code", "")
		r.used("4000002760003184", "551")
		challengeURL := r.hpEnterChallenge(t, normalURL, hpCardForm("4000002760003184", "551"))
		// The card page of a payment waiting on its challenge sends the buyer there.
		if res, err := r.web.Get(normalURL); err != nil || res.StatusCode != http.StatusSeeOther ||
			hpResolve(t, normalURL, res.Header.Get("Location")) != challengeURL {
			t.Errorf("card page during the challenge: %v %+v", err, res)
		} else {
			res.Body.Close()
		}
		for i := range 2 {
			if status, loc, _ := r.submit(t, challengeURL, fmt.Sprintf("99%02d", i)); status != http.StatusUnprocessableEntity || loc != "" {
				t.Fatalf("wrong code %d: %d %q, want 422", i+1, status, loc)
			}
		}
		if status, loc, _ := r.submit(t, challengeURL, "0000"); status != http.StatusSeeOther || loc != hpRedirect {
			t.Fatalf("third wrong code: %d %q, want 303 to %s", status, loc, hpRedirect)
		}
		inq := r.inquire(t, resp.PaymentID)
		if inq.PaymentStatus != "FAIL" || inq.PaymentResultCode != "VERIFY_TIMES_EXCEED_LIMIT" {
			t.Fatalf("inquiry %s/%s, want FAIL/VERIFY_TIMES_EXCEED_LIMIT", inq.PaymentStatus, inq.PaymentResultCode)
		}
		n := rcv.ntFind(t, protocol.NotifyTypePaymentResult, resp.PaymentID)
		if res, _ := n.msg["result"].(map[string]any); n.verified != nil || res["resultCode"] != "VERIFY_TIMES_EXCEED_LIMIT" {
			t.Errorf("PAYMENT_RESULT %v (verified %v)", n.msg["result"], n.verified)
		}
		if c := r.count(t, `SELECT count(*) FROM payment_events WHERE payment_id = ? AND op LIKE 'AUTH_%'`, resp.PaymentID); c != 0 {
			t.Errorf("authorizations after a failed challenge: %d", c)
		}
		if s := r.sealedCard(t, resp.PaymentID); s != "" {
			t.Errorf("sealed card kept after the failed challenge")
		}
		status, page := r.page(t, normalURL)
		if status != http.StatusOK || strings.Contains(page, `name="cardNo"`) || !strings.Contains(page, "not completed") {
			t.Errorf("card page after the failed challenge: %d\n%s", status, page)
		}
	})

	// Last: it moves the sandbox clock.
	t.Run("Abandoned", func(t *testing.T) {
		_, resp, normalURL := open(t, "buyer-abandoned", "")
		if status, page := r.page(t, normalURL); status != http.StatusOK || !strings.Contains(page, `name="cardNo"`) {
			t.Fatalf("card page: %d\n%s", status, page)
		}
		r.hpAdvance(t, "15m")
		inq := r.inquire(t, resp.PaymentID)
		if inq.PaymentStatus != "FAIL" || inq.PaymentResultCode != "ORDER_IS_CLOSED" {
			t.Fatalf("inquiry %s/%s, want FAIL/ORDER_IS_CLOSED", inq.PaymentStatus, inq.PaymentResultCode)
		}
		n := rcv.ntFind(t, protocol.NotifyTypePaymentResult, resp.PaymentID)
		if res, _ := n.msg["result"].(map[string]any); n.verified != nil || n.resultStatus() != "F" || res["resultCode"] != "ORDER_IS_CLOSED" ||
			n.header.Get("client-id") != r.g.creds.ClientID {
			t.Errorf("PAYMENT_RESULT of the abandoned page: %v (verified %v)", n.msg["result"], n.verified)
		}
		status, page := r.page(t, normalURL)
		if status != http.StatusOK || strings.Contains(page, `name="cardNo"`) || !strings.Contains(page, "not completed in time") ||
			!strings.Contains(page, `href="`+html.EscapeString(hpRedirect)+`"`) {
			t.Errorf("card page after the expiry: %d\n%s", status, page)
		}
		// A card posted after the expiry authorizes nothing.
		r.used("4000000000003220", "561")
		if status, loc, _ := r.hpPostCard(t, normalURL, hpCardForm("4000000000003220", "561")); status != http.StatusSeeOther || loc != hpRedirect {
			t.Errorf("card after the expiry: %d %q", status, loc)
		}
		if c := r.count(t, `SELECT count(*) FROM payment_events WHERE payment_id = ? AND op LIKE 'AUTH_%'`, resp.PaymentID); c != 0 {
			t.Errorf("authorizations after the expiry: %d", c)
		}
		if inq := r.inquire(t, resp.PaymentID); inq.PaymentStatus != "FAIL" {
			t.Errorf("inquiry after a late card: %s", inq.PaymentStatus)
		}
	})

	r.hpScanAll(t, "running")
	r.g.stop()
	r.hpScanAll(t, "stopped")
}
