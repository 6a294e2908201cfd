//go:build pkcs11 && cgo

package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/signer/softhsmtest"
	"github.com/cardgate/cardgate/internal/store/postgres/pgtest"
	"github.com/cardgate/cardgate/protocol"
)

// hsm is this test binary's SoftHSM2 token: gateway-1 and gateway-2, RSA-2048, imported.
var hsm *softhsmtest.HSM

func TestMain(m *testing.M) { softhsmtest.Main(m, &hsm, "gateway-1", "gateway-2") }

// signedPay pays through a merchant client that verifies the answer with gatewayPub, and returns
// the answer's keyVersion.
func signedPay(t *testing.T, g *gateway.Gateway, gatewayPub, requestID string) (string, error) {
	t.Helper()
	creds, err := g.Credentials()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{BaseURL: g.URL, ClientID: creds.ClientID, PrivateKey: creds.MerchantPrivateKey, GatewayPublicKey: gatewayPub})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(pay(requestID, "4054695723100768"))
	resp, err := c.Do(context.Background(), c.Path(protocol.PathPay), body) // verifies the signature
	if err != nil {
		return "", err
	}
	var out protocol.PayResponse
	if err := json.Unmarshal(resp.Body, &out); err != nil || out.Result.ResultStatus != "S" {
		t.Fatalf("pay: %v %s", err, resp.Body)
	}
	h, err := protocol.ParseSignatureHeader(resp.Header.Get("signature"))
	if err != nil {
		t.Fatal(err)
	}
	return h.KeyVersion, nil
}

