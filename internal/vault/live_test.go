package vault

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestRotateFileAndLiveFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault.key")
	a, err := LiveFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LiveFile(path) // another instance on the same file
	if err != nil {
		t.Fatal(err)
	}
	k0, _ := a.Keyring()
	old := k0.CurrentID()
	aad := AAD("token", "m1", "t1")
	sealedOld, err := a.SealText([]byte("card"), aad)
	if err != nil {
		t.Fatal(err)
	}

	id, err := RotateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if id == old || len(id) > maxIDLen {
		t.Fatalf("new key id %q (old %q)", id, old)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode after rotation: %v %v", st.Mode(), err)
	}
	raw, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(raw), id+":") || !strings.Contains(string(raw), ","+old+":") {
		t.Fatalf("rotated file does not put the new key first and keep the old one (ids: %v)", idsOf(t, path))
	}

	// Seals follow the file at once; what the old key wrapped still opens.
	sealedNew, err := a.SealText([]byte("card"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealedNew, "v1."+id+".") {
		t.Fatalf("sealed after rotation under %q", sealedNew[:20])
	}
	for _, s := range []string{sealedOld, sealedNew} {
		if got, err := b.OpenText(s, aad); err != nil || string(got) != "card" {
			t.Fatalf("open %q: %q %v", s[:20], got, err)
		}
	}
	k, _ := a.Keyring()
	s, _ := ParseSealed(sealedOld)
	if !k.NeedsRewrap(s) {
		t.Fatal("an envelope under the old key does not need a rewrap")
	}
}

// An instance that has not looked at the file since another sealed under the new key reloads
// when it meets that key.
func TestLiveOpenReloadsForUnknownKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault.key")
	reader, err := LiveFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RotateFile(path); err != nil {
		t.Fatal(err)
	}
	writer, err := LiveFile(path)
	if err != nil {
		t.Fatal(err)
	}
	aad := AAD("card", "m", "p")
	s, err := writer.SealText([]byte("x"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.OpenText(s, aad); err != nil {
		t.Fatalf("reader did not follow the key file: %v", err)
	}
}

func TestFixedDoesNotReload(t *testing.T) {
	kek, _ := GenerateKEK("only")
	k, _ := NewKeyring(kek)
	other, _ := GenerateKEK("other")
	ko, _ := NewKeyring(other)
	s, err := ko.Seal([]byte("x"), AAD("a"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Fixed(k).OpenText(s.String(), AAD("a"))
	if !errors.Is(err, ErrUnknownKEK) {
		t.Fatalf("open under an unknown key: %v", err)
	}
}

func TestRotateFileWhileSealing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault.key")
	l, err := LiveFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				aad := AAD("t", "m", string(rune('a'+g)))
				s, err := l.SealText([]byte("secret"), aad)
				if err == nil {
					_, err = l.OpenText(s, aad)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < 3; i++ {
		if _, err := RotateFile(path); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("seal/open during rotation: %v", err)
	}
	if n := len(idsOf(t, path)); n != 4 {
		t.Fatalf("%d keys after three rotations, want 4", n)
	}
}

func idsOf(t *testing.T, path string) []string {
	t.Helper()
	k, err := loadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return k.IDs()
}
