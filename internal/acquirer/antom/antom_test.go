package antom_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/antom"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// upstream is a real cardgate in sandbox mode, the Antom-compatible endpoint the connector calls.
type upstream struct {
	g      *gateway.Gateway
	cfg    antom.Config // a working configuration for its sandbox merchant
	client *client.Client
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	g, err := gateway.Start(context.Background(), gateway.Config{Data: t.TempDir(), Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	creds, err := g.Credentials()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{BaseURL: g.URL, ClientID: creds.ClientID,
		PrivateKey: creds.MerchantPrivateKey, GatewayPublicKey: creds.GatewayPublicKey})
	if err != nil {
		t.Fatal(err)
	}
	return &upstream{g: g, client: c, cfg: antom.Config{Name: "UPSTREAM", URL: g.URL, ClientID: creds.ClientID,
		PrivateKey: creds.MerchantPrivateKey, UpstreamPublicKey: creds.GatewayPublicKey}}
}

func (u *upstream) acquirer(t *testing.T) *antom.Acquirer {
	t.Helper()
	return newAcquirer(t, u.cfg)
}

func newAcquirer(t *testing.T, cfg antom.Config) *antom.Acquirer {
	t.Helper()
	a, err := antom.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (u *upstream) advance(t *testing.T, d string) {
	t.Helper()
	resp, err := u.client.AdvanceClock(context.Background(), d)
	if err != nil || resp.Result.ResultStatus != "S" {
		t.Fatalf("advance %s: %v %+v", d, err, resp)
	}
}

func paymentID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "GW" + hex.EncodeToString(b)
}

func sgd(minor int64) money.Amount {
	cur, ok := money.Lookup("SGD")
	if !ok {
		panic("SGD unknown")
	}
	return money.Amount{Currency: cur, Minor: minor}
}

func authRequest(t *testing.T, pan string) acquirer.AuthRequest {
	t.Helper()
	n, err := card.ParseNumber(pan)
	if err != nil {
		t.Fatal(err)
	}
	return acquirer.AuthRequest{PaymentID: paymentID(t), MerchantID: "M1", Amount: sgd(4200), Card: n,
		Expiry: card.Expiry{Year: 2099, Month: 6}, CVV: "123", HolderName: "Alan Wallex",
		RedirectURL: "https://front.example/return", BuyerID: "buyer-1", ClientIP: "1.2.3.4"}
}

func authorize(t *testing.T, a *antom.Acquirer, req acquirer.AuthRequest) acquirer.AuthResult {
	t.Helper()
	res, err := a.Authorize(context.Background(), req)
	if err != nil {
		t.Fatalf("authorize %s: %v", req.Card, err)
	}
	return res
}

const approvedCard = "4054695723100768"

// TestAuthorizeMapping drives the upstream's test cards through Authorize, one row of the
// package doc's table each.
func TestAuthorizeMapping(t *testing.T) {
	u := startUpstream(t)
	a := u.acquirer(t)
	for _, tc := range []struct {
		name    string
		card    string
		want3DS bool
		outcome acquirer.Outcome
		decline protocol.Code
		cvv     string
	}{
		{"approved", approvedCard, false, acquirer.Approved, "", "Y"},
		{"do not honor", "4000000000000002", false, acquirer.Declined, protocol.CodeDoNotHonor, ""},
		{"insufficient funds", "4000000000009995", false, acquirer.Declined, protocol.CodeUserBalanceNotEnough, ""},
		{"card expired", "4000000000000069", false, acquirer.Declined, protocol.CodeCardExpired, ""},
		{"invalid cvv", "4000000000000127", false, acquirer.Declined, protocol.CodeInvalidCVV, "N"},
		{"suspected card", "4000000000009987", false, acquirer.Declined, protocol.CodeSuspectedCard, ""},
		{"risk reject", "4100000000000019", false, acquirer.Declined, protocol.CodeRiskReject, ""},
		{"soft decline", "4000000000003063", false, acquirer.Declined, protocol.CodeAuthenticationRequired, ""},
		{"acquirer timeout", "4000000000000119", false, acquirer.Pending, "", ""},
		{"3-D Secure", approvedCard, true, acquirer.ActionRequired, "", ""},
		{"3-D Secure frictionless", "4000000000003220", true, acquirer.Approved, "", "Y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := authRequest(t, tc.card)
			req.Want3DS = tc.want3DS
			res := authorize(t, a, req)
			if res.Outcome != tc.outcome || res.DeclineCode != tc.decline {
				t.Fatalf("outcome %v %q, want %v %q (%+v)", res.Outcome, res.DeclineCode, tc.outcome, tc.decline, res)
			}
			if res.AcquirerName != "UPSTREAM" || res.AcquirerMerchantID != u.cfg.ClientID || res.AcquirerTransactionID == "" {
				t.Fatalf("acquirer ids %+v", res)
			}
			switch tc.outcome {
			case acquirer.Approved:
				if res.NetworkTransactionID == "" || res.AuthorizationCode == "" || res.CVVResult != tc.cvv ||
					res.Funding != "CREDIT" || res.IssuingCountry != "US" || res.AcquirerResultCode != "SUCCESS" {
					t.Fatalf("approval details %+v", res)
				}
			case acquirer.Declined:
				if res.DeclineMsg == "" || res.AcquirerResultCode != string(tc.decline) || (tc.cvv != "" && res.CVVResult != tc.cvv) {
					t.Fatalf("decline details %+v", res)
				}
			case acquirer.Pending:
				if res.RetryAfter <= 0 {
					t.Fatalf("pending without RetryAfter: %+v", res)
				}
			case acquirer.ActionRequired:
				if !strings.HasPrefix(res.NormalURL, u.g.URL+"/") {
					t.Fatalf("normalUrl %q not on the upstream %s", res.NormalURL, u.g.URL)
				}
			}
			// The upstream knows it by the gateway's reference, in the same state.
			byRef, err := a.InquireByReference(context.Background(), req.PaymentID)
			want := tc.outcome
			if want == acquirer.ActionRequired {
				want = acquirer.Pending // the buyer has not come back from the page
			}
			if err != nil || byRef.Outcome != want || byRef.AcquirerTransactionID != res.AcquirerTransactionID {
				t.Fatalf("by reference: %v %+v, want %v of %s", err, byRef, want, res.AcquirerTransactionID)
			}
		})
	}
}

