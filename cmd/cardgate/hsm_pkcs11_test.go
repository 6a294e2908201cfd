//go:build pkcs11 && cgo

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/signer/softhsmtest"
	"github.com/cardgate/cardgate/protocol"
)

var hsm *softhsmtest.HSM

func TestMain(m *testing.M) { softhsmtest.Main(m, &hsm, "gateway-1", "gateway-2") }

// syncBuffer is a bytes.Buffer serve can write while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestServeHSMKey runs the commands as an operator would, the key named by $CARDGATE_GATEWAY_KEY
// only: serve signs with the token (and logs signer=pkcs11 without the PIN), init prints the
// token's public key, and pay, reading the same variable, verifies its signed answer with it.
// Then a restart with gateway-2 as version 2 (--gateway-key-version): pay verifies again.
func TestServeHSMKey(t *testing.T) {
	data := t.TempDir()
	t.Setenv("CARDGATE_GATEWAY_KEY", hsm.URI("gateway-1"))
	serveOnce := func(t *testing.T, extra ...string) (stop func() string) {
		t.Helper()
		ready := filepath.Join(t.TempDir(), "ready.json")
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--ready-file", ready}, extra...), &out, &errOut)
		}()
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, err := os.ReadFile(ready)
			if err == nil {
				var info readyInfo
				if json.Unmarshal(b, &info) == nil {
					t.Setenv("CARDGATE_URL", info.URL)
					break
				}
			}
			select {
			case err := <-done:
				t.Fatalf("serve stopped: %v\n%s", err, errOut.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve not ready\n%s", errOut.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		return func() string {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			return errOut.String()
		}
	}
	pay := func(t *testing.T) {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"pay", "--data", data}, &out, &errOut); err != nil {
			t.Fatalf("pay: %v\n%s%s", err, out.String(), errOut.String())
		}
		if !strings.Contains(out.String(), "SUCCESS") {
			t.Fatalf("pay printed %s", out.String())
		}
	}
	gatewayKeyOfInit := func(t *testing.T, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"init", "--data", data, "--json"}, args...), &out, &bytes.Buffer{}); err != nil {
			t.Fatalf("init: %v", err)
		}
		var c struct{ GatewayPublicKey string }
		if err := json.Unmarshal(out.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		return c.GatewayPublicKey
	}
	want := func(label string) string {
		s, _ := protocol.EncodePublicKey(&hsm.Keys[label].PublicKey)
		return s
	}

	stop := serveOnce(t)
	if got := gatewayKeyOfInit(t); got != want("gateway-1") {
		t.Errorf("init prints gateway public key %.40s…, not the token's", got)
	}
	pay(t)
	log := stop()
	if !strings.Contains(log, "signer=pkcs11") || !strings.Contains(log, "object=gateway-1") || strings.Contains(log, softhsmtest.PIN+"\n") || strings.Contains(log, "pin-value=1234") {
		t.Errorf("serve's log should name the signer and the key, never the PIN:\n%s", log)
	}

	t.Setenv("CARDGATE_GATEWAY_KEY", hsm.URI("gateway-2"))
	t.Setenv("CARDGATE_GATEWAY_KEY_VERSION", "2")
	stop = serveOnce(t)
	if got := gatewayKeyOfInit(t); got != want("gateway-2") {
		t.Errorf("after the rotation init prints %.40s…, not gateway-2's", got)
	}
	pay(t)
	if log := stop(); !strings.Contains(log, "version=2") {
		t.Errorf("serve's log lacks version=2:\n%s", log)
	}
}
