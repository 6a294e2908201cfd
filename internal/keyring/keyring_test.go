package keyring

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"testing"
)

type otherSigner struct{ crypto.Signer }

func (otherSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, nil }

// TestSignerOrKey: the key's Signer signs when set, else the private key; no key, no signer.
func TestSignerOrKey(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := (Key{Private: priv}).SignerOrKey().(*rsa.PrivateKey); !ok || s != priv {
		t.Errorf("no Signer: got %T, want the private key", s)
	}
	if _, ok := (Key{Private: priv, Signer: otherSigner{priv}}).SignerOrKey().(otherSigner); !ok {
		t.Error("Signer set: it is not what signs")
	}
	if s := (Key{}).SignerOrKey(); s != nil {
		t.Errorf("empty key: %T, want nil", s)
	}
}

// TestKeyWithoutPrivate: a key held by a signer alone (an HSM's) signs, and gives its public key
// as merchants configure it; FromSigner refuses what the gateway cannot sign with.
func TestKeyWithoutPrivate(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k, err := FromSigner("2", otherSigner{priv})
	if err != nil {
		t.Fatal(err)
	}
	if k.Private != nil || k.Version != "2" {
		t.Fatalf("%+v", k)
	}
	if _, ok := k.SignerOrKey().(otherSigner); !ok {
		t.Error("the signer is not what signs")
	}
	if !k.Public().Equal(&priv.PublicKey) {
		t.Error("Public is not the signer's")
	}
	got, err := k.PublicKeyBase64()
	want, _ := (Key{Private: priv}).PublicKeyBase64()
	if err != nil || got != want {
		t.Errorf("PublicKeyBase64 %q %v, want %q", got, err, want)
	}
	if _, err := (Key{}).PublicKeyBase64(); err == nil {
		t.Error("an empty key has a public key")
	}
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name    string
		version string
		s       crypto.Signer
	}{
		{"bad version", "2 ", otherSigner{priv}},
		{"empty version", "", otherSigner{priv}},
		{"nil signer", "2", nil},
		{"not RSA", "2", edPriv},
	} {
		if _, err := FromSigner(tc.version, tc.s); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
