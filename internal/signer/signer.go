// Package signer picks the implementation behind the gateway's RSA signatures (RSASSA-PKCS1-v1_5
// over SHA-256, docs/wire.md §2). Signing is about half of the gateway's CPU (docs/performance.md):
// the default build signs with crypto/rsa; built with -tags openssl (and cgo) it signs through
// OpenSSL's libcrypto, about three times faster, with byte-identical signatures since PKCS#1 v1.5
// is deterministic. Either way New returns a crypto.Signer that callers use through
// protocol.SignWith, so nothing else depends on the build. Built with -tags pkcs11 (and cgo) it
// can also sign with a key that stays in an HSM (OpenPKCS11, a PKCS#11 URI): a security feature,
// not a speed one.
package signer

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The signers' names, as logged at start, exported in cardgate_signer_info and reported by bench.
const (
	NameGo      = "go"      // crypto/rsa
	NameOpenSSL = "openssl" // libcrypto 3 through cgo (-tags openssl)
	NamePKCS11  = "pkcs11"  // a key in an HSM through PKCS#11 (-tags pkcs11)
)

// Builtin lists the signers this build has, "go" first: what `cardgate version` prints.
func Builtin() []string {
	out := []string{NameGo}
	if Name() == NameOpenSSL {
		out = append(out, NameOpenSSL)
	}
	if HasPKCS11 {
		out = append(out, NamePKCS11)
	}
	return out
}

// ErrNoOpenSSL is Choose's answer for "openssl" in a build without it.
var ErrNoOpenSSL = errors.New("signer: this binary was built without -tags openssl (cgo and libcrypto 3, libssl-dev on Debian): build it with `go build -tags openssl ./cmd/cardgate`, or sign with go")

// Choose returns the signer called name for key: "" is this build's default (New), "go"
// crypto/rsa, "openssl" libcrypto (ErrNoOpenSSL in a build without it). The name returned is the
// one that signs.
func Choose(name string, key *rsa.PrivateKey) (crypto.Signer, string, error) {
	switch name {
	case "":
		s, err := New(key)
		return s, Name(), err
	case NameGo:
		s, err := NewGo(key)
		return s, NameGo, err
	case NameOpenSSL:
		if Name() != NameOpenSSL {
			return nil, "", ErrNoOpenSSL
		}
		s, err := New(key)
		return s, NameOpenSSL, err
	}
	return nil, "", fmt.Errorf("signer: unknown signer %q: %s", name, strings.Join([]string{NameGo, NameOpenSSL}, " or "))
}

// NewGo returns a signer for key that signs with crypto/rsa, in every build, refusing, as the
// other signers do, anything but PKCS#1 v1.5 over a SHA-256 digest.
func NewGo(key *rsa.PrivateKey) (crypto.Signer, error) {
	if key == nil {
		return nil, errors.New("signer: nil private key")
	}
	return goSigner{key}, nil
}

// goSigner is the key itself with the options checked first, so a wrong hash fails the same way
// in every build.
type goSigner struct{ key *rsa.PrivateKey }

func (s goSigner) Public() crypto.PublicKey { return &s.key.PublicKey }

func (s goSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkOpts(digest, opts); err != nil {
		return nil, err
	}
	return rsa.SignPKCS1v15(rand, s.key, crypto.SHA256, digest)
}

// checkOpts refuses anything but a PKCS#1 v1.5 SHA-256 signature of a 32-byte digest: the only
// signature the wire protocol uses, and the only one the OpenSSL signer is set up for. PSS
// options also report SHA-256, so they are refused by type.
func checkOpts(digest []byte, opts crypto.SignerOpts) error {
	if opts == nil {
		return errors.New("signer: nil options; want crypto.SHA256")
	}
	if _, ok := opts.(*rsa.PSSOptions); ok {
		return errors.New("signer: PSS is not supported; want PKCS#1 v1.5 with crypto.SHA256")
	}
	if h := opts.HashFunc(); h != crypto.SHA256 {
		return fmt.Errorf("signer: hash %v is not supported; want crypto.SHA256", h)
	}
	if len(digest) != crypto.SHA256.Size() {
		return fmt.Errorf("signer: digest is %d bytes; a SHA-256 digest is %d", len(digest), crypto.SHA256.Size())
	}
	return nil
}