// TestUpstreamRefusesTheCall: answers that refuse the request before any card decision are
// Unavailable, so the gateway may try another acquirer.
func TestUpstreamRefusesTheCall(t *testing.T) {
	u := startUpstream(t)
	otherKey, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	otherPriv, err := protocol.EncodePrivateKeyPKCS8(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	xts := money.Amount{Currency: money.Currency{Code: "XTS"}, Minor: 100}
	for _, tc := range []struct {
		name   string
		cfg    func(antom.Config) antom.Config
		amount *money.Amount
		code   string
	}{
		{"wrong private key", func(c antom.Config) antom.Config { c.PrivateKey = otherPriv; return c }, nil, "INVALID_SIGNATURE"},
		{"unknown client id", func(c antom.Config) antom.Config { c.ClientID = "SANDBOX_NOBODY"; return c }, nil, "KEY_NOT_FOUND"},
		{"currency the upstream refuses", func(c antom.Config) antom.Config { return c }, &xts, "CURRENCY_NOT_SUPPORT"},
		{"a field the upstream requires", func(c antom.Config) antom.Config { return c }, nil, "PARAM_ILLEGAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAcquirer(t, tc.cfg(u.cfg))
			req := authRequest(t, approvedCard)
			if tc.amount != nil {
				req.Amount = *tc.amount
			}
			if tc.code == "PARAM_ILLEGAL" {
				req.ClientIP = ""
			}
			res := authorize(t, a, req)
			if res.Outcome != acquirer.Unavailable || res.AcquirerResultCode != tc.code {
				t.Fatalf("got %v %q, want unavailable %s (%+v)", res.Outcome, res.AcquirerResultCode, tc.code, res)
			}
		})
	}
}

