package api_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"github.com/jackc/pgx/v5/pgxpool"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/jobs"
	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/protocol"
)

// Paths as the SDKs send them: a SANDBOX_ client id makes every SDK use the sandbox prefix, but the
// gateway must serve both (docs/wire.md §1.1).
const (
	livePay        = protocol.PrefixLive + protocol.PathPay
	sandboxPay     = protocol.PrefixSandbox + protocol.PathPay
	liveInquiry    = protocol.PrefixLive + protocol.PathInquiryPayment
	sandboxInquiry = protocol.PrefixSandbox + protocol.PathInquiryPayment
	approvedCard   = "4054695723100768" // Antom's own sample card, approved by the simulator
	otherApproved  = "4242424242424242"
	declinedCard   = "4000000000000002" // DO_NOT_HONOR
	timeoutCard    = "4000000000000119" // acquirer times out: U / PAYMENT_IN_PROCESS
)

// basePayJSON is e2e/testdata/fixtures/004-34-pay-request.json (Antom's server-to-server card
// sample) with the expiry year moved far into the future.
const basePayJSON = `{
  "paymentNotifyUrl": "http://www.yourNotifyUrl.com",
  "paymentRequestId": "paymentRequestId01",
  "env": {"terminalType": "WEB", "clientIp": "114.121.121.01"},
  "paymentAmount": {"currency": "SGD", "value": "4200"},
  "productCode": "CASHIER_PAYMENT",
  "paymentRedirectUrl": "http://www.yourRedirectUrl.com",
  "paymentFactor": {"isAuthorization": true},
  "paymentMethod": {
    "paymentMethodMetaData": {
      "cvv": "712",
      "cardholderName": {"firstName": "Alan", "lastName": "Wallex"},
      "expiryMonth": "06",
      "expiryYear": "99",
      "cardNo": "4054695723100768"
    },
    "paymentMethodType": "CARD"
  },
  "order": {
    "orderAmount": {"currency": "SGD", "value": "4200"},
    "referenceOrderId": "3232db07-91f7-4364-85bc-829a4c1c653f",
    "env": {"terminalType": "WEB", "clientIp": "114.121.121.01"},
    "orderDescription": "antom test order",
    "buyer": {"referenceBuyerId": "yourBuyerId"}
  }
}`

// payRequest returns a fresh, valid pay request with the given paymentRequestId.
func payRequest(t testing.TB, requestID string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(basePayJSON), &m); err != nil {
		t.Fatal(err)
	}
	m["paymentRequestId"] = requestID
	return m
}

// setPath sets a dotted path in a JSON object, creating objects on the way.
func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// deletePath removes a dotted path from a JSON object; a missing parent is fine.
func deletePath(m map[string]any, path string) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, parts[len(parts)-1])
}

// getPath reads a dotted path from a decoded JSON object (nil when absent).
func getPath(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[p]
	}
	return cur
}

