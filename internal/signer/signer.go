// Package signer picks the implementation behind the gateway's RSA signatures (RSASSA-PKCS1-v1_5
// over SHA-256, docs/wire.md §2). Signing is about half of the gateway's CPU (docs/performance.md):
// the default build signs with crypto/rsa; built with -tags openssl (and cgo) it signs through
// OpenSSL's libcrypto, about three times faster, with byte-identical signatures since PKCS#1 v1.5
// is deterministic. Either way New returns a crypto.Signer that callers use through
// protocol.SignWith, so nothing else depends on the build.
package signer

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
)

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
