package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// A sandbox on PostgreSQL may run several instances on several hosts, each with its own working
// directory: a key file in ./data would give each its own key, and a 3-D Secure challenge opened
// on one could not be completed on another. Such a sandbox keeps its keys in the database it
// shares instead (KeyStore), which the sandbox may do because its cards are test cards and its
// database is its own; production keys still come only from configuration and never from the
// database they protect.

// StoreRefresh is how often a gateway re-reads a sandbox's stored keys before sealing: a rotation
// is followed by every instance within it.
const StoreRefresh = time.Second

// ErrNoStoredKeys reports a store that keeps no sandbox keys: a production database (whose keys
// come from configuration), or a sandbox that has not yet served with stored keys.
var ErrNoStoredKeys = errors.New("vault: the database keeps no sandbox vault keys")

// KeyStore is where a sandbox on a shared database keeps its key-encryption keys. Keys are only
// ever added: what an older key wraps keeps opening.
type KeyStore interface {
	// SandboxKeys returns the keys, the current (last added) first; none if none were stored.
	SandboxKeys(ctx context.Context) ([]KEK, error)
	// SeedSandboxKeys stores keys (the first current) if the store holds none, and does nothing
	// otherwise: of instances starting at once on an empty store, one seeds and the others keep
	// what it stored.
	SeedSandboxKeys(ctx context.Context, keys []KEK) error
	// AddSandboxKey stores k as the new current key.
	AddSandboxKey(ctx context.Context, k KEK) error
}

// SeedStore gives a sandbox's store its keys on the sandbox's first start with stored keys: the
// key file at adopt if there is one (so that what it sealed keeps opening), else a fresh key.
// Where the store already holds keys it changes nothing. It reports whether it adopted the file.
func SeedStore(ctx context.Context, ks KeyStore, adopt string) (adopted bool, err error) {
	have, err := ks.SandboxKeys(ctx)
	clearKEKs(have)
	if err != nil {
		return false, fmt.Errorf("vault: reading the stored keys: %w", err)
	}
	if len(have) > 0 {
		return false, nil
	}
	var seed []KEK
	if adopt != "" {
		seed, err = ReadKeyFile(adopt)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
		adopted = err == nil
	}
	if !adopted {
		kek, err := generateNamed("sandbox-")
		if err != nil {
			return false, err
		}
		seed = []KEK{kek}
	}
	defer clearKEKs(seed)
	if err := ks.SeedSandboxKeys(ctx, seed); err != nil {
		return false, fmt.Errorf("vault: storing the sandbox keys: %w", err)
	}
	// Another instance may have seeded first; its keys won and the file was not used.
	now, err := loadStore(ctx, ks)
	if err != nil {
		return false, err
	}
	return adopted && now.CurrentID() == seed[0].ID, nil
}

// LiveStore follows the keys of a store that SeedStore seeded: re-read at most once per every
// (before a seal), and at once when an envelope names a key not yet seen, so that a rotation made
// through another instance is followed within every.
func LiveStore(ctx context.Context, ks KeyStore, every time.Duration) (*Live, error) {
	k, err := loadStore(ctx, ks)
	if err != nil {
		return nil, err
	}
	l := &Live{ks: ks, every: every, loaded: time.Now()}
	l.cur.Store(k)
	return l, nil
}

// RotateStore adds a fresh key to a sandbox's store as the current one and returns its id; the
// older keys stay so that what they wrap keeps opening. It refuses a store without sandbox keys
// (ErrNoStoredKeys): a production database rotates with configured keys.
func RotateStore(ctx context.Context, ks KeyStore) (string, error) {
	if _, err := loadStore(ctx, ks); err != nil {
		return "", err
	}
	kek, err := generateNamed(rotatedPrefix())
	if err != nil {
		return "", err
	}
	defer clear(kek.Key)
	if err := ks.AddSandboxKey(ctx, kek); err != nil {
		return "", fmt.Errorf("vault: adding a sandbox key: %w", err)
	}
	return kek.ID, nil
}

func loadStore(ctx context.Context, ks KeyStore) (*Keyring, error) {
	keys, err := ks.SandboxKeys(ctx)
	defer clearKEKs(keys)
	if err != nil {
		return nil, fmt.Errorf("vault: reading the stored keys: %w", err)
	}
	if len(keys) == 0 {
		return nil, ErrNoStoredKeys
	}
	return NewKeyring(keys[0], keys[1:]...)
}
