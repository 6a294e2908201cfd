package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	key1   = testKEK("k1", 0x10).Key
	key2   = testKEK("k2", 0xA0).Key
	b64k1  = base64.StdEncoding.EncodeToString(key1)
	b64k2  = base64.StdEncoding.EncodeToString(key2)
	short  = base64.StdEncoding.EncodeToString(key1[:16])
	long   = base64.StdEncoding.EncodeToString(append(bytes.Clone(key1), 0))
	id33   = strings.Repeat("a", 33)
	id32   = strings.Repeat("a", 32)
	b64url = base64.RawURLEncoding.EncodeToString(key2)
)

func TestNewKeyring(t *testing.T) {
	for _, tc := range []struct {
		name    string
		current KEK
		older   []KEK
		ok      bool
	}{
		{"one key", KEK{"k1", key1}, nil, true},
		{"current and older", KEK{"k2", key2}, []KEK{{"k1", key1}}, true},
		{"id of 32 with all classes", KEK{"aZ09_-" + id32[6:], key1}, nil, true},
		{"same bytes, two ids", KEK{"a", key1}, []KEK{{"b", key1}}, true},
		{"empty id", KEK{"", key1}, nil, false},
		{"id too long", KEK{id33, key1}, nil, false},
		{"id with dot", KEK{"k.1", key1}, nil, false},
		{"id with colon", KEK{"k:1", key1}, nil, false},
		{"id with space", KEK{"k 1", key1}, nil, false},
		{"id non-ascii", KEK{"clé", key1}, nil, false},
		{"nil key", KEK{"k1", nil}, nil, false},
		{"16-byte key", KEK{"k1", key1[:16]}, nil, false},
		{"33-byte key", KEK{"k1", append(bytes.Clone(key1), 1)}, nil, false},
		{"duplicate id", KEK{"k1", key1}, []KEK{{"k1", key2}}, false},
		{"bad older", KEK{"k1", key1}, []KEK{{"k2", key2[:31]}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewKeyring(tc.current, tc.older...)
			if tc.ok != (err == nil) {
				t.Fatalf("NewKeyring: %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidKeys) {
					t.Errorf("error %v does not wrap ErrInvalidKeys", err)
				}
				assertNoKey(t, "error", err.Error(), key1, key2)
				return
			}
			if k.CurrentID() != tc.current.ID || !k.Has(tc.current.ID) {
				t.Errorf("CurrentID = %q", k.CurrentID())
			}
			if got := len(k.IDs()); got != 1+len(tc.older) {
				t.Errorf("IDs = %v", k.IDs())
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		current string
		ids     []string
	}{
		{"one", "k1:" + b64k1, "k1", []string{"k1"}},
		{"first is current", "k2:" + b64k2 + ",k1:" + b64k1, "k2", []string{"k2", "k1"}},
		{"spaces and newline", "  k2 : " + b64k2 + " ,\tk1:" + b64k1 + "\n", "k2", []string{"k2", "k1"}},
		{"url-safe unpadded", "k2:" + b64url, "k2", []string{"k2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKeys(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if k.CurrentID() != tc.current || fmt.Sprint(k.IDs()) != fmt.Sprint(tc.ids) {
				t.Errorf("current %q ids %v, want %q %v", k.CurrentID(), k.IDs(), tc.current, tc.ids)
			}
		})
	}

	// The parsed keys are the configured bytes: interoperates with NewKeyring.
	k, err := ParseKeys("k2:" + b64k2 + ",k1:" + b64k1)
	if err != nil {
		t.Fatal(err)
	}
	s := mustSeal(t, k, []byte("x"), []byte("a"))
	if _, err := mustKeyring(t, KEK{"k2", key2}).Open(s, []byte("a")); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"blank", "  \n"},
		{"lone comma", ","},
		{"trailing comma", "k1:" + b64k1 + ","},
		{"empty middle entry", "k1:" + b64k1 + ",,k2:" + b64k2},
		{"no colon", b64k1},
		{"no key", "k1:"},
		{"no id", ":" + b64k1},
		{"bad id", "k.1:" + b64k1},
		{"id too long", id33 + ":" + b64k1},
		{"bad base64", "k1:" + b64k1[:20] + "!!" + b64k1[22:]},
		{"base64 with inner space", "k1:" + b64k1[:20] + " " + b64k1[20:]},
		{"non-canonical base64", "k1:" + b64k1[:42] + "9="},
		{"short key", "k1:" + short},
		{"long key", "k1:" + long},
		{"duplicate ids", "k1:" + b64k1 + ",k1:" + b64k2},
		{"second entry bad", "k1:" + b64k1 + ",k2:" + short},
		{"key and id swapped", b64k1 + ":k1"},
	} {
		t.Run("error/"+tc.name, func(t *testing.T) {
			k, err := ParseKeys(tc.in)
			if err == nil {
				t.Fatalf("ParseKeys accepted it: %v", k)
			}
			if !errors.Is(err, ErrInvalidKeys) {
				t.Errorf("error %v does not wrap ErrInvalidKeys", err)
			}
			assertNoKey(t, "error", err.Error(), key1, key2)
			for _, part := range []string{b64k1, b64k2, short, long, b64k1[:20]} {
				if strings.Contains(err.Error(), part) {
					t.Errorf("error %q echoes key material", err)
				}
			}
		})
	}
}