// TestAuthorizeReplay: the gateway's retry of an authorization is the upstream's replay of it;
// the same reference with other key fields is an unknown outcome, never a decline.
func TestAuthorizeReplay(t *testing.T) {
	a := startUpstream(t).acquirer(t)
	req := authRequest(t, approvedCard)
	first := authorize(t, a, req)
	again := authorize(t, a, req)
	if first.Outcome != acquirer.Approved || again.Outcome != acquirer.Approved || again.AcquirerTransactionID != first.AcquirerTransactionID {
		t.Fatalf("first %+v, again %+v", first, again)
	}
	req.Amount = sgd(4300)
	if res, err := a.Authorize(context.Background(), req); err == nil {
		t.Fatalf("another amount under the same reference: %+v", res)
	}
	req.PaymentID = ""
	if res, err := a.Authorize(context.Background(), req); err == nil {
		t.Fatalf("no reference: %+v", res)
	}
}

// TestUpstreamDown: a request that cannot reach the upstream at all is Unavailable, not an error.
func TestUpstreamDown(t *testing.T) {
	u := startUpstream(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, url := range []string{closed, "http://upstream.invalid"} {
		cfg := u.cfg
		cfg.URL = url
		res, err := newAcquirer(t, cfg).Authorize(context.Background(), authRequest(t, approvedCard))
		if err != nil || res.Outcome != acquirer.Unavailable {
			t.Fatalf("%s: %v %+v, want unavailable", url, err, res)
		}
	}
}

// TestWrongUpstreamKey: an answer that does not verify is an unknown outcome, never a result.
func TestWrongUpstreamKey(t *testing.T) {
	u := startUpstream(t)
	otherKey, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := u.cfg
	if cfg.UpstreamPublicKey, err = protocol.EncodePublicKey(&otherKey.PublicKey); err != nil {
		t.Fatal(err)
	}
	a := newAcquirer(t, cfg)
	req := authRequest(t, approvedCard)
	if res, err := a.Authorize(context.Background(), req); !errors.Is(err, client.ErrSignature) {
		t.Fatalf("authorize: %v %+v, want a signature error", err, res)
	}
	// The upstream did take it: the outcome was unknown, not nothing.
	if res, err := u.acquirer(t).InquireByReference(context.Background(), req.PaymentID); err != nil || res.Outcome != acquirer.Approved {
		t.Fatalf("by reference: %v %+v", err, res)
	}
}

// TestNon200IsUnknown: a signed answer under another HTTP status than 200 is not trusted as an
// answer.
func TestNon200IsUnknown(t *testing.T) {
	key, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := protocol.EncodePublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := protocol.EncodePrivateKeyPKCS8(key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := []byte(`{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},"paymentId":"P1"}`)
		now := protocol.FormatTime(time.Now())
		sig, err := protocol.Sign(key, protocol.SigningContent(http.MethodPost, r.URL.EscapedPath(), r.Header.Get("client-id"), now, body))
		if err != nil {
			t.Error(err)
		}
		w.Header()["response-time"] = []string{now}
		w.Header()["signature"] = []string{protocol.SignatureHeader{KeyVersion: "1", Signature: sig}.String()}
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	a := newAcquirer(t, antom.Config{Name: "X", URL: "http://" + ln.Addr().String(), ClientID: "SANDBOX_X", PrivateKey: priv, UpstreamPublicKey: pub})
	if res, err := a.Authorize(context.Background(), authRequest(t, approvedCard)); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("got %v %+v, want an HTTP 500 error", err, res)
	}
}

// TestPendingSettlesLater: the timeout card is Pending, and approved once the upstream's clock
// has passed its settle time.
func TestPendingSettlesLater(t *testing.T) {
	u := startUpstream(t)
	a := u.acquirer(t)
	ctx := context.Background()
	req := authRequest(t, "4000000000000119")
	res := authorize(t, a, req)
	if res.Outcome != acquirer.Pending || res.AcquirerTransactionID == "" {
		t.Fatalf("pay: %+v", res)
	}
	if again, err := a.InquireAuthorization(ctx, res.AcquirerTransactionID); err != nil || again.Outcome != acquirer.Pending {
		t.Fatalf("before the settle time: %v %+v", err, again)
	}
	u.advance(t, "6s")
	done, err := a.InquireAuthorization(ctx, res.AcquirerTransactionID)
	if err != nil || done.Outcome != acquirer.Approved || done.AcquirerTransactionID != res.AcquirerTransactionID || done.AcquirerResultCode != "SUCCESS" {
		t.Fatalf("after: %v %+v", err, done)
	}
	if byRef, err := a.InquireByReference(ctx, req.PaymentID); err != nil || byRef.Outcome != acquirer.Approved {
		t.Fatalf("by reference: %v %+v", err, byRef)
	}
}

func TestInquireUnknownReference(t *testing.T) {
	a := startUpstream(t).acquirer(t)
	if res, err := a.InquireByReference(context.Background(), paymentID(t)); !errors.Is(err, acquirer.ErrNotFound) {
		t.Fatalf("got %v %+v, want ErrNotFound", err, res)
	}
}

// TestCaptureAndRefund: a capture and refunds of an approval, their inquiry by Reference, and
// the idempotency of a retried capture.
func TestCaptureAndRefund(t *testing.T) {
	u := startUpstream(t)
	a := u.acquirer(t)
	ctx := context.Background()
	auth := authorize(t, a, authRequest(t, approvedCard))
	creq := acquirer.CaptureRequest{PaymentID: "GWX", AcquirerTransactionID: auth.AcquirerTransactionID, Amount: sgd(4200)}
	capt, err := a.Capture(ctx, creq)
	if err != nil || capt.Status != acquirer.OpSucceeded || !strings.HasPrefix(capt.Reference, "capture/"+auth.AcquirerTransactionID+"/") {
		t.Fatalf("capture: %v %+v", err, capt)
	}
	if again, err := a.Capture(ctx, creq); err != nil || again != capt {
		t.Fatalf("retried capture: %v %+v, want the first answer %+v", err, again, capt)
	}
	if inq, err := a.InquireCapture(ctx, capt.Reference); err != nil || inq.Status != acquirer.OpSucceeded || inq.Reference != capt.Reference {
		t.Fatalf("inquire capture: %v %+v", err, inq)
	}

	ref1, err := a.Refund(ctx, acquirer.RefundRequest{RefundID: paymentID(t), AcquirerTransactionID: auth.AcquirerTransactionID, Amount: sgd(3000)})
	if err != nil || ref1.Status != acquirer.OpSucceeded || !strings.HasPrefix(ref1.Reference, "refund/") {
		t.Fatalf("refund: %v %+v", err, ref1)
	}
	if inq, err := a.InquireCapture(ctx, ref1.Reference); err != nil || inq.Status != acquirer.OpSucceeded {
		t.Fatalf("inquire refund: %v %+v", err, inq)
	}
	over, err := a.Refund(ctx, acquirer.RefundRequest{RefundID: paymentID(t), AcquirerTransactionID: auth.AcquirerTransactionID, Amount: sgd(3000)})
	if err != nil || over.Status != acquirer.OpFailed || over.Code != protocol.CodeRefundAmountExceed {
		t.Fatalf("refund above what remains: %v %+v", err, over)
	}
	if _, err := a.InquireCapture(ctx, "nonsense"); err == nil {
		t.Fatal("an unknown reference was inquired")
	}
}

// TestCaptureFailsAndDelays: the capture test cards through Capture and InquireCapture.
func TestCaptureFailsAndDelays(t *testing.T) {
	u := startUpstream(t)
	a := u.acquirer(t)
	ctx := context.Background()

	fails := authorize(t, a, authRequest(t, "4000000000000036"))
	res, err := a.Capture(ctx, acquirer.CaptureRequest{PaymentID: "GW1", AcquirerTransactionID: fails.AcquirerTransactionID, Amount: sgd(4200)})
	if err != nil || res.Status != acquirer.OpFailed || res.Code != protocol.CodeProcessFail || res.Message == "" {
		t.Fatalf("failing capture: %v %+v", err, res)
	}

	slow := authorize(t, a, authRequest(t, "4000000000000028"))
	res, err = a.Capture(ctx, acquirer.CaptureRequest{PaymentID: "GW2", AcquirerTransactionID: slow.AcquirerTransactionID, Amount: sgd(4200)})
	if err != nil || res.Status != acquirer.OpPending || res.RetryAfter <= 0 {
		t.Fatalf("slow capture: %v %+v", err, res)
	}
	if inq, err := a.InquireCapture(ctx, res.Reference); err != nil || inq.Status != acquirer.OpPending {
		t.Fatalf("slow capture inquired at once: %v %+v", err, inq)
	}
	u.advance(t, "61s")
	if inq, err := a.InquireCapture(ctx, res.Reference); err != nil || inq.Status != acquirer.OpSucceeded {
		t.Fatalf("slow capture after a minute: %v %+v", err, inq)
	}
}

// TestVoidAndReverse: releasing an authorization by the upstream's id and by the gateway's
// reference; both are idempotent, and releasing what holds nothing succeeds.
func TestVoidAndReverse(t *testing.T) {
	u := startUpstream(t)
	a := u.acquirer(t)
	ctx := context.Background()

	voided := authorize(t, a, authRequest(t, approvedCard))
	for i := range 2 {
		if err := a.Void(ctx, voided.AcquirerTransactionID); err != nil {
			t.Fatalf("void %d: %v", i, err)
		}
	}
	if res, err := a.InquireAuthorization(ctx, voided.AcquirerTransactionID); err != nil || res.Outcome != acquirer.Declined || res.DeclineCode != protocol.CodeOrderIsCanceled {
		t.Fatalf("after void: %v %+v", err, res)
	}

	req := authRequest(t, approvedCard)
	authorize(t, a, req)
	for i := range 2 {
		if err := a.Reverse(ctx, req.PaymentID); err != nil {
			t.Fatalf("reverse %d: %v", i, err)
		}
	}
	if res, err := a.InquireByReference(ctx, req.PaymentID); !errors.Is(err, acquirer.ErrNotFound) {
		t.Fatalf("after reverse: %v %+v, want ErrNotFound", err, res)
	}
	if err := a.Reverse(ctx, paymentID(t)); err != nil {
		t.Fatalf("reverse of nothing: %v", err)
	}

	declined := authorize(t, a, authRequest(t, "4000000000000002"))
	if err := a.Void(ctx, declined.AcquirerTransactionID); err != nil {
		t.Fatalf("void of a decline: %v", err)
	}

	captured := authorize(t, a, authRequest(t, approvedCard))
	if _, err := a.Capture(ctx, acquirer.CaptureRequest{PaymentID: "GW3", AcquirerTransactionID: captured.AcquirerTransactionID, Amount: sgd(4200)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Void(ctx, captured.AcquirerTransactionID); err == nil {
		t.Fatal("a captured payment was voided")
	}
}

func TestNewValidates(t *testing.T) {
	u := startUpstream(t)
	for name, change := range map[string]func(*antom.Config){
		"no name":           func(c *antom.Config) { c.Name = "" },
		"relative URL":      func(c *antom.Config) { c.URL = "/ams" },
		"bad private key":   func(c *antom.Config) { c.PrivateKey = "bm90IGEga2V5" },
		"bad upstream key":  func(c *antom.Config) { c.UpstreamPublicKey = "" },
		"relative notifies": func(c *antom.Config) { c.NotifyURL = "notify" },
	} {
		cfg := u.cfg
		change(&cfg)
		if _, err := antom.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
