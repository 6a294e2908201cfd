package vault

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const (
	version   = "v1"
	nonceSize = 12 // GCM standard nonce
	tagSize   = 16 // GCM tag
	// wrappedSize is a wrapped data key: wrap nonce || AES-GCM(KEK, data key) || tag.
	wrappedSize = nonceSize + KeySize + tagSize
	// wrapAADPrefix domain-separates the wrapping; the KEK id follows, so a record relabelled
	// with another KEK id fails to unwrap even if that KEK held the same bytes.
	wrapAADPrefix = "cardgate/vault/v1/wrap/kek="
)

var (
	// ErrOpen reports sealed data that cannot be opened: tampered or truncated, wrapped by an
	// unknown KEK, or opened with another aad (another record or merchant). Every failure of Open
	// and Rewrap wraps it; messages never include plaintext or key material.
	ErrOpen = errors.New("vault: cannot open sealed data")
	// ErrUnknownKEK is also wrapped when the KEK named by the record is not in the keyring, to tell
	// a configuration mistake from tampering.
	ErrUnknownKEK = errors.New("unknown key-encryption key")
	// ErrMalformed reports text that is not a sealed record.
	ErrMalformed = errors.New("vault: malformed sealed text")
	// ErrNoAAD reports a Seal without context: an unbound ciphertext could be moved between rows.
	ErrNoAAD = errors.New("vault: seal needs additional authenticated data (merchant and record id)")
)

// Sealed is an envelope: data encrypted with AES-256-GCM under a fresh per-record data key, the
// data key wrapped (AES-256-GCM, the KEK id as additional data) by the KEK named by KEKID.
// WrappedKey is the wrap nonce followed by the encrypted data key and its tag. None of it is
// secret without the KEK; Sealed prints as its text form.
type Sealed struct {
	KEKID      string
	WrappedKey []byte
	Nonce      []byte
	Ciphertext []byte
}

var b64 = base64.RawURLEncoding.Strict()

// String is the compact text form for a TEXT column:
// "v1.<kekid>.<b64url wrapped>.<b64url nonce>.<b64url ct>" (unpadded base64url).
func (s Sealed) String() string {
	var b strings.Builder
	b.Grow(len(version) + len(s.KEKID) + 4 + b64.EncodedLen(len(s.WrappedKey)) + b64.EncodedLen(len(s.Nonce)) + b64.EncodedLen(len(s.Ciphertext)))
	b.WriteString(version)
	b.WriteByte('.')
	b.WriteString(s.KEKID)
	for _, p := range [][]byte{s.WrappedKey, s.Nonce, s.Ciphertext} {
		b.WriteByte('.')
		b.WriteString(b64.EncodeToString(p))
	}
	return b.String()
}

// GoString shows the text form.
func (s Sealed) GoString() string { return "vault.Sealed(" + strconv.Quote(s.String()) + ")" }

// IsZero reports an empty Sealed.
func (s Sealed) IsZero() bool {
	return s.KEKID == "" && len(s.WrappedKey) == 0 && len(s.Nonce) == 0 && len(s.Ciphertext) == 0
}

