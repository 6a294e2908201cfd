package vault

import (
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
// from a key file follow the file: before each seal the file is checked for a change, and an
// envelope under a key the keyring does not know reloads it once before failing.
type Live struct {
	cur  atomic.Pointer[Keyring]
	path string // "" for fixed keys

	mu   sync.Mutex
	seen fileStamp
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

// Keyring returns the current keys, reloading a changed key file first.
func (l *Live) Keyring() (*Keyring, error) {
	if l.path == "" {
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
	if err != nil && errors.Is(err, ErrUnknownKEK) && l.path != "" {
		// Sealed by an instance that already follows a rotated key file.
		k, kerr := l.Keyring()
		if kerr != nil {
			return nil, kerr
		}
		return k.Open(s, aad)
	}
	return out, err
}
