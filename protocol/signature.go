// Package protocol holds the Antom (AMS) wire primitives shared by the
// cardgate server and client: the string to sign, RSA signatures, the
// signature header, request/response times and key encodings
// (see docs/wire.md §1 and §2).
package protocol

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"strings"
)

// AlgorithmRSA256 is the only algorithm label Antom uses: RSASSA-PKCS1-v1_5 over SHA-256.
const AlgorithmRSA256 = "RSA256"

// DefaultKeyVersion is the keyVersion assumed when a signature header omits it.
const DefaultKeyVersion = "1"

var (
	// ErrSignatureMissing reports an empty signature header, a header without a
	// "signature=" part, or an empty signature value.
	ErrSignatureMissing = errors.New("protocol: signature missing")
	// ErrSignatureMalformed reports a signature header or value that cannot be parsed
	// (bad percent-escape, not base64, unknown algorithm, bad key=value item, ...).
	ErrSignatureMalformed = errors.New("protocol: signature malformed")
	// ErrSignatureInvalid reports a well-formed signature that does not verify.
	ErrSignatureInvalid = errors.New("protocol: signature invalid")
)

// SigningContent builds "<METHOD> <PATH>\n<CLIENT-ID>.<TIME>.<BODY>" byte for
// byte (docs/wire.md §2.2): one space, one LF, literal dots, no trailing newline,
// nothing canonicalised. The same layout serves requests, responses and
// notifications; timeValue is the request-time/response-time header verbatim.
func SigningContent(method, path, clientID, timeValue string, body []byte) []byte {
	n := len(method) + 1 + len(path) + 1 + len(clientID) + 1 + len(timeValue) + 1 + len(body)
	b := make([]byte, 0, n)
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, '\n')
	b = append(b, clientID...)
	b = append(b, '.')
	b = append(b, timeValue...)
	b = append(b, '.')
	b = append(b, body...)
	return b
}

// Sign returns the standard, padded base64 of an RSASSA-PKCS1-v1_5 SHA-256
// signature over content. The result is not URL-encoded; SignatureHeader.String does that.
func Sign(key *rsa.PrivateKey, content []byte) (string, error) {
	if key == nil {
		return "", errors.New("protocol: sign: nil private key")
	}
	return SignWith(key, content)
}

// SignWith is Sign with any crypto.Signer that makes RSASSA-PKCS1-v1_5 signatures when given
// crypto.SHA256 (an *rsa.PrivateKey, or the gateway's OpenSSL signer, internal/signer).
func SignWith(s crypto.Signer, content []byte) (string, error) {
	digest := sha256.Sum256(content)
	return signDigest(s, digest[:])
}

