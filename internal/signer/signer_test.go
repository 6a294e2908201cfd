package signer

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cardgate/cardgate/protocol"
)

// testKey is one key as the gateway may have parsed it.
type testKey struct {
	name string
	key  *rsa.PrivateKey
}

var (
	keysOnce sync.Once
	keys     []testKey
)

// testKeys generates a few keys (two 2048-bit, as the gateway uses, and one 3072-bit) and parses
// each back from PKCS#1 and from PKCS#8 DER, the two forms keys are stored and configured in.
func testKeys(t testing.TB) []testKey {
	t.Helper()
	keysOnce.Do(func() {
		for i, bits := range []int{2048, 2048, 3072} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			p1, err := x509.ParsePKCS1PrivateKey(x509.MarshalPKCS1PrivateKey(k))
			if err != nil {
				panic(err)
			}
			der8, err := x509.MarshalPKCS8PrivateKey(k)
			if err != nil {
				panic(err)
			}
			p8, err := x509.ParsePKCS8PrivateKey(der8)
			if err != nil {
				panic(err)
			}
			keys = append(keys,
				testKey{fmt.Sprintf("key%d-%d-pkcs1", i, bits), p1},
				testKey{fmt.Sprintf("key%d-%d-pkcs8", i, bits), p8.(*rsa.PrivateKey)})
		}
	})
	return keys
}

func newSigner(t testing.TB, k *rsa.PrivateKey) crypto.Signer {
	t.Helper()
	s, err := New(k)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if c, ok := s.(interface{ Close() error }); ok {
		t.Cleanup(func() { c.Close() })
	}
	return s
}

// TestSameSignatures signs thousands of random messages (empty to a few KiB) with each key and
// wants exactly the bytes crypto/rsa produces, which also verify.
func TestSameSignatures(t *testing.T) {
	t.Logf("signer %s", Name())
	n := 3000
	if testing.Short() {
		n = 300
	}
	ks := testKeys(t)
	signers := make([]crypto.Signer, len(ks))
	for i, k := range ks {
		signers[i] = newSigner(t, k.key)
		if !signers[i].Public().(*rsa.PublicKey).Equal(&k.key.PublicKey) {
			t.Fatalf("%s: Public is not the key's", k.name)
		}
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := range n {
		msg := make([]byte, rng.IntN(4096))
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		ki := i % len(ks)
		k := ks[ki]
		digest := sha256.Sum256(msg)
		want, err := rsa.SignPKCS1v15(nil, k.key, crypto.SHA256, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		got, err := signers[ki].Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("%s message %d: %v", k.name, i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s message %d (%d bytes): signature differs from crypto/rsa's\n got %x\nwant %x", k.name, i, len(msg), got, want)
		}
		if err := rsa.VerifyPKCS1v15(&k.key.PublicKey, crypto.SHA256, digest[:], got); err != nil {
			t.Fatalf("%s message %d: %v", k.name, i, err)
		}
	}
}

// TestConcurrent shares one signer per key among many goroutines (run it under -race): every
// signature must still be crypto/rsa's.
func TestConcurrent(t *testing.T) {
	ks := testKeys(t)[:2]
	signers := []crypto.Signer{newSigner(t, ks[0].key), newSigner(t, ks[1].key)}
	signConcurrently(t, 32, 20, func(g int) (crypto.Signer, *rsa.PrivateKey) { return signers[g%2], ks[g%2].key })
}

// signConcurrently has goroutines goroutines sign each messages apiece, goroutine g with the
// signer and key pick(g) gives, and fails on any signature that is not crypto/rsa's with that key.
func signConcurrently(t *testing.T, goroutines, each int, pick func(g int) (crypto.Signer, *rsa.PrivateKey)) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			s, key := pick(g)
			for i := range each {
				digest := sha256.Sum256(fmt.Appendf(nil, "goroutine %d message %d", g, i))
				got, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err != nil {
					errs <- err
					return
				}
				want, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
				if !bytes.Equal(got, want) {
					errs <- fmt.Errorf("goroutine %d message %d: signature differs", g, i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRefused: only PKCS#1 v1.5 over a SHA-256 digest is signed.
func TestRefused(t *testing.T) {
	s := newSigner(t, testKeys(t)[0].key)
	d256 := sha256.Sum256([]byte("x"))
	cases := []struct {
		name   string
		digest []byte
		opts   crypto.SignerOpts
	}{
		{"SHA-1", make([]byte, 20), crypto.SHA1},
		{"SHA-512", make([]byte, 64), crypto.SHA512},
		{"SHA-384", make([]byte, 48), crypto.SHA384},
		{"unhashed", []byte("raw message"), crypto.Hash(0)},
		{"nil opts", d256[:], nil},
		{"PSS", d256[:], &rsa.PSSOptions{Hash: crypto.SHA256}},
		{"short digest", d256[:31], crypto.SHA256},
		{"empty digest", nil, crypto.SHA256},
	}
	for _, c := range cases {
		if sig, err := s.Sign(rand.Reader, c.digest, c.opts); err == nil {
			t.Errorf("%s: signed (%d bytes), want an error", c.name, len(sig))
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil): no error")
	}
}

// benchHSM, set in a pkcs11 build, gives BenchmarkSign a key imported into the test token and
// its signer in the token.
var benchHSM func(testing.TB) (*rsa.PrivateKey, crypto.Signer)

// BenchmarkSign compares crypto/rsa with this build's signers on one 2048-bit key, one goroutine
// (signatures per second per core) and all cores: libcrypto in an openssl build, and the SoftHSM2
// token (the same key, imported) in a pkcs11 build.
//
//	go test -tags openssl,pkcs11 -run '^$' -bench Sign ./internal/signer
func BenchmarkSign(b *testing.B) {
	key := testKeys(b)[0].key
	var hsmSigner crypto.Signer
	if benchHSM != nil {
		key, hsmSigner = benchHSM(b)
	}
	digest := sha256.Sum256([]byte("POST /v1/payments/pay\nclient.2026-12-04T20:00:00Z.{}"))
	type impl struct {
		name string
		s    crypto.Signer
	}
	impls := []impl{{"go", key}}
	if Name() != "go" {
		impls = append(impls, impl{Name(), newSigner(b, key)})
	}
	if hsmSigner != nil {
		impls = append(impls, impl{NamePKCS11, hsmSigner})
	}
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := impl.s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
		})
		b.Run(impl.name+"-parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := impl.s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
		})
	}
}

// TestGoldenOpenSSLCLI: the signature of protocol's worked example, made with the openssl command
// line (protocol/testdata), comes out of this build's signer byte for byte.
func TestGoldenOpenSSLCLI(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("../../protocol/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	for _, form := range []string{"pkcs1", "pkcs8"} {
		k, err := protocol.ParsePrivateKey(read("merchant_private_" + form + ".b64"))
		if err != nil {
			t.Fatal(err)
		}
		content := protocol.SigningContent("POST", "/ams/sandbox/api/v1/payments/inquiryPayment",
			"SANDBOX_5YEXAMPLE00001", "1685599933871", []byte(`{"paymentRequestId":"PAY_001"}`))
		got, err := protocol.SignWith(newSigner(t, k), content)
		if err != nil {
			t.Fatal(err)
		}
		if want := read("request_example.sig.b64"); got != want {
			t.Fatalf("%s: got %s\nwant %s", form, got, want)
		}
	}
}
