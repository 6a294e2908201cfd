// Package vault seals card data at rest (docs/design.md "Security", "Card data during 3-D Secure",
// invariant 6): envelope encryption with AES-256-GCM under a fresh data key per record, the data
// key wrapped by a key-encryption key (KEK) named by an id, so that KEKs can be rotated by
// re-wrapping data keys without re-encrypting data.
//
// Keys come from configuration, the environment or a key file beside the database; never from the
// database they protect, except in a sandbox on PostgreSQL, whose instances share their keys
// through it (store.go). A Keyring keeps no raw key bytes (only the ciphers built from them), and
// KEK and Keyring print their ids only, whatever the verb.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// KeySize is the length of a KEK and of a data key: AES-256.
const KeySize = 32

// maxIDLen bounds a KEK id.
const maxIDLen = 32

// ErrInvalidKeys reports a key configuration that cannot be used: bad ids, lengths, encodings,
// duplicates or no key at all. Its messages name ids and positions, never key material.
var ErrInvalidKeys = errors.New("vault: invalid key configuration")

// KEK is a key-encryption key: 32 bytes with an id. It prints as its id only.
type KEK struct {
	ID  string
	Key []byte
}

// GenerateKEK returns a KEK with the given id and a fresh random key, e.g. for `vault rotate`.
func GenerateKEK(id string) (KEK, error) {
	if !validID(id) {
		return KEK{}, fmt.Errorf("%w: key id must match [A-Za-z0-9_-]{1,%d}", ErrInvalidKeys, maxIDLen)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return KEK{}, fmt.Errorf("vault: generating a key: %w", err)
	}
	return KEK{ID: id, Key: key}, nil
}

// EncodeKeys is the inverse of ParseKeys: "id1:base64key,id2:base64key", the first the current.
// Its result is secret; it exists to write configuration and key files.
func EncodeKeys(keys ...KEK) (string, error) {
	if len(keys) == 0 {
		return "", fmt.Errorf("%w: no keys", ErrInvalidKeys)
	}
	if err := validateKEKs(keys); err != nil {
		return "", err
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.ID + ":" + base64.StdEncoding.EncodeToString(k.Key)
	}
	return strings.Join(parts, ","), nil
}

// String shows the id only.
func (k KEK) String() string { return "KEK(" + k.ID + ")" }

// GoString shows the id only.
func (k KEK) GoString() string { return "vault.KEK{ID:" + strconv.Quote(k.ID) + ", Key:<redacted>}" }

// Format makes every fmt verb show the id only (%x or %d would otherwise print the key bytes).
func (k KEK) Format(f fmt.State, verb rune) { format(f, verb, k.String(), k.GoString()) }

// LogValue keeps the key out of structured logs.
func (k KEK) LogValue() slog.Value { return slog.GroupValue(slog.String("id", k.ID)) }

// MarshalJSON keeps the key out of JSON.
func (k KEK) MarshalJSON() ([]byte, error) {
	return []byte(`{"id":` + strconv.Quote(k.ID) + `}`), nil
}

// Keyring holds the current KEK (which seals and wraps) and older ones (which still open).
// It is immutable and safe for concurrent use. It keeps no raw key bytes.
type Keyring struct {
	ids  []string               // current first
	keks map[string]cipher.AEAD // by id
}

// NewKeyring builds a keyring from the current KEK and older ones. Keys must be 32 bytes, ids
// unique and of [A-Za-z0-9_-]{1,32}. The caller keeps ownership of the key slices (and may zero
// them afterwards).
func NewKeyring(current KEK, older ...KEK) (*Keyring, error) {
	all := append([]KEK{current}, older...)
	if err := validateKEKs(all); err != nil {
		return nil, err
	}
	k := &Keyring{ids: make([]string, 0, len(all)), keks: make(map[string]cipher.AEAD, len(all))}
	for _, kek := range all {
		aead, err := newGCM(kek.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: key %q: %v", ErrInvalidKeys, kek.ID, err)
		}
		k.ids = append(k.ids, kek.ID)
		k.keks[kek.ID] = aead
	}
	return k, nil
}

