package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/signer"
	"github.com/cardgate/cardgate/protocol"
)

// KeyConfig says where the gateway key is and what signs with it.
type KeyConfig struct {
	// Spec is "" for the store's key (created, version 1, on the first start), or a PKCS#11 URI
	// (internal/signer.PKCS11URI) of an RSA key pair in an HSM, whose private key then never
	// enters the process (a -tags pkcs11 build; others refuse it).
	Spec string
	// Version is the keyVersion of an HSM key; default the URI's key-version, else "1".
	Version string
	// Signer picks what signs with a stored key: "" this build's default (openssl when built
	// with it, falling back to crypto/rsa if libcrypto refuses the key), "go" or "openssl". An
	// HSM key always signs in the HSM ("pkcs11"); only "" goes with it.
	Signer string
}

// LoadedKey is a gateway key ready to sign, with the name of its signer and what to close.
type LoadedKey struct {
	keyring.Key
	SignerName string    // go, openssl or pkcs11
	Source     string    // "store" or the PKCS#11 URI without its PIN
	Closer     io.Closer // the HSM session; nil for a stored key
}

// Check refuses a KeyConfig that cannot work, before anything is opened: a PKCS#11 URI that does
// not parse, or one given to a build without PKCS#11.
func (kc KeyConfig) Check() error {
	if kc.Spec == "" {
		if kc.Version != "" {
			return errors.New("--gateway-key-version goes with a --gateway-key pkcs11:… (a stored key's version is the store's)")
		}
		switch kc.Signer {
		case "", signer.NameGo:
		case signer.NameOpenSSL:
			if signer.Name() != signer.NameOpenSSL {
				return fmt.Errorf("--signer openssl: %w", signer.ErrNoOpenSSL)
			}
		default:
			return fmt.Errorf("--signer: unknown signer %q: go or openssl", kc.Signer)
		}
		return nil
	}
	if !signer.IsPKCS11URI(kc.Spec) {
		return errors.New("--gateway-key: a PKCS#11 URI (pkcs11:token=…;object=…?module-path=…&pin-source=file:…), or nothing for the store's key")
	}
	if !signer.HasPKCS11 {
		return fmt.Errorf("--gateway-key pkcs11:…: %w", signer.ErrNoPKCS11)
	}
	if kc.Signer != "" && kc.Signer != signer.NamePKCS11 {
		return fmt.Errorf("--signer %s: a key in an HSM signs in the HSM", kc.Signer)
	}
	if _, err := signer.ParsePKCS11URI(kc.Spec); err != nil {
		return fmt.Errorf("--gateway-key: %w", err)
	}
	return nil
}

// LoadKey returns the gateway key kc names. A stored key is created on an empty store (as
// keyring.Ensure always did). An HSM key is looked up on its token; the store is only asked
// whether a stored key already carries its version, which it refuses: a version names one key,
// and merchants tell keys apart by it.
func LoadKey(ctx context.Context, st keyring.Store, kc KeyConfig, now time.Time, log *slog.Logger) (LoadedKey, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := kc.Check(); err != nil {
		return LoadedKey{}, err
	}
	if kc.Spec == "" {
		k, err := keyring.Ensure(ctx, st, now)
		if err != nil {
			return LoadedKey{}, err
		}
		s, name, err := signer.Choose(kc.Signer, k.Private)
		if err != nil && kc.Signer == "" {
			// crypto/rsa signs the same bytes, only slower: not a reason to refuse to start.
			log.Warn("signer unavailable, signing with crypto/rsa", "signer", signer.Name(), "err", err)
			s, name, err = nil, signer.NameGo, nil
		}
		if err != nil {
			return LoadedKey{}, fmt.Errorf("--signer: %w", err)
		}
		k.Signer = s
		return LoadedKey{Key: k, SignerName: name, Source: "store"}, nil
	}

	u, err := signer.ParsePKCS11URI(kc.Spec)
	if err != nil {
		return LoadedKey{}, fmt.Errorf("--gateway-key: %w", err)
	}
	version := kc.Version
	switch {
	case version == "":
		version = u.KeyVersion
	case u.KeyVersion != "" && u.KeyVersion != version:
		return LoadedKey{}, fmt.Errorf("--gateway-key-version %s but the URI's key-version is %s", version, u.KeyVersion)
	}
	if version == "" {
		version = protocol.DefaultKeyVersion
	}
	if !protocol.ValidKeyVersion(version) {
		return LoadedKey{}, fmt.Errorf("gateway key version %q: letters, digits, '.', '_' or '-'", version)
	}
	hk, err := signer.OpenPKCS11(u)
	if err != nil {
		return LoadedKey{}, fmt.Errorf("--gateway-key: %w", err)
	}
	k, err := keyring.FromSigner(version, hk)
	if err == nil {
		err = versionUnused(ctx, st, k)
	}
	if err != nil {
		_ = hk.Close()
		return LoadedKey{}, err
	}
	return LoadedKey{Key: k, SignerName: signer.NamePKCS11, Source: u.String(), Closer: hk}, nil
}

// versionUnused refuses an HSM key whose version a different stored key already has.
func versionUnused(ctx context.Context, st keyring.Store, k keyring.Key) error {
	stored, err := st.GatewayKeys(ctx)
	if err != nil {
		return fmt.Errorf("load gateway keys: %w", err)
	}
	for _, s := range stored {
		if s.Version != k.Version {
			continue
		}
		priv, err := protocol.ParsePrivateKey(s.PrivateKey)
		if err == nil && priv.PublicKey.Equal(k.Public()) {
			return nil // the HSM holds the stored key itself (imported): the same key, the same version
		}
		return fmt.Errorf("gateway key version %s is already the version of the key stored in the database, a different key: give the HSM key another (key-version=… in the URI or --gateway-key-version), so that merchants can tell the two apart", k.Version)
	}
	return nil
}