func str(m map[string]any, path string) string {
	s, _ := getPath(m, path).(string)
	return s
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture is created once per test binary: RSA key generation is the slowest thing in the set-up,
// so every stack reuses one gateway key and one sandbox merchant, each created the way `serve`
// creates them (keyring.Ensure, merchant.EnsureSandbox on an empty store).
var fixture struct {
	once     sync.Once
	err      error
	gateway  keyring.StoredKey
	merchant merchant.Merchant
}

func loadFixture(t testing.TB) {
	t.Helper()
	fixture.once.Do(func() {
		dir, err := os.MkdirTemp("", "cardgate-api-test")
		if err != nil {
			fixture.err = err
			return
		}
		defer os.RemoveAll(dir)
		ctx := context.Background()
		st, err := sqlite.Open(ctx, dir)
		if err != nil {
			fixture.err = err
			return
		}
		defer st.Close()
		if _, err := keyring.Ensure(ctx, st, time.Now()); err != nil {
			fixture.err = err
			return
		}
		keys, err := st.GatewayKeys(ctx)
		if err != nil || len(keys) != 1 {
			fixture.err = fmt.Errorf("gateway keys %v: %v", keys, err)
			return
		}
		m, created, err := merchant.EnsureSandbox(ctx, st, time.Now())
		if err != nil || !created {
			fixture.err = fmt.Errorf("sandbox merchant created=%v: %v", created, err)
			return
		}
		fixture.gateway, fixture.merchant = keys[0], m
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
}

// countingAcquirers count the Authorize calls of every acquirer of a stack and can slow them
// down, so that concurrent duplicates really overlap with the first authorization.
type countingAcquirers struct {
	calls atomic.Int64
	delay time.Duration
}

// counted is one acquirer of the stack, counted by its group.
type counted struct {
	acquirer.Acquirer
	group *countingAcquirers
}

func (a counted) Authorize(ctx context.Context, req acquirer.AuthRequest) (acquirer.AuthResult, error) {
	a.group.calls.Add(1)
	if d := a.group.delay; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return acquirer.AuthResult{}, ctx.Err()
		}
	}
	return a.Acquirer.Authorize(ctx, req)
}

// stack is the real gateway in-process, assembled as `serve` assembles it (internal/gateway):
// SQLite in a temp dir (or PostgreSQL), the gateway key, the sandbox merchant, the payments
// service on the simulator, the API and pages, served over real HTTP. The tests move time
// themselves, so its jobs and deliveries run only when the sandbox clock is advanced.
type stack struct {
	gw       *gateway.Gateway
	srv      stackServer
	store    *sqlite.Store // nil on PostgreSQL
	merchant merchant.Merchant
	key      *rsa.PrivateKey // the merchant's private key, as an SDK holds it
	gwPub    *rsa.PublicKey  // the gateway public key, as an SDK is configured with it
	acq      *countingAcquirers
	client   *http.Client
	clock    *clock.Offset // the sandbox clock; nil unless sandbox
	runner   *jobs.Runner  // nil unless sandbox
}

// stackServer is where the stack listens.
type stackServer struct{ URL string }

func newStackWith(t testing.TB, o stackOptions) *stack {
	t.Helper()
	loadFixture(t)
	ctx := context.Background()
	var (
		st  store.Store
		sq  *sqlite.Store
		err error
	)
	dir := t.TempDir()
	if o.postgres {
		st = openPostgresWith(t, o.pgTune)
	} else {
		if sq, err = sqlite.Open(ctx, dir); err != nil {
			t.Fatal(err)
		}
		st = sq
	}
	if err := st.AddGatewayKey(ctx, fixture.gateway); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateMerchant(ctx, fixture.merchant); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if o.log != nil {
		log = o.log
	}
	// Only a sandbox stack serves the clock's advance call, as `serve --mode sandbox`.
	mode := gateway.Production
	if o.sandbox {
		mode = gateway.Sandbox
	}
	acq := &countingAcquirers{}
	g, err := gateway.Start(ctx, gateway.Config{
		Mode: mode, Store: st, Data: dir, Addr: "127.0.0.1:0", Log: log, Manual: true,
		WrapAcquirer: func(a acquirer.Acquirer) acquirer.Acquirer { return counted{a, acq} },
		HTTPServer:   o.server,
	})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	m, err := st.MerchantByClientID(ctx, fixture.merchant.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := protocol.ParsePrivateKey(m.PrivateKey) // base64 PKCS#8, as the Go/Java/.NET SDKs take it
	if err != nil {
		t.Fatal(err)
	}
	gwPubB64, err := g.Key.PublicKeyBase64()
	if err != nil {
		t.Fatal(err)
	}
	gwPub, err := protocol.ParsePublicKey(gwPubB64)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{gw: g, srv: stackServer{URL: g.URL}, store: sq, merchant: m, key: priv, gwPub: gwPub, acq: acq,
		client: &http.Client{Timeout: time.Minute}, clock: g.Offset}
	if o.sandbox {
		s.runner = g.Jobs
	}
	return s
}

// stackOptions choose how a stack is wired.
type stackOptions struct {
	// sandbox runs the stack in sandbox mode: it serves /sandbox/v1/clock/advance through its
	// jobs runner, as `serve --mode sandbox`; otherwise in production mode.
	sandbox bool
	// postgres runs the stack on PostgreSQL (a fresh schema) instead of SQLite; the stack's
	// store field, and so its row counts, are then unavailable.
	postgres bool
	// pgTune adjusts the PostgreSQL pool's configuration (a counting dialer) before it connects.
	pgTune func(*pgxpool.Config)
	// log receives the gateway's log (discarded when nil); server adjusts the http.Server
	// (timeouts) before it serves.
	log    *slog.Logger
	server func(*http.Server)
}

func newStack(t testing.TB) *stack { return newStackWith(t, stackOptions{}) }

func newSandboxStack(t testing.TB) *stack { return newStackWith(t, stackOptions{sandbox: true}) }

// nowMS is the request-time the Go and Java SDKs send: epoch milliseconds.
func nowMS() string { return strconv.FormatInt(time.Now().UnixMilli(), 10) }

// signatureHeader signs a request exactly as every SDK does (docs/wire.md §2.2–2.4).
func signatureHeader(t testing.TB, key *rsa.PrivateKey, keyVersion, path, clientID, reqTime string, body []byte) string {
	t.Helper()
	sig, err := protocol.Sign(key, protocol.SigningContent(http.MethodPost, path, clientID, reqTime, body))
	if err != nil {
		t.Fatal(err)
	}
	return protocol.SignatureHeader{Algorithm: protocol.AlgorithmRSA256, KeyVersion: keyVersion, Signature: sig}.String()
}

// signedHeaders are the headers of a request signed by the stack's merchant for path and body.
// Names are lowercase as the Java/Python/PHP/.NET SDKs send them (set by map assignment so Go's
// client keeps them as given).
func (s *stack) signedHeaders(t testing.TB, path string, body []byte) http.Header {
	t.Helper()
	rt := nowMS()
	return http.Header{
		"client-id":    {s.merchant.ClientID},
		"request-time": {rt},
		"signature":    {signatureHeader(t, s.key, "1", path, s.merchant.ClientID, rt, body)},
		"Content-Type": {"application/json; charset=UTF-8"},
	}
}

// response is a verified gateway answer.
type response struct {
	raw  []byte
	body map[string]any
	hdr  http.Header
}

func (r response) code() string    { return str(r.body, "result.resultCode") }
func (r response) status() string  { return str(r.body, "result.resultStatus") }
func (r response) message() string { return str(r.body, "result.resultMessage") }

// send posts (or sends method) to path with exactly these headers and checks the answer like
// every SDK needs it: HTTP 200, signed as the Go SDK verifies, a result object.
func (s *stack) send(t testing.TB, method, path string, hdr http.Header, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return s.check(t, method, path, headerValue(hdr, "client-id"), resp, raw)
}

// headerValue reads a request header whatever the case of its name in the map (the helpers set
// lowercase names by map assignment, which Header.Get would not find).
func headerValue(h http.Header, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// check asserts the properties every gateway answer must have.
func (s *stack) check(t testing.TB, method, path, clientID string, resp *http.Response, raw []byte) response {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d, want 200; body %s", path, resp.StatusCode, raw)
	}
	if got := resp.Header.Get("client-id"); got != clientID {
		t.Errorf("%s: response client-id %q, want the request's %q", path, got, clientID)
	}
	if err := verifyLikeGoSDK(s.gwPub, method, path, resp.Header, raw); err != nil {
		t.Fatalf("%s: response signature: %v\nheaders %v\nbody %s", path, err, resp.Header, raw)
	}
	if ct := resp.Header.Values("Content-Type"); len(ct) != 1 || !strings.HasPrefix(ct[0], "application/json") {
		t.Errorf("%s: Content-Type %q, want one application/json", path, ct)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%s: response is not a JSON object: %v: %s", path, err, raw)
	}
	res, ok := body["result"].(map[string]any)
	if !ok {
		t.Fatalf("%s: response has no result object: %s", path, raw)
	}
	for _, k := range []string{"resultCode", "resultStatus", "resultMessage"} {
		if v, ok := res[k].(string); !ok || v == "" {
			t.Fatalf("%s: result.%s = %v, want a non-empty string: %s", path, k, res[k], raw)
		}
	}
	if want := string(protocol.Code(res["resultCode"].(string)).Status()); res["resultStatus"] != want {
		t.Errorf("%s: %s with status %v, want %s", path, res["resultCode"], res["resultStatus"], want)
	}
	return response{raw: raw, body: body, hdr: resp.Header}
}

// verifyLikeGoSDK checks a response signature the way the Go SDK (1.3.5) does: the signature is the
// text after "signature=", query-unescaped; the signed string uses the request's method and path
// (always POST from an SDK), and the client-id and response-time the response carries
// (docs/wire.md §2.6).
func verifyLikeGoSDK(pub *rsa.PublicKey, method, path string, h http.Header, body []byte) error {
	sigHeader := h.Get("signature")
	if sigHeader == "" {
		return fmt.Errorf("no signature header")
	}
	parts := strings.Split(sigHeader, "signature=")
	if len(parts) < 2 {
		return fmt.Errorf("signature header %q has no signature=", sigHeader)
	}
	sig, err := url.QueryUnescape(parts[1])
	if err != nil {
		return err
	}
	content := protocol.SigningContent(method, path, h.Get("client-id"), h.Get("response-time"), body)
	return protocol.Verify(pub, content, sig)
}

// call signs body for path and posts it with the stack's merchant.
func (s *stack) call(t testing.TB, path string, body []byte) response {
	t.Helper()
	return s.send(t, http.MethodPost, path, s.signedHeaders(t, path, body), body)
}

func (s *stack) pay(t testing.TB, req map[string]any) response {
	t.Helper()
	return s.call(t, livePay, mustJSON(t, req))
}

func (s *stack) inquire(t testing.TB, req map[string]any) response {
	t.Helper()
	return s.call(t, liveInquiry, mustJSON(t, req))
}

// rowCounts counts the rows a call may write: payments, payment_events, outbox, transactions.
type rowCounts struct{ payments, events, outbox, txns int }

func (s *stack) counts(t testing.TB) rowCounts {
	t.Helper()
	var c rowCounts
	for _, q := range []struct {
		table string
		dst   *int
	}{{"payments", &c.payments}, {"payment_events", &c.events}, {"outbox", &c.outbox}, {"transactions", &c.txns}} {
		if err := s.store.Raw().QueryRow(context.Background(), "SELECT COUNT(*) FROM "+q.table).Scan(q.dst); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// expectNothingStored fails if the row counts moved since before.
func (s *stack) expectNothingStored(t testing.TB, before rowCounts) {
	t.Helper()
	if after := s.counts(t); after != before {
		t.Errorf("rows changed: before %+v, after %+v; a refused request must store nothing", before, after)
	}
}

func expectResult(t testing.TB, r response, code, status string) {
	t.Helper()
	if r.code() != code || r.status() != status {
		t.Fatalf("result %s/%s (%q), want %s/%s\n%s", r.code(), r.status(), r.message(), code, status, r.raw)
	}
}
