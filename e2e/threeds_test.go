package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
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

// The 3-D Secure flows over HTTP against the real binary: the merchant's server calls the API with
// the signed client; the buyer's browser is plain net/http on the page behind normalUrl (GET it,
// POST the form field otp), following no redirects so that every 303 can be checked.

// tdsRedirect is the merchant's return page; its query must come back untouched.
const tdsRedirect = "https://shop.example.com/return?order=A1&lang=en"

// tdsRun is a gateway plus everything a 3-D Secure test saw of it (answers and pages) and every
// card it used, for the card-data scan at the end.
type tdsRun struct {
	g   *gateway
	db  *sql.DB
	web *http.Client

	mu    sync.Mutex
	seen  map[string][]byte
	cards []tdsCard
}

// tdsCard is a card number and a CVV a test sent.
type tdsCard struct{ pan, cvv string }

func newTDSRun(t *testing.T) *tdsRun {
	t.Helper()
	g := startGateway(t)
	return &tdsRun{
		g:  g,
		db: g.db(),
		// The buyer's browser: DefaultTransport, whose idle connections the harness closes before
		// it stops the gateway; redirects are looked at, not followed.
		web: &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		seen: map[string][]byte{},
	}
}

func (r *tdsRun) used(pan, cvv string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cards = append(r.cards, tdsCard{pan, cvv})
}

func (r *tdsRun) keep(name string, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[fmt.Sprintf("%03d %s", len(r.seen), name)] = bytes.Clone(b)
}

// request is payRequest with a CVV of this test's own, registered for the scan, and the return
// page tdsRedirect.
func (r *tdsRun) request(pan, cvv string, threeDS bool) *protocol.PayRequest {
	r.used(pan, cvv)
	req := payRequest(pan, cvv)
	req.PaymentRedirectURL = tdsRedirect
	req.PaymentMethod.PaymentMethodMetaData.Is3DSAuthentication = threeDS
	return req
}

// call sends a signed API call with a raw body and returns the verified answer.
func (r *tdsRun) call(t *testing.T, api string, body []byte) []byte {
	t.Helper()
	resp, err := r.g.client.Do(context.Background(), r.g.client.Path(api), body)
	if err != nil {
		t.Fatalf("%s: %v", api, err)
	}
	r.keep(api, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", api, resp.StatusCode, resp.Body)
	}
	return resp.Body
}

func (r *tdsRun) payRaw(t *testing.T, body []byte) (*protocol.PayResponse, []byte) {
	t.Helper()
	raw := r.call(t, protocol.PathPay, body)
	var resp protocol.PayResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("pay answer %s: %v", raw, err)
	}
	return &resp, raw
}

func (r *tdsRun) pay(t *testing.T, req *protocol.PayRequest) (*protocol.PayResponse, []byte) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return r.payRaw(t, body)
}

func (r *tdsRun) inquire(t *testing.T, paymentID string) *protocol.InquiryPaymentResponse {
	t.Helper()
	body, err := json.Marshal(protocol.InquiryPaymentRequest{PaymentID: paymentID})
	if err != nil {
		t.Fatal(err)
	}
	raw := r.call(t, protocol.PathInquiryPayment, body)
	var resp protocol.InquiryPaymentResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("inquiry answer %s: %v", raw, err)
	}
	if resp.Result.ResultCode != "SUCCESS" || resp.PaymentID != paymentID {
		t.Fatalf("inquiry %s", raw)
	}
	return &resp
}

