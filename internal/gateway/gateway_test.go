package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/signer"
	"github.com/cardgate/cardgate/internal/store/postgres/pgtest"
	"github.com/cardgate/cardgate/protocol"
)

func pay(requestID, cardNo string) *protocol.PayRequest {
	return &protocol.PayRequest{
		ProductCode:        "CASHIER_PAYMENT",
		PaymentRequestID:   requestID,
		PaymentAmount:      &protocol.Amount{Currency: "SGD", Value: "4200"},
		PaymentRedirectURL: "https://shop.example/return",
		PaymentFactor:      &protocol.PaymentFactor{IsAuthorization: true},
		PaymentMethod: &protocol.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodMetaData: &protocol.CardMetaData{
			CardNo: cardNo, CVV: "123", ExpiryMonth: "06", ExpiryYear: "99",
			CardholderName: &protocol.UserName{FirstName: "Alan", LastName: "Wallex"},
		}},
		Order: &protocol.Order{ReferenceOrderID: "order-1", OrderDescription: "gateway test",
			OrderAmount: &protocol.Amount{Currency: "SGD", Value: "4200"}, Buyer: &protocol.Buyer{ReferenceBuyerID: "buyer-1"}},
		Env: &protocol.Env{TerminalType: "WEB", ClientIP: "1.2.3.4"},
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSandboxServesEveryPart starts the gateway as serve does and uses each part it wires: the
// sandbox merchant's credentials, a signed pay through the simulator, a 3-D Secure challenge
// (the vault), the buyer's page, the ops endpoints and the metrics; then Close frees the port.
func TestSandboxServesEveryPart(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) gateway.Config
	}{
		{"sqlite", func(t *testing.T) gateway.Config { return gateway.Config{Data: t.TempDir()} }},
		{"postgres", func(t *testing.T) gateway.Config {
			return gateway.Config{Data: t.TempDir(), Database: pgtest.FreshSchema(t, "cg_gateway")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := tc.cfg(t)
			cfg.Addr = "127.0.0.1:0"
			g, err := gateway.Start(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if !strings.HasPrefix(g.URL, "http://127.0.0.1:") || g.URL != "http://"+g.Addr {
				t.Fatalf("URL %q, Addr %q", g.URL, g.Addr)
			}
			creds, err := g.Credentials()
			if err != nil || !g.SandboxCreated {
				t.Fatalf("credentials %v (created %v)", err, g.SandboxCreated)
			}
			c, err := client.New(client.Config{BaseURL: g.URL, ClientID: creds.ClientID,
				PrivateKey: creds.MerchantPrivateKey, GatewayPublicKey: creds.GatewayPublicKey})
			if err != nil {
				t.Fatal(err)
			}
			approved, err := c.Pay(ctx, pay("gw-1", "4054695723100768"))
			if err != nil || approved.Result.ResultStatus != "S" {
				t.Fatalf("pay: %v %+v", err, approved)
			}
			threeDS := pay("gw-2", "4054695723100768")
			threeDS.PaymentMethod.PaymentMethodMetaData.Is3DSAuthentication = true // every card but the frictionless one is challenged
			challenged, err := c.Pay(ctx, threeDS)
			if err != nil || challenged.Result.ResultCode != "PAYMENT_IN_PROCESS" || challenged.NormalURL == "" {
				t.Fatalf("3DS pay: %v %+v", err, challenged)
			}
			if code, body := get(t, challenged.NormalURL); code != http.StatusOK || !strings.Contains(body, `name="otp"`) {
				t.Fatalf("challenge page: HTTP %d\n%s", code, body)
			}
			for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": `cardgate_api_requests_total`} {
				if code, body := get(t, g.URL+path); code != http.StatusOK || !strings.Contains(body, want) {
					t.Errorf("%s: HTTP %d, want %q in\n%.300s", path, code, want, body)
				}
			}
			// The build's signer signs (the pay above verified through the client), and says so.
			if g.Key.Signer == nil {
				t.Error("gateway key has no Signer")
			}
			_, body := get(t, g.URL+"/metrics")
			if !strings.Contains(body, `cardgate_signer_info{signer="`+signer.Name()+`"} 1`) {
				t.Errorf("/metrics lacks cardgate_signer_info for %s", signer.Name())
			}
			// SQLite says how it grouped the pays' commits; PostgreSQL has no such groups.
			commits, grouped := metricValue(body, "cardgate_sqlite_group_commits_total"), metricValue(body, "cardgate_sqlite_grouped_transactions_total")
			switch {
			case cfg.Database == "" && (commits <= 0 || grouped < commits):
				t.Errorf("/metrics on SQLite: %v group commits of %v transactions", commits, grouped)
			case cfg.Database != "" && strings.Contains(body, "cardgate_sqlite_"):
				t.Error("/metrics on PostgreSQL shows SQLite's group commits")
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if err := g.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			ln, err := net.Listen("tcp", g.Addr)
			if err != nil {
				t.Fatalf("the port stays taken after Close: %v", err)
			}
			ln.Close()
		})
	}
}

// TestProductionHasNoSandbox: no sandbox merchant, no sandbox clock or clock call, and no vault
// key made up beside the data (production's keys come from configuration only).
func TestProductionHasNoSandbox(t *testing.T) {
	dir := t.TempDir()
	g, err := gateway.Start(context.Background(), gateway.Config{Mode: gateway.Production, Data: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Credentials(); err == nil {
		t.Error("a production gateway gave sandbox credentials")
	}
	if g.Offset != nil {
		t.Error("a production gateway runs on the sandbox clock")
	}
	if _, err := os.Stat(filepath.Join(dir, "vault.key")); !os.IsNotExist(err) {
		t.Errorf("production made a vault key file: %v", err)
	}
	if code, _ := get(t, g.URL+"/sandbox/v1/clock/advance"); code != http.StatusNotFound {
		t.Errorf("clock advance: HTTP %d, want 404", code)
	}
}

// TestStartFailsCleanly: a start that fails (the port taken) returns the error and leaves the
// store closed and usable by the next start.
func TestStartFailsCleanly(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	if _, err := gateway.Start(context.Background(), gateway.Config{Data: dir, Addr: taken.Addr().String()}); err == nil {
		t.Fatal("Start on a taken port succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := gateway.Start(ctx, gateway.Config{Data: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("restart after a failed start: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.Start(ctx, gateway.Config{Data: dir, Database: "mysql://x"}); err == nil || !strings.Contains(err.Error(), "postgres://") {
		t.Errorf("unknown database URL: %v", err)
	}
	// A start that fails after it listened (a bad acquirer entry) frees the port again.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	if _, err := gateway.Start(ctx, gateway.Config{Data: dir, Addr: addr,
		Acquirers: []gateway.AcquirerConfig{{Name: "UP", Kind: "antom", URL: "not a url", ClientID: "C", PublicKeyFile: "/nonexistent"}}}); err == nil {
		t.Fatal("a start with an unusable acquirer succeeded")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port stays taken after a failed start: %v", err)
	}
	ln.Close()
}

// TestBreakerOverHTTP: an acquirer that keeps failing technically is set aside, which /metrics
// shows with every failover; a payment it then answers closes its breaker again.
func TestBreakerOverHTTP(t *testing.T) {
	ctx := context.Background()
	g, err := gateway.Start(ctx, gateway.Config{Data: t.TempDir(), Addr: "127.0.0.1:0",
		Acquirers: []gateway.AcquirerConfig{{Name: "FIRST", Kind: "simulator"}, {Name: "SECOND", Kind: "simulator", IDFormat: "checkout"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	creds, err := g.Credentials()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{BaseURL: g.URL, ClientID: creds.ClientID, PrivateKey: creds.MerchantPrivateKey, GatewayPublicKey: creds.GatewayPublicKey})
	if err != nil {
		t.Fatal(err)
	}
	_, metrics := get(t, g.URL+"/metrics")
	for _, want := range []string{`cardgate_acquirer_breaker_open{acquirer="FIRST"} 0`, `cardgate_acquirer_breaker_open{acquirer="SECOND"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
	// Every acquirer fails every authorization of this card: five payments open both breakers.
	for i := range 5 {
		resp, err := c.Pay(ctx, pay(fmt.Sprintf("fails-%d", i), "4000000000000317"))
		if err != nil || resp.Result.ResultCode != "PROCESS_FAIL" {
			t.Fatalf("pay %d: %+v %v", i, resp, err)
		}
	}
	_, metrics = get(t, g.URL+"/metrics")
	for _, want := range []string{`cardgate_acquirer_breaker_open{acquirer="FIRST"} 1`, `cardgate_acquirer_breaker_open{acquirer="SECOND"} 1`,
		`cardgate_acquirer_failovers_total{from="FIRST",to="SECOND"}`, `cardgate_acquirer_failovers_total{from="SECOND",to="FIRST"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Set aside is not switched off: with every acquirer aside the route is tried as it is, and
	// the acquirer that answers is healthy again.
	ok, err := c.Pay(ctx, pay("healthy", "4054695723100768"))
	if err != nil || ok.Result.ResultStatus != "S" {
		t.Fatalf("pay: %+v %v", ok, err)
	}
	_, metrics = get(t, g.URL+"/metrics")
	if want := `cardgate_acquirer_breaker_open{acquirer="` + ok.AcquirerInfo.AcquirerName + `"} 0`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s after an approval", want)
	}
}

// metricValue is the value of an unlabelled metric in a /metrics body, or -1 when it is absent.
func metricValue(body, name string) float64 {
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}
