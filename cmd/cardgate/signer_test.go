package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/signer"
)

// TestSignersMissing: a binary built without a signer refuses it in one line that says how to
// build one (main exits 2 on such an error), before any store is made.
func TestSignersMissing(t *testing.T) {
	t.Chdir(t.TempDir())
	uri := "pkcs11:token=cardgate;object=gateway-1?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234"
	var cases [][]string
	if !signer.HasPKCS11 {
		cases = append(cases, []string{"serve", "--gateway-key", uri}, []string{"init", "--gateway-key", uri, "--json"})
	}
	if signer.Name() != signer.NameOpenSSL {
		cases = append(cases, []string{"bench", "--signer", "openssl", "--duration", "1s"})
	}
	if len(cases) == 0 {
		t.Skip("this build has every signer")
	}
	for _, args := range cases {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		want := "this binary was built without -tags pkcs11"
		if args[0] == "bench" {
			want = "this binary was built without -tags openssl"
		}
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "1234") {
			t.Errorf("%v: %v, want one line with %q", args, err, want)
		}
	}
	if _, err := os.Stat("data"); !os.IsNotExist(err) {
		t.Errorf("a refused signer left ./data: %v", err)
	}
}