func publicB64(t *testing.T, label string) string {
	t.Helper()
	s, err := protocol.EncodePublicKey(&hsm.Keys[label].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHSMKeySigns starts the gateway with its key in the token, on both stores: the credentials
// name the token's public key, answers and notifications are signed by the token and verify with
// it, no key is made in the store, and the signer is reported as pkcs11.
func TestHSMKeySigns(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) gateway.Config
	}{
		{"sqlite", func(t *testing.T) gateway.Config { return gateway.Config{Data: t.TempDir()} }},
		{"postgres", func(t *testing.T) gateway.Config {
			return gateway.Config{Data: t.TempDir(), Database: pgtest.FreshSchema(t, "cg_hsm")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := tc.cfg(t)
			cfg.Addr, cfg.GatewayKey = "127.0.0.1:0", gateway.KeyConfig{Spec: hsm.URI("gateway-1")}
			g, err := gateway.Start(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if g.Signer != "pkcs11" || g.Key.Private != nil || g.Key.Version != "1" {
				t.Fatalf("signer %s, private key held %v, version %s", g.Signer, g.Key.Private != nil, g.Key.Version)
			}
			creds, err := g.Credentials()
			if err != nil || creds.GatewayPublicKey != publicB64(t, "gateway-1") {
				t.Fatalf("credentials' gateway public key is not the token's (%v)", err)
			}
			stored, err := g.Store.GatewayKeys(ctx)
			if err != nil || len(stored) != 0 {
				t.Errorf("the store holds %d gateway keys (%v), want none", len(stored), err)
			}

			// A notification, signed by the token too.
			notified := make(chan error, 4)
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := client.VerifyNotification(&hsm.Keys["gateway-1"].PublicKey, r)
				notified <- err
				io.WriteString(w, `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`)
			}))
			defer recv.Close()
			c, err := client.New(client.Config{BaseURL: g.URL, ClientID: creds.ClientID, PrivateKey: creds.MerchantPrivateKey, GatewayPublicKey: creds.GatewayPublicKey})
			if err != nil {
				t.Fatal(err)
			}
			p := pay("hsm-notify", "4054695723100768")
			p.PaymentNotifyURL = recv.URL + "/notify"
			if resp, err := c.Pay(ctx, p); err != nil || resp.Result.ResultStatus != "S" {
				t.Fatalf("pay: %v %+v", err, resp)
			}
			select {
			case err := <-notified:
				if err != nil {
					t.Fatalf("notification: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("no notification")
			}

			if v, err := signedPay(t, g, creds.GatewayPublicKey, "hsm-1"); err != nil || v != "1" {
				t.Fatalf("pay: keyVersion %q, %v", v, err)
			}
			if _, body := get(t, g.URL+"/metrics"); !strings.Contains(body, `cardgate_signer_info{signer="pkcs11"} 1`) {
				t.Error("/metrics lacks cardgate_signer_info for pkcs11")
			}
		})
	}
}

// TestHSMKeyRotation: gateway-1 as version 1, then a restart on the same store with gateway-2 as
// version 2 (the URI's key-version, or the version setting): answers carry keyVersion=2 and
// verify with gateway-2's public key only.
func TestHSMKeyRotation(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	start := func(kc gateway.KeyConfig) *gateway.Gateway {
		t.Helper()
		g, err := gateway.Start(ctx, gateway.Config{Data: data, Addr: "127.0.0.1:0", GatewayKey: kc})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := start(gateway.KeyConfig{Spec: hsm.URI("gateway-1")})
	if v, err := signedPay(t, g, publicB64(t, "gateway-1"), "rot-1"); err != nil || v != "1" {
		t.Fatalf("before: keyVersion %q, %v", v, err)
	}
	g.Close()

	for i, kc := range []gateway.KeyConfig{
		{Spec: hsm.URI("gateway-2", "key-version=2")},
		{Spec: hsm.URI("gateway-2"), Version: "2"},
	} {
		g = start(kc)
		creds, _ := g.Credentials()
		if creds.GatewayPublicKey != publicB64(t, "gateway-2") {
			t.Fatalf("%d: the credentials still name the old key", i)
		}
		if v, err := signedPay(t, g, publicB64(t, "gateway-2"), fmt.Sprintf("rot-2-%d", i)); err != nil || v != "2" {
			t.Fatalf("%d: after: keyVersion %q, %v", i, v, err)
		}
		if _, err := signedPay(t, g, publicB64(t, "gateway-1"), fmt.Sprintf("rot-3-%d", i)); err == nil {
			t.Fatalf("%d: an answer after the rotation verifies with the old key", i)
		}
		g.Close()
	}

	if _, err := gateway.Start(ctx, gateway.Config{Data: data, GatewayKey: gateway.KeyConfig{Spec: hsm.URI("gateway-2", "key-version=2"), Version: "3"}}); err == nil ||
		!strings.Contains(err.Error(), "--gateway-key-version 3 but the URI's key-version is 2") {
		t.Errorf("two versions: %v", err)
	}
}

// TestHSMKeyVersionTaken: an HSM key may not take the version of a different key kept in the
// store (a version names one key); another version is fine, and the stored key stays.
func TestHSMKeyVersionTaken(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	g, err := gateway.Start(ctx, gateway.Config{Data: data}) // makes the stored key, version 1
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	_, err = gateway.Start(ctx, gateway.Config{Data: data, GatewayKey: gateway.KeyConfig{Spec: hsm.URI("gateway-1")}})
	if err == nil || !strings.Contains(err.Error(), "gateway key version 1 is already the version of the key stored") {
		t.Fatalf("version 1 taken: %v", err)
	}
	g, err = gateway.Start(ctx, gateway.Config{Data: data, GatewayKey: gateway.KeyConfig{Spec: hsm.URI("gateway-1"), Version: "2"}})
	if err != nil {
		t.Fatalf("version 2: %v", err)
	}
	defer g.Close()
	if g.Key.Version != "2" || !g.Key.Public().Equal(&hsm.Keys["gateway-1"].PublicKey) {
		t.Errorf("key %s, not the token's", g.Key.Version)
	}
}

// TestHSMKeyErrors: a wrong PIN or a missing key pair stops Start with the reason, and leaves the
// store usable by the next start.
func TestHSMKeyErrors(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	wrongPIN := "pkcs11:token=" + softhsmtest.Label + ";object=gateway-1?module-path=" + hsm.Module + "&pin-value=0000"
	for _, tc := range []struct{ spec, want string }{
		{wrongPIN, "CKR_PIN_INCORRECT"},
		{hsm.URI("gateway-7"), "no RSA key pair object=gateway-7"},
		{"pkcs11:token=cardgate;object=gateway-1", "no module-path"},
	} {
		_, err := gateway.Start(ctx, gateway.Config{Data: data, Addr: "127.0.0.1:0", GatewayKey: gateway.KeyConfig{Spec: tc.spec}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "0000") {
			t.Errorf("%s: %v, want %q", tc.spec, err, tc.want)
		}
	}
	g, err := gateway.Start(ctx, gateway.Config{Data: data, GatewayKey: gateway.KeyConfig{Spec: hsm.URI("gateway-1")}})
	if err != nil {
		t.Fatalf("after the failed starts: %v", err)
	}
	g.Close()
}
