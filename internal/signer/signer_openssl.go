//go:build openssl && cgo

package signer

/*
#cgo LDFLAGS: -lcrypto
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/err.h>

// cg_load decodes a PKCS#1 RSAPrivateKey DER into an EVP_PKEY, once per key: decoding and
// precomputing the key is the costly part, so it is not repeated per signature. NULL on failure,
// with the reason in *err (the error queue is per thread, so it is read here, on the thread that
// failed, and cleared so that nothing stale is left on it for a later call).
static EVP_PKEY *cg_load(const unsigned char *der, long len, unsigned long *err) {
	const unsigned char *p = der; // d2i advances its pointer; keep der intact
	EVP_PKEY *pkey = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
	if (pkey == NULL) {
		*err = ERR_peek_last_error();
		ERR_clear_error();
	}
	return pkey;
}

// cg_sign writes the RSASSA-PKCS1-v1_5 signature of a SHA-256 digest to sig (*siglen holds its
// capacity on entry, the signature's length on return). The EVP_PKEY is shared by every caller
// and only read; each call has its own EVP_PKEY_CTX, which is what carries per-operation state,
// so concurrent calls need no lock. Returns 1 on success, else 0 with the reason in *err.
static int cg_sign(EVP_PKEY *pkey, const unsigned char *digest, size_t dlen,
                   unsigned char *sig, size_t *siglen, unsigned long *err) {
	int ok = 0;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);   // per-call operation context
	if (ctx == NULL) goto done;
	if (EVP_PKEY_sign_init(ctx) <= 0) goto done;        // a raw "sign this digest" operation
	if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) goto done; // PKCS#1 v1.5, not PSS
	if (EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0) goto done;    // wrap the digest in SHA-256's DigestInfo
	if (EVP_PKEY_sign(ctx, sig, siglen, digest, dlen) <= 0) goto done;
	ok = 1;
done:
	if (!ok) {
		*err = ERR_peek_last_error();
		ERR_clear_error();
	}
	EVP_PKEY_CTX_free(ctx); // NULL is a no-op
	return ok;
}
*/
import "C"

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"
)

// Name is the signer this build uses for a key it holds: "go" (crypto/rsa) or "openssl" (libcrypto).
func Name() string { return NameOpenSSL }

// New returns a signer for key that signs through libcrypto. The key is handed to OpenSSL once,
// as PKCS#1 DER; the EVP_PKEY is freed by Close or, failing that, when the signer is collected.
func New(key *rsa.PrivateKey) (crypto.Signer, error) {
	if key == nil {
		return nil, errors.New("signer: nil private key")
	}
	der := x509.MarshalPKCS1PrivateKey(key)
	defer clear(der) // the private key's only copy in Go memory that we made
	var cerr C.ulong
	pkey := C.cg_load((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)), &cerr)
	if pkey == nil {
		return nil, fmt.Errorf("signer: openssl: load key: %s", errString(cerr))
	}
	s := &OpenSSL{pub: &key.PublicKey, size: key.Size()}
	s.pkey = pkey
	// The cleanup holds the pointer, not s, so s stays collectable.
	s.cleanup = runtime.AddCleanup(s, func(p *C.EVP_PKEY) { C.EVP_PKEY_free(p) }, pkey)
	return s, nil
}

// OpenSSL signs with an RSA key held by libcrypto. It is safe for concurrent use.
type OpenSSL struct {
	pub  *rsa.PublicKey
	size int // modulus bytes: the signature's length

	mu      sync.RWMutex // Sign holds it shared, Close exclusively: no free under a signature
	pkey    *C.EVP_PKEY  // nil once closed
	cleanup runtime.Cleanup
}

// Public returns the key's public half.
func (s *OpenSSL) Public() crypto.PublicKey { return s.pub }

// Sign returns the RSASSA-PKCS1-v1_5 signature of a SHA-256 digest; opts must be crypto.SHA256.
// rand is unused: the signature is deterministic (OpenSSL blinds with its own generator).
func (s *OpenSSL) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkOpts(digest, opts); err != nil {
		return nil, err
	}
	sig := make([]byte, s.size)
	siglen := C.size_t(len(sig))
	var cerr C.ulong
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.pkey == nil {
		return nil, errors.New("signer: openssl: signer closed")
	}
	// Go memory passed for the call only, holding no Go pointers: allowed by the cgo rules.
	ok := C.cg_sign(s.pkey,
		(*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &siglen, &cerr)
	if ok != 1 {
		return nil, fmt.Errorf("signer: openssl: sign: %s", errString(cerr))
	}
	return sig[:siglen], nil
}

// Close frees the key in libcrypto now rather than at collection; Sign fails afterwards.
func (s *OpenSSL) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pkey != nil {
		s.cleanup.Stop()
		C.EVP_PKEY_free(s.pkey)
		s.pkey = nil
	}
	return nil
}

// errString renders an OpenSSL error code as ERR_error_string_n does (library and reason).
func errString(code C.ulong) string {
	if code == 0 {
		return "unknown error"
	}
	var buf [256]C.char
	C.ERR_error_string_n(code, &buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}