// page GETs a challenge page as the buyer's browser does.
func (r *tdsRun) page(t *testing.T, pageURL string) (int, string) {
	t.Helper()
	resp, err := r.web.Get(pageURL)
	if err != nil {
		t.Fatalf("GET %s: %v", pageURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.keep("GET page", b)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("page Content-Type %q", ct)
	}
	return resp.StatusCode, string(b)
}

// submit posts the challenge form with otp and returns the status, the Location and the body.
func (r *tdsRun) submit(t *testing.T, pageURL, otp string) (int, string, string) {
	t.Helper()
	resp, err := r.web.PostForm(pageURL, url.Values{"otp": {otp}})
	if err != nil {
		t.Fatalf("POST %s: %v", pageURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.keep("POST page", b)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// passCode submits the right code and expects the buyer to be sent back to the merchant, with
// nothing appended to its URL.
func (r *tdsRun) passCode(t *testing.T, pageURL string) {
	t.Helper()
	status, loc, body := r.submit(t, pageURL, "1234")
	if status != http.StatusSeeOther || loc != tdsRedirect {
		t.Fatalf("POST otp=1234: %d Location %q, want 303 to %q exactly\n%s", status, loc, tdsRedirect, body)
	}
}

func (r *tdsRun) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := r.db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (r *tdsRun) authEvents(t *testing.T, paymentID, op string) int {
	t.Helper()
	return r.count(t, `SELECT count(*) FROM payment_events WHERE payment_id = ? AND op = ?`, paymentID, op)
}

// paymentResults returns the PAYMENT_RESULT notifications of a payment in the outbox.
func (r *tdsRun) paymentResults(t *testing.T, paymentID string) []protocol.NotifyPayment {
	t.Helper()
	rows, err := r.db.Query(`SELECT body FROM outbox WHERE payment_id = ? AND notify_type = ? ORDER BY id`,
		paymentID, protocol.NotifyTypePaymentResult)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []protocol.NotifyPayment
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			t.Fatal(err)
		}
		var n protocol.NotifyPayment
		if err := json.Unmarshal([]byte(body), &n); err != nil {
			t.Fatalf("outbox body %s: %v", body, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// oneResult waits briefly for the single PAYMENT_RESULT of a payment and returns it.
func (r *tdsRun) oneResult(t *testing.T, paymentID string) protocol.NotifyPayment {
	t.Helper()
	var got []protocol.NotifyPayment
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = r.paymentResults(t, paymentID); len(got) > 0 {
			break
		}
	}
	if len(got) != 1 {
		t.Fatalf("PAYMENT_RESULT notifications of %s: %d, want 1", paymentID, len(got))
	}
	return got[0]
}

// challenged checks a pay answer that sends the buyer to the issuer page (seed 000-02) and
// returns its normalUrl.
func (r *tdsRun) challenged(t *testing.T, resp *protocol.PayResponse, raw []byte) string {
	t.Helper()
	if resp.Result.ResultStatus != "U" || resp.Result.ResultCode != "PAYMENT_IN_PROCESS" {
		t.Fatalf("pay result %+v, want U/PAYMENT_IN_PROCESS: %s", resp.Result, raw)
	}
	if resp.PaymentID == "" || !strings.HasPrefix(resp.NormalURL, r.g.url+"/threeds/") {
		t.Fatalf("paymentId %q normalUrl %q, want a page under %s/threeds/", resp.PaymentID, resp.NormalURL, r.g.url)
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
	info := resp.PaymentResultInfo
	if info == nil || info.ThreeDSResult == nil || info.ThreeDSResult.ThreeDSVersion != "2.2.0" {
		t.Errorf("paymentResultInfo.threeDSResult %+v, want threeDSVersion 2.2.0", info)
	}
	// Not authenticated yet: eci and cavv present and empty, as in the seed's in-process answer.
	if !bytes.Contains(raw, []byte(`"eci":""`)) || !bytes.Contains(raw, []byte(`"cavv":""`)) {
		t.Errorf("in-process answer lacks the empty eci/cavv of seed 000-02: %s", raw)
	}
	if resp.PaymentTime != "" {
		t.Errorf("paymentTime %q before the authorization", resp.PaymentTime)
	}
	return resp.NormalURL
}

// authenticated checks a threeDSResult of a passed authentication.
func authenticated(t *testing.T, where string, r *protocol.ThreeDSResult, challenged bool) {
	t.Helper()
	if r == nil {
		t.Errorf("%s: no threeDSResult", where)
		return
	}
	if r.ThreeDSVersion != "2.2.0" || r.ECI != "05" || r.CAVV == "" || r.DSTransactionID == "" || r.Challenged != challenged {
		t.Errorf("%s: threeDSResult %+v, want 2.2.0, eci 05, a cavv, a dsTransactionId, challenged %v", where, r, challenged)
	}
	if _, err := base64.StdEncoding.DecodeString(r.CAVV); err != nil {
		t.Errorf("%s: cavv %q is not base64", where, r.CAVV)
	}
}

func sameThreeDS(a, b *protocol.ThreeDSResult) bool {
	return a != nil && b != nil && *a == *b
}

// TestThreeDS drives every 3-D Secure flow of docs/design.md's test cards over HTTP on one gateway,
// then searches all it wrote and answered for the card data it was given.
func TestThreeDS(t *testing.T) {
	t.Parallel()
	r := newTDSRun(t)

	t.Run("Challenge", func(t *testing.T) {
		req := r.request("4242424242424242", "731", true)
		resp, raw := r.pay(t, req)
		normalURL := r.challenged(t, resp, raw)
		if n := r.count(t, `SELECT count(*) FROM outbox WHERE payment_id = ?`, resp.PaymentID); n != 0 {
			t.Errorf("%d notifications while the challenge is pending", n)
		}

		// A retried pay is the same payment on the same page.
		again, againRaw := r.pay(t, req)
		if again.PaymentID != resp.PaymentID || again.NormalURL != normalURL {
			t.Fatalf("replay: paymentId %q normalUrl %q, want %q %q", again.PaymentID, again.NormalURL, resp.PaymentID, normalURL)
		}
		r.challenged(t, again, againRaw)

		status, page := r.page(t, normalURL)
		if status != http.StatusOK {
			t.Fatalf("GET page: %d\n%s", status, page)
		}
		for _, want := range []string{"42.00 SGD", "•••• 4242", `name="otp"`, `method="post"`, "antom test order"} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q:\n%s", want, page)
			}
		}
		for _, bad := range []string{"4242424242424242", "<script", " src=", "<link", "http://", "https://"} {
			if strings.Contains(page, bad) {
				t.Errorf("open page contains %q", bad)
			}
		}

		r.passCode(t, normalURL)
		inq := r.inquire(t, resp.PaymentID)
		if inq.PaymentStatus != "SUCCESS" || inq.PaymentResultCode != "SUCCESS" {
			t.Fatalf("inquiry %s/%s, want SUCCESS", inq.PaymentStatus, inq.PaymentResultCode)
		}
		authenticated(t, "inquiry paymentResultInfo", inq.PaymentResultInfo.ThreeDSResult, true)
		if inq.CardInfo == nil || !sameThreeDS(inq.CardInfo.ThreeDSResult, inq.PaymentResultInfo.ThreeDSResult) {
			t.Errorf("inquiry cardInfo.threeDSResult %+v differs from paymentResultInfo's", inq.CardInfo)
		}
		// The CVV survives the challenge, sealed, and reaches the authorization that follows it
		// (docs/design.md "Card data during 3-D Secure"): the acquirer checked it.
		if cvv := inq.PaymentResultInfo.CVVResultRaw; cvv != "Y" {
			t.Errorf("cvvResultRaw %q after the challenge, want Y: the CVV did not reach the authorization", cvv)
		}
		if inq.PaymentTime == "" || inq.PaymentRedirectURL != tdsRedirect {
			t.Errorf("inquiry paymentTime %q paymentRedirectUrl %q", inq.PaymentTime, inq.PaymentRedirectURL)
		}
		n := r.oneResult(t, resp.PaymentID)
		if n.Result.ResultStatus != "S" || n.Result.ResultCode != "SUCCESS" || n.PaymentResultInfo == nil ||
			!sameThreeDS(n.PaymentResultInfo.ThreeDSResult, inq.PaymentResultInfo.ThreeDSResult) {
			t.Errorf("PAYMENT_RESULT %+v, want S with the inquiry's threeDSResult %+v", n, inq.PaymentResultInfo.ThreeDSResult)
		}

		// The buyer presses Verify again, or goes back and posts the form once more.
		r.passCode(t, normalURL)
		if c := r.authEvents(t, resp.PaymentID, "AUTH_APPROVED"); c != 1 {
			t.Errorf("AUTH_APPROVED events after a second POST: %d, want 1", c)
		}
		if got := r.paymentResults(t, resp.PaymentID); len(got) != 1 {
			t.Errorf("PAYMENT_RESULT notifications after a second POST: %d", len(got))
		}

		status, page = r.page(t, normalURL)
		if status != http.StatusOK || !strings.Contains(page, "Payment authorized") ||
			!strings.Contains(page, `href="`+html.EscapeString(tdsRedirect)+`"`) || strings.Contains(page, `name="otp"`) {
			t.Errorf("page after completion: %d\n%s", status, page)
		}
		// The pay replay now gives the final answer, without a page.
		final, _ := r.pay(t, req)
		if final.Result.ResultStatus != "S" || final.NormalURL != "" || final.RedirectActionForm != nil || final.PaymentActionForm != "" {
			t.Errorf("replay after the challenge: %+v normalUrl %q", final.Result, final.NormalURL)
		}
		authenticated(t, "pay replay", final.PaymentResultInfo.ThreeDSResult, true)
	})

	t.Run("ChallengeUnknownPage", func(t *testing.T) {
		status, page := r.page(t, r.g.url+"/threeds/no-such-token")
		if status != http.StatusNotFound {
			t.Errorf("unknown page: %d\n%s", status, page)
		}
		if status, loc, _ := r.submit(t, r.g.url+"/threeds/no-such-token", "1234"); status != http.StatusNotFound || loc != "" {
			t.Errorf("POST to an unknown page: %d Location %q", status, loc)
		}
	})

	t.Run("ChallengeConcurrentCodes", func(t *testing.T) {
		// The test card that is challenged whenever 3DS is asked for; eight tabs post the code at once.
		resp, raw := r.pay(t, r.request("4000002760003184", "732", true))
		normalURL := r.challenged(t, resp, raw)
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := r.web.PostForm(normalURL, url.Values{"otp": {"1234"}})
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				r.keep("POST page", b)
				if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tdsRedirect {
					errs <- fmt.Sprintf("%d %q", res.StatusCode, res.Header.Get("Location"))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("concurrent POST: %s", e)
		}
		if c := r.authEvents(t, resp.PaymentID, "AUTH_APPROVED"); c != 1 {
			t.Errorf("AUTH_APPROVED events: %d, want 1", c)
		}
		if inq := r.inquire(t, resp.PaymentID); inq.PaymentStatus != "SUCCESS" {
			t.Errorf("inquiry %s", inq.PaymentStatus)
		}
		r.oneResult(t, resp.PaymentID)
	})

	t.Run("ChallengeWrongCodeThreeTimes", func(t *testing.T) {
		resp, raw := r.pay(t, r.request("5555555555554444", "733", true))
		normalURL := r.challenged(t, resp, raw)
		for i, left := range []string{"2 attempts left", "1 attempt left"} {
			status, loc, page := r.submit(t, normalURL, fmt.Sprintf("99%02d", i))
			if status != http.StatusUnprocessableEntity || loc != "" {
				t.Fatalf("wrong code %d: %d Location %q, want 422", i+1, status, loc)
			}
			if !strings.Contains(page, `role="alert"`) || !strings.Contains(page, left) || !strings.Contains(page, `name="otp"`) {
				t.Errorf("wrong code %d: page lacks the error, %q or the form:\n%s", i+1, left, page)
			}
		}
		if inq := r.inquire(t, resp.PaymentID); inq.PaymentStatus != "PROCESSING" {
			t.Errorf("inquiry after two wrong codes: %s", inq.PaymentStatus)
		}
		status, loc, _ := r.submit(t, normalURL, "0000")
		if status != http.StatusSeeOther || loc != tdsRedirect {
			t.Fatalf("third wrong code: %d Location %q, want 303 to %q", status, loc, tdsRedirect)
		}
		inq := r.inquire(t, resp.PaymentID)
		if inq.PaymentStatus != "FAIL" || inq.PaymentResultCode != "VERIFY_TIMES_EXCEED_LIMIT" {
			t.Fatalf("inquiry %s/%s, want FAIL/VERIFY_TIMES_EXCEED_LIMIT", inq.PaymentStatus, inq.PaymentResultCode)
		}
		n := r.oneResult(t, resp.PaymentID)
		if n.Result.ResultStatus != "F" || n.Result.ResultCode != "VERIFY_TIMES_EXCEED_LIMIT" {
			t.Errorf("PAYMENT_RESULT %+v, want F/VERIFY_TIMES_EXCEED_LIMIT", n.Result)
		}
		// The right code after the third failure changes nothing and reaches no acquirer.
		if status, loc, _ := r.submit(t, normalURL, "1234"); status != http.StatusSeeOther || loc != tdsRedirect {
			t.Errorf("code after the failure: %d %q", status, loc)
		}
		if c := r.count(t, `SELECT count(*) FROM payment_events WHERE payment_id = ? AND op LIKE 'AUTH_%'`, resp.PaymentID); c != 0 {
			t.Errorf("authorizations after a failed challenge: %d", c)
		}
		if inq := r.inquire(t, resp.PaymentID); inq.PaymentStatus != "FAIL" {
			t.Errorf("inquiry after a late right code: %s", inq.PaymentStatus)
		}
		if sealed := r.sealedCard(t, resp.PaymentID); sealed != "" {
			t.Errorf("sealed card kept after the failed challenge")
		}
		status, page := r.page(t, normalURL)
		if status != http.StatusOK || !strings.Contains(page, "not completed") || !strings.Contains(page, "Return to the shop") ||
			strings.Contains(page, `name="otp"`) {
			t.Errorf("page after the failure: %d\n%s", status, page)
		}
	})

	t.Run("Frictionless", func(t *testing.T) {
		resp, raw := r.pay(t, r.request("4000000000003220", "734", true))
		if resp.Result.ResultStatus != "S" || resp.NormalURL != "" || resp.RedirectActionForm != nil || resp.PaymentActionForm != "" {
			t.Fatalf("pay %s, want S without a page", raw)
		}
		authenticated(t, "pay", resp.PaymentResultInfo.ThreeDSResult, false)
		if bytes.Contains(raw, []byte(`"challenged":true`)) {
			t.Errorf("frictionless answer says challenged: %s", raw)
		}
		inq := r.inquire(t, resp.PaymentID)
		if inq.PaymentStatus != "SUCCESS" {
			t.Errorf("inquiry %s", inq.PaymentStatus)
		}
		authenticated(t, "inquiry", inq.PaymentResultInfo.ThreeDSResult, false)
		n := r.oneResult(t, resp.PaymentID)
		if n.PaymentResultInfo == nil || !sameThreeDS(n.PaymentResultInfo.ThreeDSResult, inq.PaymentResultInfo.ThreeDSResult) {
			t.Errorf("PAYMENT_RESULT threeDSResult %+v", n.PaymentResultInfo)
		}
	})

	t.Run("ChallengeThenDecline", func(t *testing.T) {
		resp, raw := r.pay(t, r.request("4000008400001629", "735", true))
		normalURL := r.challenged(t, resp, raw)
		r.passCode(t, normalURL)
		inq := r.inquire(t, resp.PaymentID)
		if inq.PaymentStatus != "FAIL" || inq.PaymentResultCode != "DO_NOT_HONOR" {
			t.Fatalf("inquiry %s/%s, want FAIL/DO_NOT_HONOR", inq.PaymentStatus, inq.PaymentResultCode)
		}
		authenticated(t, "inquiry", inq.PaymentResultInfo.ThreeDSResult, true)
		if n := r.oneResult(t, resp.PaymentID); n.Result.ResultStatus != "F" || n.Result.ResultCode != "DO_NOT_HONOR" {
			t.Errorf("PAYMENT_RESULT %+v", n.Result)
		}
		status, page := r.page(t, normalURL)
		if status != http.StatusOK || !strings.Contains(page, "not completed") {
			t.Errorf("page after the decline: %d\n%s", status, page)
		}

		plain, raw := r.pay(t, r.request("4000008400001629", "736", false))
		if plain.Result.ResultStatus != "F" || plain.Result.ResultCode != "DO_NOT_HONOR" || plain.NormalURL != "" {
			t.Errorf("without 3DS: %s, want F/DO_NOT_HONOR without a page", raw)
		}
	})

	t.Run("Retry", func(t *testing.T) {
		const soft = "4000000000003063"
		plain, raw := r.pay(t, r.request(soft, "737", false))
		if plain.Result.ResultStatus != "F" || plain.Result.ResultCode != "AUTHENTICATION_REQUIRED" || plain.NormalURL != "" {
			t.Fatalf("without upgrade: %s, want F/AUTHENTICATION_REQUIRED", raw)
		}
		for _, spelling := range []string{"enableAuthenticationUpgrade", "enableAuthenticationUpgrate"} {
			t.Run(spelling, func(t *testing.T) {
				req := r.request(soft, "737", false)
				meta := req.PaymentMethod.PaymentMethodMetaData
				if spelling == "enableAuthenticationUpgrade" {
					meta.EnableAuthenticationUpgrade = true
				} else {
					meta.EnableAuthenticationUpgrate = true
				}
				body, err := json.Marshal(req)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(body, []byte(`"`+spelling+`":true`)) {
					t.Fatalf("request does not carry %s: %s", spelling, body)
				}
				resp, raw := r.payRaw(t, body)
				normalURL := r.challenged(t, resp, raw)
				r.passCode(t, normalURL)
				inq := r.inquire(t, resp.PaymentID)
				if inq.PaymentStatus != "SUCCESS" || inq.PaymentResultCode != "SUCCESS" {
					t.Fatalf("inquiry %s/%s, want SUCCESS", inq.PaymentStatus, inq.PaymentResultCode)
				}
				authenticated(t, "inquiry", inq.PaymentResultInfo.ThreeDSResult, true)
				if cvv := inq.PaymentResultInfo.CVVResultRaw; cvv != "Y" {
					t.Errorf("cvvResultRaw %q after the upgrade, want Y: the CVV did not reach the authorization", cvv)
				}
				if n := r.oneResult(t, resp.PaymentID); n.Result.ResultStatus != "S" {
					t.Errorf("PAYMENT_RESULT %+v", n.Result)
				}
				if c := r.authEvents(t, resp.PaymentID, "AUTH_APPROVED"); c != 1 {
					t.Errorf("AUTH_APPROVED events: %d", c)
				}
			})
		}
	})

	t.Run("MPI", func(t *testing.T) {
		req := r.request("4117347806156383", "738", false)
		mpi := &protocol.MPIData{ThreeDSVersion: "2.2.0", ECI: "05", CAVV: "AAABBBEjRWeJq83vASNFZ4mrze8=",
			DSTransactionID: "f25084f0-5b16-4c0a-ae5d-b24808a95e4b"}
		req.PaymentMethod.PaymentMethodMetaData.MPIData = mpi
		resp, raw := r.pay(t, req)
		if resp.Result.ResultStatus != "S" || resp.NormalURL != "" || resp.RedirectActionForm != nil {
			t.Fatalf("pay %s, want S without a page", raw)
		}
		for where, got := range map[string]*protocol.ThreeDSResult{"pay": resp.PaymentResultInfo.ThreeDSResult,
			"inquiry": r.inquire(t, resp.PaymentID).PaymentResultInfo.ThreeDSResult} {
			if got == nil || got.ThreeDSVersion != mpi.ThreeDSVersion || got.ECI != mpi.ECI || got.CAVV != mpi.CAVV ||
				got.DSTransactionID != mpi.DSTransactionID || got.Challenged {
				t.Errorf("%s threeDSResult %+v, want the merchant's %+v", where, got, mpi)
			}
		}
		if c := r.count(t, `SELECT count(*) FROM payments WHERE payment_id = ? AND (challenge_token <> '' OR sealed_card <> '')`, resp.PaymentID); c != 0 {
			t.Errorf("MPI payment has a challenge page or a sealed card")
		}
	})

	t.Run("ChallengeSeedSample", func(t *testing.T) {
		// Seed 000-01 as Antom prints it, with its masked values replaced by test data.
		m := loadFixture(t, "000-01-pay-request.json")
		meta := "paymentMethod.paymentMethodMetaData."
		set(t, m, "paymentRequestId", newRequestID("000-01"))
		set(t, m, meta+"cardNo", "378282246310005")
		set(t, m, meta+"cvv", "7391")
		set(t, m, meta+"expiryYear", fmt.Sprint(time.Now().Year()%100+3))
		set(t, m, "order.orderDescription", "Seed order 000")
		set(t, m, "order.referenceOrderId", newRequestID("ORDER"))
		set(t, m, "paymentRedirectUrl", tdsRedirect)
		r.used("378282246310005", "7391")
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(body, []byte(`"is3DSAuthentication":true`)) {
			t.Fatalf("seed lost is3DSAuthentication: %s", body)
		}
		resp, raw := r.payRaw(t, body)
		normalURL := r.challenged(t, resp, raw)
		if a := resp.PaymentAmount; a == nil || a.Currency != "EUR" || a.Value != "7000" {
			t.Errorf("paymentAmount %+v", a)
		}
		status, page := r.page(t, normalURL)
		if status != http.StatusOK || !strings.Contains(page, "70.00 EUR") || !strings.Contains(page, "Seed order 000") ||
			!strings.Contains(page, "AMEX") || !strings.Contains(page, "0005") {
			t.Errorf("seed page: %d\n%s", status, page)
		}
		r.passCode(t, normalURL)
		inq := r.inquire(t, resp.PaymentID)
		if inq.PaymentStatus != "SUCCESS" {
			t.Fatalf("inquiry %s/%s", inq.PaymentStatus, inq.PaymentResultCode)
		}
		authenticated(t, "inquiry", inq.PaymentResultInfo.ThreeDSResult, true)
	})

	// The scan runs while a challenge is pending: its card is in the store, and must be ciphertext.
	pending, raw := r.pay(t, r.request("6011111111111117", "739", true))
	r.challenged(t, pending, raw)
	sealed := r.sealedCard(t, pending.PaymentID)
	if sealed == "" {
		t.Fatalf("pending challenge has no sealed card")
	}
	r.checkCiphertext(t, sealed)
	r.scan(t, "running")
	r.g.stop()
	r.scan(t, "stopped")
}

// TestThreeDSAbandonedChallenge: a buyer who never answers the challenge: the payment closes at its
// expiry (14 minutes) as failed, is notified, and its sealed card is gone.
func TestThreeDSAbandonedChallenge(t *testing.T) {
	t.Parallel()
	r := newTDSRun(t)
	resp, raw := r.pay(t, r.request("4242424242424242", "741", true))
	normalURL := r.challenged(t, resp, raw)
	r.checkCiphertext(t, r.sealedCard(t, resp.PaymentID))
	r.scan(t, "pending")

	adv, err := r.g.client.AdvanceClock(context.Background(), "15m")
	if err != nil || adv.Result.ResultStatus != "S" {
		t.Fatalf("advance clock: %+v %v", adv, err)
	}
	inq := r.inquire(t, resp.PaymentID)
	if inq.PaymentStatus != "FAIL" || inq.PaymentResultCode != "ORDER_IS_CLOSED" {
		t.Fatalf("inquiry %s/%s, want FAIL/ORDER_IS_CLOSED", inq.PaymentStatus, inq.PaymentResultCode)
	}
	if s := r.sealedCard(t, resp.PaymentID); s != "" {
		t.Errorf("sealed_card kept after the expiry: %d characters", len(s))
	}
	n := r.oneResult(t, resp.PaymentID)
	if n.Result.ResultStatus != "F" || n.Result.ResultCode != "ORDER_IS_CLOSED" {
		t.Errorf("PAYMENT_RESULT %+v, want F/ORDER_IS_CLOSED", n.Result)
	}
	status, page := r.page(t, normalURL)
	if status != http.StatusOK || !strings.Contains(page, "not completed") || strings.Contains(page, `name="otp"`) ||
		!strings.Contains(page, `href="`+html.EscapeString(tdsRedirect)+`"`) {
		t.Errorf("page of the closed payment: %d\n%s", status, page)
	}
	// The code typed after the expiry authorizes nothing.
	if status, loc, _ := r.submit(t, normalURL, "1234"); status != http.StatusSeeOther || loc != tdsRedirect {
		t.Errorf("code after the expiry: %d %q", status, loc)
	}
	if c := r.count(t, `SELECT count(*) FROM payment_events WHERE payment_id = ? AND op LIKE 'AUTH_%'`, resp.PaymentID); c != 0 {
		t.Errorf("authorizations after the expiry: %d", c)
	}
	if inq := r.inquire(t, resp.PaymentID); inq.PaymentStatus != "FAIL" {
		t.Errorf("inquiry after a late code: %s", inq.PaymentStatus)
	}
	r.scan(t, "closed")
	r.g.stop()
	r.scan(t, "stopped")
}

func (r *tdsRun) sealedCard(t *testing.T, paymentID string) string {
	t.Helper()
	var s string
	if err := r.db.QueryRow(`SELECT sealed_card FROM payments WHERE payment_id = ?`, paymentID).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkCiphertext makes sure a sealed card is not merely encoded: none of its fields, decoded,
// shows a card number, a CVV or the JSON they were marshalled into.
func (r *tdsRun) checkCiphertext(t *testing.T, sealed string) {
	t.Helper()
	if strings.Count(sealed, ".") != 4 {
		t.Errorf("sealed card %.20q… is not the vault's five-field envelope", sealed)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, part := range strings.Split(sealed, ".") {
		for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
			b, err := enc.DecodeString(part)
			if err != nil {
				continue
			}
			for _, c := range r.cards {
				for _, n := range []string{c.pan, `"pan"`, `"cvv":"` + c.cvv + `"`} {
					if bytes.Contains(b, []byte(n)) {
						t.Errorf("sealed card decodes to plaintext containing %q", n)
					}
				}
			}
		}
	}
}

// scan searches the database file and its WAL (vault.key excluded: it holds keys, not cards), the
// logs, every answer and every page for every card number (bare, spaced, dashed) and CVV used.
func (r *tdsRun) scan(t *testing.T, when string) {
	t.Helper()
	files := map[string][]byte{"stdout": r.g.stdout.Bytes(), "stderr": r.g.stderr.Bytes()}
	entries, err := os.ReadDir(r.g.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "vault.key" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.g.dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	if _, ok := files["cardgate.db-wal"]; !ok && when != "stopped" {
		t.Errorf("%s: no WAL file while running: the scan would miss recent commits", when)
	}
	if len(r.g.stderr.Bytes()) == 0 {
		t.Errorf("%s: no logs captured", when)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, b := range r.seen {
		files[name] = b
	}
	if len(r.cards) == 0 {
		t.Fatalf("no cards to scan for")
	}
	for _, c := range r.cards {
		needles := append(panForms(c.pan), `"cvv":"`+c.cvv+`"`, "cvv="+c.cvv)
		for name, b := range files {
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) {
					t.Errorf("%s: %s contains %q", when, name, n)
				}
			}
		}
	}
}
