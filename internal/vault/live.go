package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Live is the keyring a running gateway seals and opens with: `cardgate vault rotate` can change
// its keys while the gateway runs. Keys given in configuration are fixed for the process (a
// rotation there is a rolling restart with the new key first, then `vault rotate`); keys read
// from a key file follow the file: before each seal the file is checked for a change; keys kept
// by the store (a sandbox on PostgreSQL, LiveStore) are re-read at most once per refresh period.
// Either way an envelope under a key the keyring does not know reloads it once before failing.
type Live struct {
	cur  atomic.Pointer[Keyring]
	path string   // the key file followed, or ""
	ks   KeyStore // the store whose keys are followed, or nil

	mu     sync.Mutex
	seen   fileStamp // of the key file
	loaded time.Time // when ks was last read
	every  time.Duration
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// Fixed returns a Live keyring that never changes.
func Fixed(k *Keyring) *Live {
	l := &Live{}
	l.cur.Store(k)
	return l
}

// LiveFile loads the key file at path, creating it with a fresh key if it does not exist
// (LoadOrCreateFile), and follows its changes.
func LiveFile(path string) (*Live, error) {
	k, err := LoadOrCreateFile(path)
	if err != nil {
		return nil, err
	}
	l := &Live{path: path}
	l.cur.Store(k)
	if st, err := os.Stat(path); err == nil {
		l.seen = fileStamp{st.ModTime(), st.Size()}
	}
	return l, nil
}

// Keyring returns the current keys, reloading a changed key file, or the store's keys once
// the refresh period has passed, first.
func (l *Live) Keyring() (*Keyring, error) {
	switch {
	case l.ks != nil:
		return l.refresh(false)
	case l.path == "":
		return l.cur.Load(), nil
	}
	st, err := os.Stat(l.path)
	if err != nil {
		return nil, fmt.Errorf("vault: key file: %w", err)
	}
	stamp := fileStamp{st.ModTime(), st.Size()}
	l.mu.Lock()
	defer l.mu.Unlock()
	if stamp == l.seen {
		return l.cur.Load(), nil
	}
	k, err := loadFile(l.path)
	if err != nil {
		return nil, err
	}
	l.cur.Store(k)
	l.seen = stamp
	return k, nil
}

// refresh re-reads the store's keys when the refresh period has passed, or now if force.
func (l *Live) refresh(force bool) (*Keyring, error) {
	if !force {
		l.mu.Lock()
		due := time.Since(l.loaded) >= l.every
		l.mu.Unlock()
		if !due {
			return l.cur.Load(), nil
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !force && time.Since(l.loaded) < l.every {
		return l.cur.Load(), nil // another caller reloaded meanwhile
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k, err := loadStore(ctx, l.ks)
	if err != nil {
		if force {
			return nil, err
		}
		// Keys are only ever added, so the keys already read still seal what the store accepts;
		// the next period tries again.
		l.loaded = time.Now()
		return l.cur.Load(), nil
	}
	l.cur.Store(k)
	l.loaded = time.Now()
	return k, nil
}

// follows reports whether the keys can change under the process.
func (l *Live) follows() bool { return l.path != "" || l.ks != nil }

// SealText seals plaintext under the current key and returns the envelope's text form.
func (l *Live) SealText(plaintext, aad []byte) (string, error) {
	k, err := l.Keyring()
	if err != nil {
		return "", err
	}
	s, err := k.Seal(plaintext, aad)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

// OpenText opens an envelope's text form.
func (l *Live) OpenText(text string, aad []byte) ([]byte, error) {
	s, err := ParseSealed(text)
	if err != nil {
		return nil, err
	}
	out, err := l.cur.Load().Open(s, aad)
	if err != nil && errors.Is(err, ErrUnknownKEK) && l.follows() {
		// Sealed by an instance that already follows a rotated key file or store.
		var k *Keyring
		var kerr error
		if l.ks != nil {
			k, kerr = l.refresh(true)
		} else {
			k, kerr = l.Keyring()
		}
		if kerr != nil {
			return nil, kerr
		}
		return k.Open(s, aad)
	}
	return out, err
}