func TestGenerateAndEncodeKeys(t *testing.T) {
	a, err := GenerateKEK("new")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateKEK("new2")
	if len(a.Key) != KeySize || bytes.Equal(a.Key, b.Key) {
		t.Fatal("generated keys are not fresh 32-byte keys")
	}
	line, err := EncodeKeys(a, KEK{"k1", key1})
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKeys(line)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(k.IDs()) != "[new k1]" {
		t.Errorf("IDs = %v", k.IDs())
	}
	if _, err := GenerateKEK("bad id"); !errors.Is(err, ErrInvalidKeys) {
		t.Errorf("GenerateKEK(bad id) = %v", err)
	}
	if _, err := EncodeKeys(); err == nil {
		t.Error("EncodeKeys() with no keys succeeded")
	}
	if _, err := EncodeKeys(KEK{"k1", key1}, KEK{"k1", key2}); err == nil {
		t.Error("EncodeKeys with duplicate ids succeeded")
	}
}

func TestLoadOrCreateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cardgate.vault-key")

	k1, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	content, _ := os.ReadFile(path)
	if strings.Count(string(content), "\n") != 1 || !strings.HasPrefix(string(content), k1.CurrentID()+":") {
		t.Errorf("key file is not one line %q:<key>", k1.CurrentID())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file", len(entries))
	}

	aad := AAD("m", "r")
	s := mustSeal(t, k1, []byte("secret"), aad)
	k2, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if k2.CurrentID() != k1.CurrentID() {
		t.Errorf("reloaded id %q, created %q", k2.CurrentID(), k1.CurrentID())
	}
	if got, err := k2.Open(s, aad); err != nil || string(got) != "secret" {
		t.Fatalf("reloaded keyring cannot open: %q, %v", got, err)
	}
	if fi2, _ := os.Stat(path); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("reload rewrote the key file")
	}
	// Printing the keyring never shows the file's key.
	b64 := strings.TrimSpace(strings.SplitN(string(content), ":", 2)[1])
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", k1, k1, k1, k1), fmt.Sprintf("%#v", *k1)} {
		if strings.Contains(out, b64) {
			t.Errorf("keyring print shows the key: %q", out)
		}
	}
}

func TestLoadOrCreateFileExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	if err := os.WriteFile(path, []byte("k2:"+b64k2+",k1:"+b64k1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(k.IDs()) != "[k2 k1]" {
		t.Errorf("IDs = %v", k.IDs())
	}

	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("k1:"+short+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateFile(bad); err == nil || strings.Contains(err.Error(), short) {
		t.Errorf("bad key file: %v", err)
	}
	if b, _ := os.ReadFile(bad); string(b) != "k1:"+short+"\n" {
		t.Error("a bad key file was overwritten")
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateFile(empty); err == nil {
		t.Error("an empty key file was accepted")
	}
	if _, err := LoadOrCreateFile(filepath.Join(dir, "missing-dir", "keys")); err == nil {
		t.Error("created a key file in a missing directory")
	}
}

func TestLoadOrCreateFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	const n = 16
	rings := make([]*Keyring, n)
	var wg sync.WaitGroup
	for i := range rings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := LoadOrCreateFile(path)
			if err != nil {
				t.Error(err)
			}
			rings[i] = k
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	s := mustSeal(t, rings[0], []byte("x"), []byte("a"))
	for i, k := range rings {
		if _, err := k.Open(s, []byte("a")); err != nil {
			t.Fatalf("caller %d got another key (%s vs %s): %v", i, k.CurrentID(), rings[0].CurrentID(), err)
		}
	}
}

// assertNoKey fails if out shows any usual rendering of a key.
func assertNoKey(t *testing.T, what, out string, keys ...[]byte) {
	t.Helper()
	for _, key := range keys {
		dec := strings.Trim(fmt.Sprint(key[:8]), "[]")
		for _, form := range []string{
			base64.StdEncoding.EncodeToString(key),
			base64.RawStdEncoding.EncodeToString(key),
			base64.URLEncoding.EncodeToString(key),
			base64.RawURLEncoding.EncodeToString(key)[:16],
			base64.StdEncoding.EncodeToString(key)[:16],
			hex.EncodeToString(key[:8]),
			strings.ToUpper(hex.EncodeToString(key[:8])),
			string(key[:8]),
			dec,
			strings.ReplaceAll(dec, " ", ", "),
			fmt.Sprintf("%#x", key[0]) + ", " + fmt.Sprintf("%#x", key[1]),
		} {
			if strings.Contains(out, form) {
				t.Errorf("%s shows key material (%q): %q", what, form, out)
			}
		}
	}
}

type withKEK struct {
	Name string
	KEK  KEK
}

type withKeyring struct {
	Ring  Keyring
	RingP *Keyring
	ring  Keyring // unexported: printed by reflection, must still show no key
}

func TestPrintingShowsIDsOnly(t *testing.T) {
	k1, k2 := KEK{"k1", key1}, KEK{"k2", key2}
	ring := mustKeyring(t, k2, k1)
	values := map[string]any{
		"KEK":                 k1,
		"*KEK":                &k1,
		"[]KEK":               []KEK{k1, k2},
		"map[string]KEK":      map[string]KEK{"a": k1},
		"struct with KEK":     withKEK{"x", k1},
		"*struct with KEK":    &withKEK{"x", k1},
		"*Keyring":            ring,
		"Keyring":             *ring,
		"[]*Keyring":          []*Keyring{ring},
		"struct with Keyring": withKeyring{*ring, ring, *ring},
		"any slice":           []any{k1, ring, *ring},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b", "%c", "%U", "%60v", "%-60s", "%T %v"}
	for name, v := range values {
		for _, verb := range verbs {
			assertNoKey(t, fmt.Sprintf("Sprintf(%q, %s)", verb, name), fmt.Sprintf(verb, v), key1, key2)
		}
		assertNoKey(t, "Sprint "+name, fmt.Sprint(v), key1, key2)
		assertNoKey(t, "Sprintln "+name, fmt.Sprintln(v), key1, key2)

		j, err := json.Marshal(v)
		if err == nil {
			assertNoKey(t, "json "+name, string(j), key1, key2)
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "v", v)
		assertNoKey(t, "slog "+name, buf.String(), key1, key2)
	}

	// What they do show.
	for _, tc := range []struct{ got, want string }{
		{fmt.Sprintf("%v", k1), "KEK(k1)"},
		{fmt.Sprintf("%+v", k1), "KEK(k1)"},
		{fmt.Sprintf("%s", &k1), "KEK(k1)"},
		{fmt.Sprintf("%#v", k1), `vault.KEK{ID:"k1", Key:<redacted>}`},
		{fmt.Sprintf("%q", k1), `"KEK(k1)"`},
		{fmt.Sprintf("%v", ring), "Keyring(current=k2 older=[k1])"},
		{fmt.Sprintf("%+v", *ring), "Keyring(current=k2 older=[k1])"},
		{fmt.Sprintf("%#v", ring), `vault.Keyring{IDs:[]string{"k2", "k1"}}`},
		{fmt.Sprintf("%10v|%-10v|", k1, k1), "   KEK(k1)|KEK(k1)   |"},
		{mustJSON(t, k1), `{"id":"k1"}`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSealedPrinting(t *testing.T) {
	k := mustKeyring(t, testKEK("k1", 1))
	s := mustSeal(t, k, []byte("plaintext-marker"), []byte("a"))
	text := s.String()
	if !strings.HasPrefix(text, "v1.k1.") || strings.Count(text, ".") != 4 {
		t.Errorf("String() = %q", text)
	}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprintf("%v", &s)} {
		if !strings.Contains(out, text) || strings.Contains(out, "plaintext-marker") {
			t.Errorf("printed Sealed = %q", out)
		}
	}
	if !(Sealed{}).IsZero() || s.IsZero() {
		t.Error("IsZero wrong")
	}
}

func TestParseSealed(t *testing.T) {
	k := mustKeyring(t, testKEK("k1", 1))
	s := mustSeal(t, k, []byte("secret"), []byte("a"))
	parts := strings.Split(s.String(), ".")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, ".")
	}
	enc := base64.RawURLEncoding.EncodeToString

	got, err := ParseSealed(s.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != s.String() || got.KEKID != s.KEKID || !bytes.Equal(got.Ciphertext, s.Ciphertext) {
		t.Error("ParseSealed(String()) differs")
	}

	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"version only", "v1"},
		{"four fields", strings.Join(parts[:4], ".")},
		{"six fields", s.String() + ".x"},
		{"other version", with(0, "v2")},
		{"no version", with(0, "")},
		{"empty id", with(1, "")},
		{"bad id", with(1, "k!")},
		{"id too long", with(1, id33)},
		{"padded base64", with(4, parts[4]+"==")},
		{"std base64 alphabet", with(3, strings.Repeat("+", 16))},
		{"non-canonical base64", with(4, nonCanonical(parts[4]))},
		{"line break inside", with(2, parts[2][:10]+"\n"+parts[2][10:])},
		{"bad base64 wrapped", with(2, "*"+parts[2][1:])},
		{"bad base64 nonce", with(3, "%%")},
		{"bad base64 ciphertext", with(4, "a")},
		{"wrapped too short", with(2, enc(s.WrappedKey[:wrappedSize-1]))},
		{"wrapped too long", with(2, enc(append(bytes.Clone(s.WrappedKey), 0)))},
		{"nonce too short", with(3, enc(s.Nonce[:11]))},
		{"nonce too long", with(3, enc(append(bytes.Clone(s.Nonce), 0)))},
		{"ciphertext shorter than a tag", with(4, enc(s.Ciphertext[:tagSize-1]))},
		{"empty fields", "v1.k1..."},
		{"whitespace", " " + s.String()},
		{"trailing newline", s.String() + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSealed(tc.in)
			if err == nil {
				t.Fatalf("ParseSealed accepted %q: %v", tc.in, got)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !got.IsZero() {
				t.Error("error with a non-zero Sealed")
			}
		})
	}
}

// nonCanonical sets a padding bit in the last character of an unpadded base64url text whose
// length leaves spare bits: the decoders that are not strict map it to the same bytes.
func nonCanonical(enc string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(enc)%4 == 0 {
		panic("no spare bits")
	}
	last := strings.IndexByte(alphabet, enc[len(enc)-1])
	return enc[:len(enc)-1] + string(alphabet[last|1])
}

// TestReadKeyFile: the keys a sandbox moves from its key file into its database, in the file's
// order (the current first); errors name the file, never a key.
func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		content *string // nil: no file
		wantIDs string
		wantErr error
	}{
		{"two keys, the first current", ptr("k1:" + b64k1 + ",k2:" + b64k2 + "\n"), "k1,k2", nil},
		{"one key", ptr("k2:" + b64url), "k2", nil},
		{"no file", nil, "", os.ErrNotExist},
		{"empty file", ptr(""), "", ErrInvalidKeys},
		{"short key", ptr("k1:" + short), "", ErrInvalidKeys},
		{"duplicate ids", ptr("k1:" + b64k1 + ",k1:" + b64k2), "", ErrInvalidKeys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".key")
			if tc.content != nil {
				if err := os.WriteFile(path, []byte(*tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			keys, err := ReadKeyFile(path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				for _, k := range []string{b64k1, b64k2, short} {
					if strings.Contains(err.Error(), k) {
						t.Errorf("error %q shows a key", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(keys))
			for i, k := range keys {
				ids[i] = k.ID
				if len(k.Key) != KeySize {
					t.Errorf("key %s is %d bytes", k.ID, len(k.Key))
				}
			}
			if got := strings.Join(ids, ","); got != tc.wantIDs {
				t.Errorf("ids %s, want %s", got, tc.wantIDs)
			}
			if !bytes.Equal(keys[len(keys)-1].Key, key2) {
				t.Errorf("the last key's bytes differ from the file's")
			}
		})
	}
}

func ptr(s string) *string { return &s }
