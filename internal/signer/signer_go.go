//go:build !openssl || !cgo

package signer

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"io"
)

// Name is the signer this build uses: "go" (crypto/rsa) or "openssl" (libcrypto).
func Name() string { return "go" }

// New returns the signer for key. In this build it signs with crypto/rsa, refusing, as the
// OpenSSL build does, anything but PKCS#1 v1.5 over a SHA-256 digest.
func New(key *rsa.PrivateKey) (crypto.Signer, error) {
	if key == nil {
		return nil, errors.New("signer: nil private key")
	}
	return goSigner{key}, nil
}

// goSigner is the key itself with the options checked first, so a wrong hash fails the same way
// in both builds.
type goSigner struct{ key *rsa.PrivateKey }

func (s goSigner) Public() crypto.PublicKey { return &s.key.PublicKey }

func (s goSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkOpts(digest, opts); err != nil {
		return nil, err
	}
	return rsa.SignPKCS1v15(rand, s.key, crypto.SHA256, digest)
}
