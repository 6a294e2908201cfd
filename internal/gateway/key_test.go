package gateway_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/signer"
)

// TestKeyConfigRefused: a gateway key configuration that cannot work stops Start before it opens
// a store (no data directory is made), naming what to change.
func TestKeyConfigRefused(t *testing.T) {
	uri := "pkcs11:token=cardgate;object=gateway-1?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234"
	type keyCase struct {
		name string
		kc   gateway.KeyConfig
		want string
	}
	cases := []keyCase{
		{"not a URI", gateway.KeyConfig{Spec: "/etc/cardgate/key.pem"}, "a PKCS#11 URI"},
		{"a version without an HSM key", gateway.KeyConfig{Version: "2"}, "--gateway-key-version goes with a --gateway-key"},
		{"unknown signer", gateway.KeyConfig{Signer: "boringssl"}, `unknown signer "boringssl"`},
	}
	if signer.HasPKCS11 {
		cases = append(cases,
			keyCase{"a bad URI", gateway.KeyConfig{Spec: "pkcs11:token=cardgate?module-path=/m.so&pin-value=1234"}, "--gateway-key: no key"},
			keyCase{"openssl for an HSM key", gateway.KeyConfig{Spec: uri, Signer: "openssl"}, "a key in an HSM signs in the HSM"})
	} else {
		cases = append(cases, keyCase{"an HSM key in a build without PKCS#11", gateway.KeyConfig{Spec: uri}, "this binary was built without -tags pkcs11"})
	}
	if signer.Name() != signer.NameOpenSSL {
		cases = append(cases, keyCase{"openssl in a build without it", gateway.KeyConfig{Signer: "openssl"}, "this binary was built without -tags openssl"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			g, err := gateway.Start(context.Background(), gateway.Config{Data: data, GatewayKey: tc.kc})
			if err == nil {
				g.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "1234") {
				t.Errorf("error %q, want %q (and no PIN)", err, tc.want)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("a refused key configuration made the data directory: %v", err)
			}
		})
	}
}

// TestSignerChosen: --signer go signs a stored key with crypto/rsa in every build, and the
// gateway says so.
func TestSignerChosen(t *testing.T) {
	g, err := gateway.Start(context.Background(), gateway.Config{Data: t.TempDir(), Addr: "127.0.0.1:0", GatewayKey: gateway.KeyConfig{Signer: "go"}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Signer != "go" {
		t.Errorf("signer %s, want go", g.Signer)
	}
	if _, body := get(t, g.URL+"/metrics"); !strings.Contains(body, `cardgate_signer_info{signer="go"} 1`) {
		t.Error("/metrics lacks cardgate_signer_info for go")
	}
}
