package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/protocol"
)

func cardgate(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(binary, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("cardgate %v: %v\n%s", args, err, stderr)
	}
	return out
}

func credentials(t *testing.T, out []byte) (merchant.Credentials, map[string]any) {
	t.Helper()
	var c merchant.Credentials
	var raw map[string]any
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	return c, raw
}

// TestInitIsRepeatableWhileServing: init --json prints the same sandbox merchant every time, also
// while serve runs on the same store, with all five documented fields.
func TestInitIsRepeatableWhileServing(t *testing.T) {
	g := startGateway(t)
	c, raw := credentials(t, cardgate(t, "init", "--data", g.dir, "--json"))
	if c != g.creds {
		t.Fatalf("init printed another merchant:\n%+v\n%+v", c, g.creds)
	}
	for _, k := range []string{"clientId", "merchantPrivateKey", "merchantPrivateKeyPkcs1", "merchantPublicKey", "gatewayPublicKey"} {
		if s, _ := raw[k].(string); s == "" {
			t.Errorf("init --json lacks %s", k)
		}
	}
	if c.ClientID[:8] != "SANDBOX_" {
		t.Errorf("client id %s", c.ClientID)
	}
	// The PKCS#1 form (for the Python SDK) is the same key.
	pk8, err1 := protocol.ParsePrivateKey(c.MerchantPrivateKey)
	pk1, err2 := protocol.ParsePrivateKey(c.MerchantPrivateKeyPkcs1)
	if err1 != nil || err2 != nil || !pk8.Equal(pk1) {
		t.Fatalf("private key forms differ: %v %v", err1, err2)
	}
}

// TestMerchantCreate: a new sandbox merchant can pay at once; a merchant registered with its own
// public key gets JSON without private keys and can pay with the key only it holds.
func TestMerchantCreate(t *testing.T) {
	g := startGateway(t)
	second, _ := credentials(t, cardgate(t, "merchant", "create", "--data", g.dir, "--name", "Second shop", "--json"))
	if second.ClientID == g.creds.ClientID || second.GatewayPublicKey != g.creds.GatewayPublicKey {
		t.Fatalf("second merchant: %+v", second)
	}
	priv, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := protocol.EncodePublicKey(&priv.PublicKey)
	pubFile := filepath.Join(t.TempDir(), "merchant.pub")
	if err := os.WriteFile(pubFile, []byte(pub), 0o600); err != nil {
		t.Fatal(err)
	}
	own, raw := credentials(t, cardgate(t, "merchant", "create", "--data", g.dir, "--public-key", pubFile, "--json"))
	if _, ok := raw["merchantPrivateKey"]; ok {
		t.Errorf("--public-key merchant JSON carries a private key: %v", raw)
	}
	if _, ok := raw["merchantPrivateKeyPkcs1"]; ok {
		t.Errorf("--public-key merchant JSON carries a private key: %v", raw)
	}
	privB64, _ := protocol.EncodePrivateKeyPKCS8(priv)
	for _, tc := range []struct {
		name     string
		clientID string
		key      string
	}{{"sandbox", second.ClientID, second.MerchantPrivateKey}, {"own key", own.ClientID, privB64}} {
		c, err := client.New(client.Config{BaseURL: g.url, ClientID: tc.clientID, PrivateKey: tc.key, GatewayPublicKey: second.GatewayPublicKey})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Pay(context.Background(), payRequest("4242424242424242", "123"))
		if err != nil || resp.Result.ResultCode != "SUCCESS" {
			t.Fatalf("%s pay: %v %+v", tc.name, err, resp)
		}
		// The first merchant cannot see it.
		if inq := g.inquire(resp.PaymentID); inq.Result.ResultCode != "ORDER_NOT_EXIST" {
			t.Errorf("another merchant's payment is visible: %+v", inq.Result)
		}
	}
}

// TestTLS: init --tls-self-signed writes a certificate for the public URL's host; serve uses it,
// and a client that trusts only that certificate pays over HTTPS.
func TestTLS(t *testing.T) {
	tlsDir := filepath.Join(t.TempDir(), "tls")
	dataDir := t.TempDir()
	cardgate(t, "init", "--data", dataDir, "--tls-self-signed", tlsDir, "--public-url", "https://127.0.0.1", "--json")
	g := startGateway(t, "--tls-cert", filepath.Join(tlsDir, "cert.pem"), "--tls-key", filepath.Join(tlsDir, "key.pem"))
	if g.url[:8] != "https://" {
		t.Fatalf("serve did not announce https: %s", g.url)
	}
	pemBytes, err := os.ReadFile(filepath.Join(tlsDir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("cert.pem holds no certificate")
	}
	c, err := client.New(client.Config{
		BaseURL: g.url, ClientID: g.creds.ClientID, PrivateKey: g.creds.MerchantPrivateKey, GatewayPublicKey: g.creds.GatewayPublicKey,
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Pay(context.Background(), payRequest("4242424242424242", "123"))
	if err != nil || resp.Result.ResultCode != "SUCCESS" {
		t.Fatalf("pay over TLS: %v %+v", err, resp)
	}
}
