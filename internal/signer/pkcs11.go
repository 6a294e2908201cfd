//go:build pkcs11 && cgo

package signer

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ThalesGroup/crypto11"
)

// HasPKCS11 says whether this build can sign with a key in an HSM (-tags pkcs11, with cgo).
const HasPKCS11 = true

// ErrNoPKCS11 is OpenPKCS11's answer in a build without PKCS#11 (never, in this one).
var ErrNoPKCS11 = errors.New("this binary was built without -tags pkcs11")

// OpenPKCS11 loads u's module, logs in to its token and finds the RSA key pair it names. The
// private key stays in the token: Sign asks the token (CKM_RSA_PKCS over SHA-256's DigestInfo),
// and Public is the token's public key object. Close logs out and unloads the module; the key
// is safe for concurrent use (crypto11 keeps a pool of sessions).
func OpenPKCS11(u PKCS11URI) (HSMKey, error) {
	pin, err := u.PIN()
	if err != nil {
		return nil, fmt.Errorf("pkcs11: %w", err)
	}
	cfg := &crypto11.Config{Path: u.ModulePath, TokenLabel: u.Token, TokenSerial: u.Serial, Pin: pin}
	if u.SlotID != "" {
		n, err := strconv.Atoi(u.SlotID)
		if err != nil {
			return nil, fmt.Errorf("slot-id=%s: %w", u.SlotID, err)
		}
		cfg.SlotNumber = &n
	}
	ctx, err := crypto11.Configure(cfg)
	if err != nil {
		// crypto11 says which step failed: loading the module, finding the token, logging in
		// (CKR_PIN_INCORRECT).
		return nil, fmt.Errorf("pkcs11: open %s: %w", u, err)
	}
	var id, label []byte
	if len(u.ID) > 0 {
		id = u.ID
	}
	if u.Object != "" {
		label = []byte(u.Object)
	}
	key, err := ctx.FindKeyPair(id, label)
	if err != nil || key == nil {
		ctx.Close()
		msg := fmt.Sprintf("pkcs11: no RSA key pair %s on %s (a private key and its public key object, with the same label and id)", u.keyName(), u.tokenName())
		if err != nil && !strings.Contains(err.Error(), "was not found") { // crypto11's words for none
			return nil, fmt.Errorf("%s: %w", msg, err)
		}
		return nil, errors.New(msg)
	}
	pub, ok := key.Public().(*rsa.PublicKey)
	if !ok {
		ctx.Close()
		return nil, fmt.Errorf("pkcs11: key pair %s is %T, not RSA: the gateway signs RSA-2048", u.keyName(), key.Public())
	}
	if pub.N.BitLen() < 2048 {
		ctx.Close()
		return nil, fmt.Errorf("pkcs11: key pair %s is RSA-%d; the gateway key is at least RSA-2048", u.keyName(), pub.N.BitLen())
	}
	return &hsmKey{ctx: ctx, key: key, pub: pub}, nil
}

type hsmKey struct {
	ctx *crypto11.Context
	key crypto.Signer
	pub *rsa.PublicKey
}

func (k *hsmKey) Public() crypto.PublicKey { return k.pub }

// Sign asks the token for the RSASSA-PKCS1-v1_5 signature of a SHA-256 digest. rand is unused:
// the token signs deterministically.
func (k *hsmKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkOpts(digest, opts); err != nil {
		return nil, err
	}
	sig, err := k.key.Sign(nil, digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signer: pkcs11: sign: %w", err)
	}
	return sig, nil
}

func (k *hsmKey) Close() error { return k.ctx.Close() }