func validateKEKs(keys []KEK) error {
	seen := make(map[string]bool, len(keys))
	for i, kek := range keys {
		if !validID(kek.ID) {
			return fmt.Errorf("%w: key %d: id must match [A-Za-z0-9_-]{1,%d}", ErrInvalidKeys, i+1, maxIDLen)
		}
		if len(kek.Key) != KeySize {
			return fmt.Errorf("%w: key %q is %d bytes, want %d", ErrInvalidKeys, kek.ID, len(kek.Key), KeySize)
		}
		if seen[kek.ID] {
			return fmt.Errorf("%w: duplicate key id %q", ErrInvalidKeys, kek.ID)
		}
		seen[kek.ID] = true
	}
	return nil
}

// ParseKeys reads keys as configuration gives them: "id1:base64key,id2:base64key", the first the
// current. Spaces around entries are ignored; standard or URL-safe base64, padded or not.
// Errors never echo key material.
func ParseKeys(s string) (*Keyring, error) {
	keys, err := parseKEKs(s)
	if err != nil {
		return nil, err
	}
	defer clearKEKs(keys)
	return NewKeyring(keys[0], keys[1:]...)
}

// parseKEKs is ParseKeys without building the ciphers; the caller clears the keys it returns.
func parseKEKs(s string) ([]KEK, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: no keys", ErrInvalidKeys)
	}
	entries := strings.Split(s, ",")
	keys := make([]KEK, 0, len(entries))
	ok := false
	defer func() {
		if !ok {
			clearKEKs(keys)
		}
	}()
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			return nil, fmt.Errorf("%w: entry %d is empty", ErrInvalidKeys, i+1)
		}
		id, b64, ok := strings.Cut(e, ":")
		id, b64 = strings.TrimSpace(id), strings.TrimSpace(b64)
		if !ok {
			return nil, fmt.Errorf("%w: entry %d: want id:base64key", ErrInvalidKeys, i+1)
		}
		if !validID(id) {
			return nil, fmt.Errorf("%w: entry %d: id must match [A-Za-z0-9_-]{1,%d}", ErrInvalidKeys, i+1, maxIDLen)
		}
		key, ok := decodeKey(b64)
		if !ok {
			return nil, fmt.Errorf("%w: key %q: not valid base64", ErrInvalidKeys, id)
		}
		keys = append(keys, KEK{ID: id, Key: key})
	}
	if err := validateKEKs(keys); err != nil {
		return nil, err
	}
	ok = true
	return keys, nil
}

func clearKEKs(keys []KEK) {
	for _, k := range keys {
		clear(k.Key)
	}
}

// ReadKeyFile returns the keys of a key file (the ParseKeys format), the current first, for a
// sandbox that moves its keys from the file into its database. The caller should clear them.
func ReadKeyFile(path string) ([]KEK, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *PathError names the path, not the content
	}
	defer clear(b)
	keys, err := parseKEKs(string(b))
	if err != nil {
		return nil, fmt.Errorf("vault: key file %s: %w", path, err)
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// LoadOrCreateFile reads a key file (the ParseKeys format, one line) or, if it does not exist,
// creates one with a fresh random key and mode 0600. Creation is atomic: concurrent callers all end
// up with the same key. The sandbox keeps this file beside, never inside, its database.
func LoadOrCreateFile(path string) (*Keyring, error) {
	k, err := loadFile(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	kek, err := generateNamed("sandbox-")
	if err != nil {
		return nil, err
	}
	defer clear(kek.Key)
	line, err := EncodeKeys(kek)
	if err != nil {
		return nil, err
	}
	if err := createExclusive(path, []byte(line+"\n")); err != nil {
		if errors.Is(err, os.ErrExist) {
			return loadFile(path) // another process won the race
		}
		return nil, fmt.Errorf("vault: creating key file: %w", err)
	}
	return NewKeyring(kek)
}

func loadFile(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *PathError names the path, not the content
	}
	defer clear(b)
	k, err := ParseKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("vault: key file %s: %w", path, err)
	}
	return k, nil
}

