// Package keyring holds the gateway's own signing keys: the key pair that signs every response and
// notification (docs/wire.md §2.1, "Antom public key" to merchants). One pair per installation,
// versioned so it can be rotated; the newest version signs.
package keyring

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// StoredKey is a gateway key as persisted.
type StoredKey struct {
	Version    string
	PrivateKey string // bare base64 PKCS#8
	CreatedAt  time.Time
}

// Store persists gateway keys.
type Store interface {
	// GatewayKeys lists the keys, newest last.
	GatewayKeys(ctx context.Context) ([]StoredKey, error)
	// AddGatewayKey inserts a key; ErrExists if the version is taken.
	AddGatewayKey(ctx context.Context, k StoredKey) error
}

// ErrExists reports a version that is already stored.
var ErrExists = errors.New("keyring: key version exists")

// Key is a usable gateway key: a stored one (Private, and a Signer made from it) or one in an
// HSM (Signer alone: the private key never enters the process).
type Key struct {
	Version string
	Private *rsa.PrivateKey // nil for a key in an HSM
	// Signer, when set, makes the gateway's signatures: with Private (internal/signer: libcrypto
	// in an openssl build), or in an HSM (a PKCS#11 key pair). nil signs with Private through
	// crypto/rsa.
	Signer crypto.Signer
}

// FromSigner is a gateway key held by s alone, a key pair in an HSM: s must be RSA, and version
// what the signature headers carry.
func FromSigner(version string, s crypto.Signer) (Key, error) {
	if !protocol.ValidKeyVersion(version) {
		return Key{}, fmt.Errorf("keyring: key version %q: letters, digits, '.', '_' or '-' (as the signature header allows)", version)
	}
	if s == nil {
		return Key{}, errors.New("keyring: nil signer")
	}
	if _, ok := s.Public().(*rsa.PublicKey); !ok {
		return Key{}, fmt.Errorf("keyring: the gateway key is RSA, not %T", s.Public())
	}
	return Key{Version: version, Signer: s}, nil
}

// Public is the key's public half, from Private or else from Signer; nil for an empty Key.
func (k Key) Public() *rsa.PublicKey {
	if k.Private != nil {
		return &k.Private.PublicKey
	}
	if k.Signer != nil {
		if pub, ok := k.Signer.Public().(*rsa.PublicKey); ok {
			return pub
		}
	}
	return nil
}

// SignerOrKey is what signs with this key: Signer when set, else Private.
func (k Key) SignerOrKey() crypto.Signer {
	if k.Signer != nil {
		return k.Signer
	}
	if k.Private == nil {
		return nil // protocol.SignWith refuses a nil signer
	}
	return k.Private
}

// PublicKeyBase64 is the key as merchants configure it: bare base64 SubjectPublicKeyInfo.
func (k Key) PublicKeyBase64() (string, error) {
	pub := k.Public()
	if pub == nil {
		return "", errors.New("keyring: no gateway key")
	}
	return protocol.EncodePublicKey(pub)
}

// Ensure returns the current gateway key, creating version 1 on an empty store. Several processes
// may start on one store at once (serve and init, or several instances): the insert of one wins
// and every process then uses that key.
func Ensure(ctx context.Context, s Store, now time.Time) (Key, error) {
	keys, err := s.GatewayKeys(ctx)
	if err != nil {
		return Key{}, fmt.Errorf("load gateway keys: %w", err)
	}
	if len(keys) == 0 {
		priv, err := protocol.GenerateKey()
		if err != nil {
			return Key{}, fmt.Errorf("generate gateway key: %w", err)
		}
		enc, err := protocol.EncodePrivateKeyPKCS8(priv)
		if err != nil {
			return Key{}, err
		}
		if err := s.AddGatewayKey(ctx, StoredKey{Version: "1", PrivateKey: enc, CreatedAt: now}); err != nil && !errors.Is(err, ErrExists) {
			return Key{}, fmt.Errorf("store gateway key: %w", err)
		}
		if keys, err = s.GatewayKeys(ctx); err != nil {
			return Key{}, fmt.Errorf("reload gateway keys: %w", err)
		}
	}
	if len(keys) == 0 {
		return Key{}, errors.New("keyring: no gateway key after creating one")
	}
	newest := keys[len(keys)-1]
	priv, err := protocol.ParsePrivateKey(newest.PrivateKey)
	if err != nil {
		return Key{}, fmt.Errorf("parse gateway key %s: %w", newest.Version, err)
	}
	return Key{Version: newest.Version, Private: priv}, nil
}
