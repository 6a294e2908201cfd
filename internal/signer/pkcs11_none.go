//go:build !pkcs11 || !cgo

package signer

import "errors"

// HasPKCS11 says whether this build can sign with a key in an HSM (-tags pkcs11, with cgo).
const HasPKCS11 = false

// ErrNoPKCS11 is OpenPKCS11's answer in a build without PKCS#11.
var ErrNoPKCS11 = errors.New("this binary was built without -tags pkcs11 (PKCS#11 needs cgo): build it with `go build -tags pkcs11 ./cmd/cardgate` to keep the gateway key in an HSM")

// OpenPKCS11 refuses: this build has no PKCS#11 (ErrNoPKCS11).
func OpenPKCS11(PKCS11URI) (HSMKey, error) { return nil, ErrNoPKCS11 }
