//go:build pkcs11 && cgo

package signer

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/signer/softhsmtest"
)

// hsm is the SoftHSM2 token of this test binary, with two imported key pairs.
var hsm *softhsmtest.HSM

func TestMain(m *testing.M) { softhsmtest.Main(m, &hsm, "gateway-1", "gateway-2") }

func init() {
	benchHSM = func(tb testing.TB) (*rsa.PrivateKey, crypto.Signer) {
		return hsm.Keys["gateway-1"], openHSM(tb, hsm.URI("gateway-1"))
	}
}

func openHSM(t testing.TB, uri string) HSMKey {
	t.Helper()
	u, err := ParsePKCS11URI(uri)
	if err != nil {
		t.Fatal(err)
	}
	k, err := OpenPKCS11(u)
	if err != nil {
		t.Fatalf("OpenPKCS11: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// TestPKCS11SameSignatures: the token signs with the key imported into it, so its signatures are
// exactly crypto/rsa's with that key (PKCS#1 v1.5 is deterministic), and verify with the public
// key the token gives.
func TestPKCS11SameSignatures(t *testing.T) {
	for _, label := range []string{"gateway-1", "gateway-2"} {
		t.Run(label, func(t *testing.T) {
			priv := hsm.Keys[label]
			k := openHSM(t, hsm.URI(label))
			pub, ok := k.Public().(*rsa.PublicKey)
			if !ok || !pub.Equal(&priv.PublicKey) {
				t.Fatalf("Public is %T, not the imported key's", k.Public())
			}
			rng := mrand.New(mrand.NewPCG(3, 4))
			n := 300
			if testing.Short() {
				n = 50
			}
			for i := range n {
				msg := make([]byte, rng.IntN(4096))
				for j := range msg {
					msg[j] = byte(rng.Uint32())
				}
				digest := sha256.Sum256(msg)
				got, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], got); err != nil {
					t.Fatalf("message %d: the token's signature does not verify with its public key: %v", i, err)
				}
				want, _ := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:])
				if !bytes.Equal(got, want) {
					t.Fatalf("message %d: the token's signature differs from crypto/rsa's", i)
				}
			}
		})
	}
}

// TestPKCS11ByID: the key pair found by its CKA_ID alone is the same one.
func TestPKCS11ByID(t *testing.T) {
	u := strings.Replace(hsm.URI("gateway-2"), "object=gateway-2", "id=%02", 1)
	k := openHSM(t, u)
	if !k.Public().(*rsa.PublicKey).Equal(&hsm.Keys["gateway-2"].PublicKey) {
		t.Fatal("id=%02 is not gateway-2")
	}
}

// TestPKCS11Concurrent: one key shared by many goroutines (run under -race), each signature
// still crypto/rsa's.
func TestPKCS11Concurrent(t *testing.T) {
	k := openHSM(t, hsm.URI("gateway-1"))
	priv := hsm.Keys["gateway-1"]
	signConcurrently(t, 16, 20, func(int) (crypto.Signer, *rsa.PrivateKey) { return k, priv })
}

// TestPKCS11Errors: what goes wrong opening a key says what it was, and never shows the PIN.
func TestPKCS11Errors(t *testing.T) {
	good := hsm.URI("gateway-1")
	pinValue := func(pin string) string {
		return "pkcs11:token=" + softhsmtest.Label + ";object=gateway-1?module-path=" + hsm.Module + "&pin-value=" + pin
	}
	for _, tc := range []struct {
		name, uri string
		want      string
	}{
		{"wrong PIN", pinValue("0000"), "CKR_PIN_INCORRECT"},
		{"missing object", hsm.URI("gateway-9"), "no RSA key pair object=gateway-9 on token=cardgate"},
		{"missing id", strings.Replace(good, "object=gateway-1", "id=%09", 1), "no RSA key pair id=%09 on token=cardgate"},
		{"missing token", strings.Replace(good, "token="+softhsmtest.Label, "token=elsewhere", 1), "open pkcs11:token=elsewhere"},
		{"missing module", strings.Replace(good, hsm.Module, "/nonexistent/libpkcs11.so", 1), "/nonexistent/libpkcs11.so"},
		{"missing PIN file", strings.Replace(good, hsm.PINFile, hsm.Dir+"/no-pin", 1), "pin-source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParsePKCS11URI(tc.uri)
			if err != nil {
				t.Fatal(err)
			}
			k, err := OpenPKCS11(u)
			if err == nil {
				k.Close()
				t.Fatal("opened")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q in it", err, tc.want)
			}
			if strings.Contains(err.Error(), "0000") {
				t.Errorf("the error shows the PIN: %q", err)
			}
		})
	}
	// A failed open leaves the module usable for the next.
	openHSM(t, good)
}

// TestPKCS11Refused: only PKCS#1 v1.5 over SHA-256 is signed, as by the other signers.
func TestPKCS11Refused(t *testing.T) {
	k := openHSM(t, hsm.URI("gateway-1"))
	d := sha256.Sum256([]byte("x"))
	for _, tc := range []struct {
		name   string
		digest []byte
		opts   crypto.SignerOpts
	}{
		{"SHA-1", make([]byte, 20), crypto.SHA1},
		{"PSS", d[:], &rsa.PSSOptions{Hash: crypto.SHA256}},
		{"short digest", d[:31], crypto.SHA256},
		{"nil opts", d[:], nil},
	} {
		if _, err := k.Sign(rand.Reader, tc.digest, tc.opts); err == nil {
			t.Errorf("%s: signed", tc.name)
		}
	}
}
