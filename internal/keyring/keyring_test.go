package keyring

import (
	"crypto"
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