func signDigest(s crypto.Signer, digest []byte) (string, error) {
	if s == nil {
		return "", errors.New("protocol: sign: nil signer")
	}
	if k, ok := s.(*rsa.PrivateKey); ok && k == nil {
		return "", errors.New("protocol: sign: nil private key")
	}
	sig, err := s.Sign(rand.Reader, digest, crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("protocol: sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// ContentHash starts the SHA-256 of a signing content whose body is written to it afterwards:
// "<METHOD> <PATH>\n<CLIENT-ID>.<TIME>." is in it already, exactly as SigningContent lays it
// out. An answer too large to hold in memory (a day's report) is hashed as it is spooled and
// signed with SignHash; the other side verifies it the same way with VerifyHash.
func ContentHash(method, path, clientID, timeValue string) hash.Hash {
	h := sha256.New()
	h.Write(SigningContent(method, path, clientID, timeValue, nil))
	return h
}

// SignHash signs what was written to a ContentHash, as Sign signs a whole content.
func SignHash(key *rsa.PrivateKey, h hash.Hash) (string, error) {
	if key == nil {
		return "", errors.New("protocol: sign: nil private key")
	}
	return SignHashWith(key, h)
}

// SignHashWith is SignHash with any crypto.Signer, as SignWith is Sign.
func SignHashWith(s crypto.Signer, h hash.Hash) (string, error) {
	return signDigest(s, h.Sum(nil))
}

// VerifyHash checks a signature over what was written to a ContentHash, with Verify's errors.
func VerifyHash(key *rsa.PublicKey, h hash.Hash, signatureBase64 string) error {
	return verifyDigest(key, h.Sum(nil), signatureBase64)
}

// Verify checks a standard base64 signature (already URL-decoded) over content.
// It returns an error wrapping ErrSignatureMissing (empty), ErrSignatureMalformed
// (not base64) or ErrSignatureInvalid (RSA verification failed, including a nil key).
func Verify(key *rsa.PublicKey, content []byte, signatureBase64 string) error {
	digest := sha256.Sum256(content)
	return verifyDigest(key, digest[:], signatureBase64)
}

func verifyDigest(key *rsa.PublicKey, digest []byte, signatureBase64 string) error {
	if signatureBase64 == "" {
		return ErrSignatureMissing
	}
	sig, err := base64.StdEncoding.DecodeString(signatureBase64)
	if err != nil {
		return fmt.Errorf("%w: signature is not standard base64: %v", ErrSignatureMalformed, err)
	}
	if key == nil {
		return fmt.Errorf("%w: nil public key", ErrSignatureInvalid)
	}
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest, sig); err != nil {
		return fmt.Errorf("%w: %v", ErrSignatureInvalid, err)
	}
	return nil
}

// SignatureHeader is the parsed value of a "signature" header:
// "algorithm=RSA256,keyVersion=1,signature=<url-encoded base64>".
type SignatureHeader struct {
	Algorithm  string // always AlgorithmRSA256 after a successful parse
	KeyVersion string // DefaultKeyVersion when absent from the header
	Signature  string // standard base64, URL-decoded
}

const signatureKey = "signature="

// ParseSignatureHeader parses a request's (or response's / notification's)
// signature header (docs/wire.md §2.3, §2.4).
//
// Rules:
//   - The value is everything after the first "signature=" that starts an item
//     (at the beginning of the header or after a comma plus optional spaces/tabs),
//     with trailing spaces/tabs removed. "signature=" inside another item's value
//     (e.g. "x=signature=…") is not a match.
//   - The value is percent-decoded with case-insensitive hex (.NET sends %2b %2f %3d).
//     A literal '+' is kept as '+', NOT turned into a space: every SDK percent-encodes
//     the value, so a raw '+' can only come from a client that sent raw base64, where
//     it means '+'; a space is never valid base64, so this choice never rejects a
//     signature that form-decoding would have accepted. (The Go/Python SDKs would fail
//     such a raw value; cardgate is deliberately more lenient here.)
//   - The decoded value must be non-empty standard base64 (ErrSignatureMalformed otherwise).
//   - Items before the signature are comma-separated key=value pairs; spaces/tabs around
//     items, keys and values are tolerated; item keys are case-sensitive as the SDKs send
//     them. "algorithm", when present, must be "RSA256"; "keyVersion", when present, must
//     be a non-empty token of [A-Za-z0-9._-] and defaults to "1"; unknown keys are ignored;
//     duplicate keys, empty items and items without '=' are malformed.
//
// Errors wrap ErrSignatureMissing (empty header, no signature item, empty value)
// or ErrSignatureMalformed (anything else).
func ParseSignatureHeader(v string) (SignatureHeader, error) {
	v = strings.Trim(v, " \t")
	if v == "" {
		return SignatureHeader{}, fmt.Errorf("%w: empty header", ErrSignatureMissing)
	}
	at := findSignatureItem(v)
	if at < 0 {
		return SignatureHeader{}, fmt.Errorf("%w: no signature= item", ErrSignatureMissing)
	}
	raw := strings.TrimRight(v[at+len(signatureKey):], " \t")
	if raw == "" {
		return SignatureHeader{}, fmt.Errorf("%w: empty signature value", ErrSignatureMissing)
	}
	sig, err := url.PathUnescape(raw) // like QueryUnescape, but '+' stays '+'
	if err != nil {
		return SignatureHeader{}, fmt.Errorf("%w: bad percent-encoding in signature value", ErrSignatureMalformed)
	}
	if sig == "" {
		return SignatureHeader{}, fmt.Errorf("%w: empty signature value", ErrSignatureMissing)
	}
	if _, err := base64.StdEncoding.DecodeString(sig); err != nil {
		return SignatureHeader{}, fmt.Errorf("%w: signature value is not standard base64", ErrSignatureMalformed)
	}

	h := SignatureHeader{Algorithm: AlgorithmRSA256, KeyVersion: DefaultKeyVersion, Signature: sig}
	prefix := strings.TrimRight(v[:at], " \t")
	if prefix == "" {
		return h, nil
	}
	prefix = strings.TrimSuffix(prefix, ",") // the separator before "signature="
	seen := make(map[string]bool, 2)
	for item := range strings.SplitSeq(prefix, ",") {
		item = strings.Trim(item, " \t")
		k, val, ok := strings.Cut(item, "=")
		if !ok {
			return SignatureHeader{}, fmt.Errorf("%w: item %q is not key=value", ErrSignatureMalformed, item)
		}
		k, val = strings.Trim(k, " \t"), strings.Trim(val, " \t")
		if k == "" {
			return SignatureHeader{}, fmt.Errorf("%w: item %q has an empty key", ErrSignatureMalformed, item)
		}
		if seen[k] {
			return SignatureHeader{}, fmt.Errorf("%w: duplicate %q", ErrSignatureMalformed, k)
		}
		seen[k] = true
		switch k {
		case "algorithm":
			if val != AlgorithmRSA256 {
				return SignatureHeader{}, fmt.Errorf("%w: unsupported algorithm %q", ErrSignatureMalformed, val)
			}
		case "keyVersion":
			if !isKeyVersionToken(val) {
				return SignatureHeader{}, fmt.Errorf("%w: bad keyVersion %q", ErrSignatureMalformed, val)
			}
			h.KeyVersion = val
		}
	}
	return h, nil
}

// findSignatureItem returns the index of the first "signature=" that begins an
// item of the (already trimmed) header, or -1.
func findSignatureItem(v string) int {
	for off := 0; ; {
		i := strings.Index(v[off:], signatureKey)
		if i < 0 {
			return -1
		}
		i += off
		before := strings.TrimRight(v[:i], " \t")
		if before == "" || before[len(before)-1] == ',' {
			return i
		}
		off = i + 1
	}
}

// ValidKeyVersion reports whether s may be a signature header's keyVersion: letters, digits,
// '.', '_' and '-', at least one.
func ValidKeyVersion(s string) bool { return isKeyVersionToken(s) }

func isKeyVersionToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// String renders exactly "algorithm=RSA256,keyVersion=<kv>,signature=<url-encoded base64>"
// with uppercase percent-hex (url.QueryEscape), the form every SDK parses (§2.4):
// fixed order, no spaces, no raw '=' in the value (PHP takes the text after the last '=').
// An empty Algorithm renders as RSA256 and an empty KeyVersion as "1".
func (h SignatureHeader) String() string {
	alg := h.Algorithm
	if alg == "" {
		alg = AlgorithmRSA256
	}
	kv := h.KeyVersion
	if kv == "" {
		kv = DefaultKeyVersion
	}
	return "algorithm=" + alg + ",keyVersion=" + kv + "," + signatureKey + url.QueryEscape(h.Signature)
}
