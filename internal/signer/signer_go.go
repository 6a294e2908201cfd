//go:build !openssl || !cgo

package signer

import (
	"crypto"
	"crypto/rsa"
)

// Name is the signer this build uses for a key it holds: "go" (crypto/rsa) or "openssl" (libcrypto).
func Name() string { return NameGo }

// New returns the signer for key. In this build it signs with crypto/rsa (NewGo).
func New(key *rsa.PrivateKey) (crypto.Signer, error) { return NewGo(key) }
