package protocol

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// KeyBits is the RSA modulus size Antom uses (§2.1).
const KeyBits = 2048

// ErrBadKey reports a key string that cannot be decoded or is not an RSA key.
var ErrBadKey = errors.New("protocol: bad key")

// GenerateKey returns a new 2048-bit RSA key.
func GenerateKey() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, KeyBits)
}

// EncodePrivateKeyPKCS8 returns the bare base64 (no PEM, no line breaks) of the
// PKCS#8 PrivateKeyInfo DER — the form the Go, Java and .NET SDKs expect (§2.1).
func EncodePrivateKeyPKCS8(k *rsa.PrivateKey) (string, error) {
	if k == nil {
		return "", fmt.Errorf("%w: nil private key", ErrBadKey)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// EncodePrivateKeyPKCS1 returns the bare base64 of the PKCS#1 RSAPrivateKey DER —
// the form the Python SDK (and PHP) load under "BEGIN RSA PRIVATE KEY" (§2.1).
// It panics on a nil key.
func EncodePrivateKeyPKCS1(k *rsa.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(k))
}

// EncodePublicKey returns the bare base64 of the X.509 SubjectPublicKeyInfo DER,
// the public-key form every SDK expects.
func EncodePublicKey(k *rsa.PublicKey) (string, error) {
	if k == nil {
		return "", fmt.Errorf("%w: nil public key", ErrBadKey)
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// ParsePrivateKey accepts an RSA private key as PKCS#8 or PKCS#1 DER, given as
// bare base64 (line breaks and spaces ignored, padding optional) or PEM (the PEM
// label is ignored: the Python SDK wraps PKCS#8 bodies as "RSA PRIVATE KEY").
// Encrypted PEM is not supported. Errors wrap ErrBadKey.
func ParsePrivateKey(s string) (*rsa.PrivateKey, error) {
	der, err := keyDER(s)
	if err != nil {
		return nil, err
	}
	if k, err8 := x509.ParsePKCS8PrivateKey(der); err8 == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: PKCS#8 key is %T, not RSA", ErrBadKey, k)
		}
		return rk, nil
	}
	k, err1 := x509.ParsePKCS1PrivateKey(der)
	if err1 != nil {
		return nil, fmt.Errorf("%w: neither PKCS#8 nor PKCS#1 RSA private key: %v", ErrBadKey, err1)
	}
	return k, nil
}

// ParsePublicKey accepts an RSA public key as X.509 SubjectPublicKeyInfo or
// PKCS#1 RSAPublicKey DER, bare base64 or PEM (label ignored). Errors wrap ErrBadKey.
func ParsePublicKey(s string) (*rsa.PublicKey, error) {
	der, err := keyDER(s)
	if err != nil {
		return nil, err
	}
	if k, errX := x509.ParsePKIXPublicKey(der); errX == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: public key is %T, not RSA", ErrBadKey, k)
		}
		return rk, nil
	}
	k, err1 := x509.ParsePKCS1PublicKey(der)
	if err1 != nil {
		return nil, fmt.Errorf("%w: neither SubjectPublicKeyInfo nor PKCS#1 RSA public key: %v", ErrBadKey, err1)
	}
	return k, nil
}

// keyDER extracts DER bytes from PEM or bare base64.
func keyDER(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadKey)
	}
	if strings.Contains(s, "-----BEGIN") {
		block, _ := pem.Decode([]byte(s))
		if block == nil {
			return nil, fmt.Errorf("%w: invalid PEM", ErrBadKey)
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, fmt.Errorf("%w: encrypted PEM not supported", ErrBadKey)
		}
		return block.Bytes, nil
	}
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	der, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: not base64: %v", ErrBadKey, err)
	}
	return der, nil
}
