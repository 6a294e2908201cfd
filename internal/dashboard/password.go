package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of new hashes: OWASP's first recommendation (19 MiB, 2 passes, 1 lane),
// which costs tens of milliseconds on a small machine. Stored hashes carry their own parameters,
// so raising these later keeps every existing password valid.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// MinPassword is the shortest password accepted: a console user holds merchant data.
const MinPassword = 10

// MaxPassword bounds what is hashed, so a huge form field costs nothing extra.
const MaxPassword = 256

// HashPassword returns the PHC string of password under argon2id with a fresh salt:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64).
func HashPassword(password string) (string, error) {
	if err := CheckPassword(password); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword says why a new password is refused, or nil.
func CheckPassword(password string) error {
	switch {
	case len(password) < MinPassword:
		return fmt.Errorf("the password must be at least %d characters", MinPassword)
	case len(password) > MaxPassword:
		return fmt.Errorf("the password must be at most %d characters", MaxPassword)
	}
	return nil
}

type phc struct {
	memory     uint32
	time       uint32
	threads    uint8
	salt, hash []byte
}

var errBadHash = errors.New("not an argon2id PHC string")

func parsePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phc{}, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return phc{}, fmt.Errorf("argon2 version %q: %w", parts[2], errBadHash)
	}
	var p phc
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return phc{}, fmt.Errorf("argon2 parameters %q: %w", parts[3], errBadHash)
	}
	// Bounds keep a corrupted or hostile row from costing gigabytes or minutes.
	if p.memory < 8 || p.memory > 256*1024 || p.time < 1 || p.time > 16 || p.threads < 1 {
		return phc{}, fmt.Errorf("argon2 parameters %q out of range: %w", parts[3], errBadHash)
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return phc{}, fmt.Errorf("salt: %w", errBadHash)
	}
	if p.hash, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.hash) < 16 || len(p.hash) > 64 {
		return phc{}, fmt.Errorf("hash: %w", errBadHash)
	}
	return p, nil
}

// VerifyPassword reports whether password matches the PHC string, comparing in constant time.
// A malformed hash matches nothing.
func VerifyPassword(encoded, password string) bool {
	if len(password) > MaxPassword {
		return false
	}
	p, err := parsePHC(encoded)
	if err != nil {
		return false
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.hash)))
	return subtle.ConstantTimeCompare(key, p.hash) == 1
}

// dummyHash is verified against when the username is unknown, so that a refusal takes as long
// whether or not the user exists.
var dummyHash = func() string {
	h, err := HashPassword("no user has this password")
	if err != nil {
		panic(err)
	}
	return h
}()

// newSecret is 32 random bytes, URL-safe base64: session tokens and CSRF secrets.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// tokenHash is what the store keys a session by.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// sameSecret compares a submitted secret with the expected one in constant time; an empty
// expected secret matches nothing.
func sameSecret(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// CheckUsername says why a username is refused, or nil: 1 to 64 letters, digits and . _ - @.
func CheckUsername(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("a username is 1 to 64 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			return fmt.Errorf("a username holds letters, digits and . _ - @ only, not %q", r)
		}
	}
	return nil
}