// ParseSealed reads the text form written by String. It checks the shape (version, KEK id,
// canonical base64url, field lengths), not authenticity: that is Open's job.
func ParseSealed(text string) (Sealed, error) {
	parts := strings.Split(text, ".")
	if len(parts) != 5 {
		return Sealed{}, fmt.Errorf("%w: want 5 dot-separated fields, got %d", ErrMalformed, len(parts))
	}
	if parts[0] != version {
		return Sealed{}, fmt.Errorf("%w: unsupported version", ErrMalformed)
	}
	if !validID(parts[1]) {
		return Sealed{}, fmt.Errorf("%w: invalid key id", ErrMalformed)
	}
	s := Sealed{KEKID: parts[1]}
	for i, dst := range []*[]byte{&s.WrappedKey, &s.Nonce, &s.Ciphertext} {
		b, err := b64.DecodeString(parts[2+i])
		if err != nil {
			return Sealed{}, fmt.Errorf("%w: field %d is not base64url", ErrMalformed, 3+i)
		}
		*dst = b
	}
	if err := s.checkShape(); err != nil {
		return Sealed{}, fmt.Errorf("%w: %s", ErrMalformed, err)
	}
	if s.String() != text { // the decoder skips line breaks; accept only the canonical form
		return Sealed{}, fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	return s, nil
}

func (s Sealed) checkShape() error {
	switch {
	case !validID(s.KEKID):
		return errors.New("invalid key id")
	case len(s.WrappedKey) != wrappedSize:
		return fmt.Errorf("wrapped key is %d bytes, want %d", len(s.WrappedKey), wrappedSize)
	case len(s.Nonce) != nonceSize:
		return fmt.Errorf("nonce is %d bytes, want %d", len(s.Nonce), nonceSize)
	case len(s.Ciphertext) < tagSize:
		return fmt.Errorf("ciphertext is %d bytes, want at least %d", len(s.Ciphertext), tagSize)
	}
	return nil
}

// AAD builds additional authenticated data from context parts (merchant id, record id, purpose)
// without ambiguity: each part is length-prefixed, so ("ab","c") and ("a","bc") differ.
func AAD(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += binary.MaxVarintLen64 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// Seal encrypts plaintext under a fresh data key wrapped by the current KEK. aad binds the
// ciphertext to its context (use AAD(merchantID, recordID)): opening it with any other aad fails,
// so a ciphertext moved to another row or merchant cannot be opened. aad must not be empty.
func (k *Keyring) Seal(plaintext, aad []byte) (Sealed, error) {
	return k.seal(rand.Reader, plaintext, aad)
}

// seal is Seal with its source of randomness (deterministic in tests).
func (k *Keyring) seal(random io.Reader, plaintext, aad []byte) (Sealed, error) {
	if len(aad) == 0 {
		return Sealed{}, ErrNoAAD
	}
	if k == nil || len(k.ids) == 0 {
		return Sealed{}, errors.New("vault: seal with an empty keyring")
	}
	dataKey := make([]byte, KeySize)
	defer clear(dataKey)
	nonce := make([]byte, nonceSize)
	if _, err := io.ReadFull(random, dataKey); err != nil {
		return Sealed{}, fmt.Errorf("vault: generating a data key: %w", err)
	}
	if _, err := io.ReadFull(random, nonce); err != nil {
		return Sealed{}, fmt.Errorf("vault: generating a nonce: %w", err)
	}
	aead, err := newGCM(dataKey)
	if err != nil {
		return Sealed{}, fmt.Errorf("vault: %w", err)
	}
	id := k.ids[0]
	wrapped, err := k.wrap(random, id, dataKey)
	if err != nil {
		return Sealed{}, err
	}
	return Sealed{
		KEKID:      id,
		WrappedKey: wrapped,
		Nonce:      nonce,
		Ciphertext: aead.Seal(nil, nonce, plaintext, aad),
	}, nil
}

// Open decrypts s, checking it was sealed with this aad. Any tampering, an unknown KEK or another
// aad gives an error wrapping ErrOpen.
func (k *Keyring) Open(s Sealed, aad []byte) ([]byte, error) {
	dataKey, err := k.unwrap(s)
	if err != nil {
		return nil, err
	}
	defer clear(dataKey)
	if len(s.Nonce) != nonceSize || len(s.Ciphertext) < tagSize {
		return nil, ErrOpen
	}
	aead, err := newGCM(dataKey)
	if err != nil {
		return nil, ErrOpen
	}
	plaintext, err := aead.Open(nil, s.Nonce, s.Ciphertext, aad)
	if err != nil {
		return nil, ErrOpen
	}
	return plaintext, nil
}

// Rewrap re-wraps the data key of s under the current KEK without touching the ciphertext: key
// rotation without re-encrypting data, constant time per record. A record already under the
// current KEK is returned unchanged. The result shares Nonce and Ciphertext with s. Rewrap checks
// the wrapping, not the ciphertext (it has no aad): a tampered ciphertext still fails at Open.
func (k *Keyring) Rewrap(s Sealed) (Sealed, error) {
	if k == nil || len(k.ids) == 0 {
		return Sealed{}, errors.New("vault: rewrap with an empty keyring")
	}
	if s.KEKID == k.ids[0] {
		return s, nil
	}
	dataKey, err := k.unwrap(s)
	if err != nil {
		return Sealed{}, err
	}
	defer clear(dataKey)
	if err := s.checkShape(); err != nil {
		return Sealed{}, ErrOpen
	}
	wrapped, err := k.wrap(rand.Reader, k.ids[0], dataKey)
	if err != nil {
		return Sealed{}, err
	}
	return Sealed{KEKID: k.ids[0], WrappedKey: wrapped, Nonce: s.Nonce, Ciphertext: s.Ciphertext}, nil
}

func (k *Keyring) wrap(random io.Reader, id string, dataKey []byte) ([]byte, error) {
	out := make([]byte, nonceSize, wrappedSize)
	if _, err := io.ReadFull(random, out); err != nil {
		return nil, fmt.Errorf("vault: generating a nonce: %w", err)
	}
	return k.keks[id].Seal(out, out[:nonceSize], dataKey, wrapAAD(id)), nil
}

// unwrap returns the data key of s; the caller clears it.
func (k *Keyring) unwrap(s Sealed) ([]byte, error) {
	if k == nil {
		return nil, ErrOpen
	}
	kek, ok := k.keks[s.KEKID]
	if !ok {
		if validID(s.KEKID) {
			return nil, fmt.Errorf("%w: %w %q", ErrOpen, ErrUnknownKEK, s.KEKID)
		}
		return nil, fmt.Errorf("%w: %w", ErrOpen, ErrUnknownKEK)
	}
	if len(s.WrappedKey) != wrappedSize {
		return nil, ErrOpen
	}
	dataKey, err := kek.Open(nil, s.WrappedKey[:nonceSize], s.WrappedKey[nonceSize:], wrapAAD(s.KEKID))
	if err != nil {
		return nil, ErrOpen
	}
	if len(dataKey) != KeySize {
		clear(dataKey)
		return nil, ErrOpen
	}
	return dataKey, nil
}

func wrapAAD(id string) []byte { return []byte(wrapAADPrefix + id) }
