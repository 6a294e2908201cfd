// Package e2e drives the real cardgate binary over HTTP with real signatures, the way a merchant's
// server does.
package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/bin"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/protocol"
)

var binary, shopBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cardgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, shopBinary = filepath.Join(dir, "cardgate"), filepath.Join(dir, "shop")
	for _, b := range []struct{ out, pkg string }{{binary, "../cmd/cardgate"}, {shopBinary, "../examples/shop"}} {
		build := exec.Command("go", "build", "-o", b.out, b.pkg)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", b.pkg+":", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// readyInfo is what `serve --ready-file` writes once the gateway serves.
type readyInfo struct {
	URL   string `json:"url"`
	Addr  string `json:"addr"`
	Mode  string `json:"mode"`
	Store string `json:"store"`
	PID   int    `json:"pid"`
}

// waitReady waits for a serve process's --ready-file, until the process ends (done) or timeout.
func waitReady(path string, done <-chan struct{}, timeout time.Duration) (readyInfo, error) {
	deadline := time.After(timeout)
	for {
		if b, err := os.ReadFile(path); err == nil {
			var info readyInfo
			if err := json.Unmarshal(b, &info); err != nil {
				return info, fmt.Errorf("ready file %q: %w", b, err)
			}
			return info, nil
		}
		select {
		case <-done:
			return readyInfo{}, fmt.Errorf("serve exited before it was ready")
		case <-deadline:
			return readyInfo{}, fmt.Errorf("serve was not ready within %s", timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// gateway is a running cardgate process with its own data directory.
type gateway struct {
	t      *testing.T
	dir    string
	url    string
	creds  merchant.Credentials
	client *client.Client
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
}

// startGateway runs `cardgate init --json` then `cardgate serve` on a fresh data directory.
func startGateway(t *testing.T, extra ...string) *gateway {
	t.Helper()
	g := &gateway{t: t, dir: t.TempDir(), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	out, err := exec.Command(binary, "init", "--data", g.dir, "--json").Output()
	if err != nil {
		t.Fatalf("cardgate init: %v", err)
	}
	if err := json.Unmarshal(out, &g.creds); err != nil {
		t.Fatalf("init --json output %q: %v", out, err)
	}
	ready := filepath.Join(t.TempDir(), "ready.json")
	args := append([]string{"serve", "--data", g.dir, "--addr", "127.0.0.1:0", "--log-level", "debug", "--ready-file", ready}, extra...)
	g.cmd = exec.Command(binary, args...)
	g.cmd.Stdout = g.stdout
	g.cmd.Stderr = g.stderr
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("start serve: %v", err)
	}
	go func() {
		_ = g.cmd.Wait()
		close(g.done)
	}()
	info, err := waitReady(ready, g.done, 20*time.Second)
	if err != nil {
		t.Fatalf("%v:\n%s", err, g.stderr.Bytes())
	}
	g.url = info.URL
	t.Cleanup(g.stop)
	g.client = g.newClient(g.creds.MerchantPrivateKey)
	return g
}

func (g *gateway) newClient(privateKey string) *client.Client {
	c, err := client.New(client.Config{
		BaseURL:          g.url,
		ClientID:         g.creds.ClientID,
		PrivateKey:       privateKey,
		GatewayPublicKey: g.creds.GatewayPublicKey,
	})
	if err != nil {
		g.t.Fatal(err)
	}
	return c
}

// stop ends the process gracefully; it is safe to call twice.
func (g *gateway) stop() {
	select {
	case <-g.done:
		return
	default:
	}
	// Spare keep-alive connections that never carried a request would hold the server's graceful
	// shutdown for its 5-second grace period.
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// db opens the gateway's database file read-only, as an auditor would.
func (g *gateway) db() *sql.DB {
	g.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(g.dir, sqlite.FileName)+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { db.Close() })
	return db
}

func (g *gateway) count(query string, args ...any) int {
	g.t.Helper()
	var n int
	if err := g.db().QueryRow(query, args...).Scan(&n); err != nil {
		g.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// post sends a raw body to an API path and returns the verified raw answer.
func (g *gateway) post(api string, body []byte) []byte {
	g.t.Helper()
	r, err := g.client.Do(context.Background(), g.client.Path(api), body)
	if err != nil {
		g.t.Fatalf("%s: %v", api, err)
	}
	if r.StatusCode != 200 {
		g.t.Fatalf("%s: HTTP %d", api, r.StatusCode)
	}
	return r.Body
}

func (g *gateway) pay(req *protocol.PayRequest) *protocol.PayResponse {
	g.t.Helper()
	resp, err := g.client.Pay(context.Background(), req)
	if err != nil {
		g.t.Fatalf("pay: %v", err)
	}
	return resp
}

func (g *gateway) inquire(paymentID string) *protocol.InquiryPaymentResponse {
	g.t.Helper()
	resp, err := g.client.InquiryPayment(context.Background(), &protocol.InquiryPaymentRequest{PaymentID: paymentID})
	if err != nil {
		g.t.Fatalf("inquiryPayment: %v", err)
	}
	return resp
}

var requestSeq struct {
	sync.Mutex
	n int
}

func newRequestID(prefix string) string {
	requestSeq.Lock()
	defer requestSeq.Unlock()
	requestSeq.n++
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), requestSeq.n)
}

// payRequest is the 004-34 seed request with the given card, and the fields the card's local
// card rules ask for (docs/wire.md §5.3 "Local cards"), so that any test card pays.
func payRequest(cardNo, cvv string) *protocol.PayRequest {
	req := seedPayRequest(cardNo, cvv)
	addLocalFields(req.PaymentMethod.PaymentMethodMetaData)
	return req
}

// addLocalFields fills in the local card fields of m's card, by its issuing country.
func addLocalFields(m *protocol.CardMetaData) {
	n, err := card.ParseNumber(m.CardNo)
	if err != nil {
		return
	}
	switch info := bin.Lookup(n); info.Country {
	case "BR":
		m.PayerEmail, m.CPF = "buyer@example.com", "529.982.247-25"
	case "CL", "MX", "PE":
		m.PayerEmail = "buyer@example.com"
	case "KR":
		m.CardPasswordDigest, m.DateOfBirth = "12", "1990-01-31"
		if info.Category == "COMMERCIAL" {
			m.DateOfBirth, m.BusinessNo = "", "1248100998"
		}
	}
}

// seedPayRequest is the 004-34 seed request with the given card, as it is.
func seedPayRequest(cardNo, cvv string) *protocol.PayRequest {
	return &protocol.PayRequest{
		ProductCode:        "CASHIER_PAYMENT",
		PaymentRequestID:   newRequestID("e2e"),
		PaymentAmount:      &protocol.Amount{Currency: "SGD", Value: "4200"},
		PaymentRedirectURL: "http://www.yourRedirectUrl.com",
		PaymentNotifyURL:   "http://127.0.0.1:9/notify",
		PaymentFactor:      &protocol.PaymentFactor{IsAuthorization: true},
		PaymentMethod: &protocol.PaymentMethod{
			PaymentMethodType: "CARD",
			PaymentMethodMetaData: &protocol.CardMetaData{
				CardNo:         cardNo,
				CVV:            cvv,
				ExpiryMonth:    "06",
				ExpiryYear:     "30",
				CardholderName: &protocol.UserName{FirstName: "Alan", LastName: "Wallex"},
			},
		},
		Order: &protocol.Order{
			ReferenceOrderID: "3232db07-91f7-4364-85bc-829a4c1c653f",
			OrderDescription: "antom test order",
			OrderAmount:      &protocol.Amount{Currency: "SGD", Value: "4200"},
			Buyer:            &protocol.Buyer{ReferenceBuyerID: "yourBuyerId"},
		},
		Env: &protocol.Env{TerminalType: "WEB", ClientIP: "114.121.121.01"},
	}
}