// createExclusive writes data to path, which must not exist, so that no reader ever sees a partial
// file: write a 0600 temporary file in the same directory, then hard-link it into place (link fails
// if path exists). Where hard links are unsupported it falls back to O_EXCL.
func createExclusive(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := writeSync(tmp, data); err != nil {
		return err
	}
	err = os.Link(tmpName, path)
	if err == nil || errors.Is(err, os.ErrExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	return writeSync(f, data)
}

func writeSync(f *os.File, data []byte) error {
	err := f.Chmod(0o600) // regardless of umask
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// CurrentID is the id of the KEK that seals and wraps.
func (k *Keyring) CurrentID() string {
	if k == nil || len(k.ids) == 0 {
		return ""
	}
	return k.ids[0]
}

// IDs lists the KEK ids, the current first.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.ids...)
}

// Has reports whether the keyring holds a KEK with this id.
func (k *Keyring) Has(id string) bool {
	if k == nil {
		return false
	}
	_, ok := k.keks[id]
	return ok
}

// NeedsRewrap reports whether s is wrapped by a KEK other than the current one.
func (k *Keyring) NeedsRewrap(s Sealed) bool { return s.KEKID != k.CurrentID() }

// String shows the ids only.
func (k Keyring) String() string {
	if len(k.ids) == 0 {
		return "Keyring(empty)"
	}
	return "Keyring(current=" + k.ids[0] + " older=[" + strings.Join(k.ids[1:], " ") + "])"
}

// GoString shows the ids only.
func (k Keyring) GoString() string {
	q := make([]string, len(k.ids))
	for i, id := range k.ids {
		q[i] = strconv.Quote(id)
	}
	return "vault.Keyring{IDs:[]string{" + strings.Join(q, ", ") + "}}"
}

// Format makes every fmt verb show the ids only.
func (k Keyring) Format(f fmt.State, verb rune) { format(f, verb, k.String(), k.GoString()) }

// LogValue keeps structured logs to the ids.
func (k Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("ids", append([]string(nil), k.ids...)))
}

func format(f fmt.State, verb rune, s, gos string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		s = gos
	case verb == 'q':
		s = strconv.Quote(s)
	}
	if w, ok := f.Width(); ok && len(s) < w {
		pad := strings.Repeat(" ", w-len(s))
		if f.Flag('-') {
			s += pad
		} else {
			s = pad + s
		}
	}
	_, _ = f.Write([]byte(s))
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// RotateFile puts a fresh key at the front of the key file at path (it becomes current; the
// older keys stay so that what they wrap still opens) and returns its id. The file is replaced
// atomically, so a gateway following it (LiveFile) reads either the old keys or the new ones.
func RotateFile(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	defer clear(raw)
	if _, err := ParseKeys(string(raw)); err != nil {
		return "", fmt.Errorf("vault: key file %s: %w", path, err)
	}
	kek, err := generateNamed(rotatedPrefix())
	if err != nil {
		return "", err
	}
	first, err := EncodeKeys(kek)
	clear(kek.Key)
	if err != nil {
		return "", err
	}
	line := first + "," + strings.TrimSpace(string(raw))
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("vault: rotating key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, []byte(line+"\n")); err != nil {
		return "", fmt.Errorf("vault: rotating key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("vault: rotating key file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // the rename itself must survive a crash
		d.Close()
	}
	return kek.ID, nil
}

// generateNamed is GenerateKEK with the id prefix followed by 8 random hex digits, so that keys
// made by different processes at once never share an id.
func generateNamed(prefix string) (KEK, error) {
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return KEK{}, fmt.Errorf("vault: generating a key id: %w", err)
	}
	return GenerateKEK(prefix + hex.EncodeToString(suffix))
}

// rotatedPrefix starts the id of a key made by `vault rotate`: it says the day it was made.
func rotatedPrefix() string { return "kek-" + time.Now().UTC().Format("20060102") + "-" }
