package vault

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
)

// testKEK is a deterministic KEK whose bytes start at seed.
func testKEK(id string, seed byte) KEK {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = seed + byte(i)
	}
	return KEK{ID: id, Key: key}
}

func mustKeyring(t testing.TB, current KEK, older ...KEK) *Keyring {
	t.Helper()
	k, err := NewKeyring(current, older...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustSeal(t testing.TB, k *Keyring, plaintext, aad []byte) Sealed {
	t.Helper()
	s, err := k.Seal(plaintext, aad)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clone deep-copies s so tampering never aliases the original.
func clone(s Sealed) Sealed {
	return Sealed{
		KEKID:      s.KEKID,
		WrappedKey: bytes.Clone(s.WrappedKey),
		Nonce:      bytes.Clone(s.Nonce),
		Ciphertext: bytes.Clone(s.Ciphertext),
	}
}

func assertOpenFails(t *testing.T, what string, k *Keyring, s Sealed, aad []byte) {
	t.Helper()
	pt, err := k.Open(s, aad)
	if err == nil {
		t.Fatalf("%s: Open succeeded (%d bytes)", what, len(pt))
	}
	if !errors.Is(err, ErrOpen) {
		t.Fatalf("%s: error %v does not wrap ErrOpen", what, err)
	}
	if pt != nil {
		t.Fatalf("%s: Open returned data with its error", what)
	}
}

func TestRoundTrip(t *testing.T) {
	k := mustKeyring(t, testKEK("k2", 0xA0), testKEK("k1", 0x10))
	for _, tc := range []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"card number", []byte("0123456789012345"), AAD("merchant-1", "tok_1")},
		{"cvv", []byte("123"), AAD("merchant-1", "pay_1", "cvv")},
		{"empty plaintext", nil, AAD("m", "r")},
		{"binary", bytes.Repeat([]byte{0, 0xff, 0x7f}, 1000), []byte{0}},
		{"raw aad", []byte("x"), []byte("merchant-1/tok_1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSeal(t, k, tc.plaintext, tc.aad)
			if s.KEKID != "k2" {
				t.Errorf("KEKID = %q, want the current k2", s.KEKID)
			}
			if len(tc.plaintext) >= 3 && bytes.Contains(s.Ciphertext, tc.plaintext) {
				t.Error("ciphertext contains the plaintext")
			}
			if len(tc.plaintext) >= 3 && strings.Contains(s.String(), string(tc.plaintext)) {
				t.Error("text form contains the plaintext")
			}
			// Directly and through the text form.
			parsed, err := ParseSealed(s.String())
			if err != nil {
				t.Fatalf("ParseSealed(String()): %v", err)
			}
			for _, in := range []Sealed{s, parsed} {
				got, err := k.Open(in, tc.aad)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if !bytes.Equal(got, tc.plaintext) {
					t.Fatalf("Open = %q, want %q", got, tc.plaintext)
				}
			}
		})
	}
}

func TestSealIsFresh(t *testing.T) {
	k := mustKeyring(t, testKEK("k1", 1))
	aad := AAD("m", "r")
	a, b := mustSeal(t, k, []byte("same"), aad), mustSeal(t, k, []byte("same"), aad)
	if bytes.Equal(a.WrappedKey, b.WrappedKey) || bytes.Equal(a.Nonce, b.Nonce) || bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Error("two seals of the same plaintext share a field: data keys or nonces are not fresh")
	}
}

func TestSealNeedsAAD(t *testing.T) {
	k := mustKeyring(t, testKEK("k1", 1))
	for _, aad := range [][]byte{nil, {}} {
		if _, err := k.Seal([]byte("x"), aad); !errors.Is(err, ErrNoAAD) {
			t.Errorf("Seal(aad=%v) error = %v, want ErrNoAAD", aad, err)
		}
	}
	var empty *Keyring
	if _, err := empty.Seal([]byte("x"), []byte("a")); err == nil {
		t.Error("nil keyring sealed")
	}
}

func TestWrongAADFails(t *testing.T) {
	k := mustKeyring(t, testKEK("k1", 1))
	sealedAAD := AAD("merchant-1", "tok_1")
	s := mustSeal(t, k, []byte("secret"), sealedAAD)
	for _, tc := range []struct {
		name string
		aad  []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"another record", AAD("merchant-1", "tok_2")},
		{"another merchant", AAD("merchant-2", "tok_1")},
		{"parts shifted", AAD("merchant-1t", "ok_1")},
		{"parts concatenated", []byte("merchant-1tok_1")},
		{"prefix", sealedAAD[:len(sealedAAD)-1]},
		{"extended", append(bytes.Clone(sealedAAD), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) { assertOpenFails(t, tc.name, k, s, tc.aad) })
	}
}

// A ciphertext copied into another row (another merchant or token) cannot be opened there,
// whole or in parts.
func TestMovedToAnotherRecordFails(t *testing.T) {
	k := mustKeyring(t, testKEK("k1", 1))
	rowA, rowB := AAD("merchant-1", "tok_A"), AAD("merchant-1", "tok_B")
	rowC := AAD("merchant-2", "tok_A")
	a := mustSeal(t, k, []byte("card A"), rowA)
	b := mustSeal(t, k, []byte("card B"), rowB)

	moved := map[string]struct {
		s   Sealed
		aad []byte
	}{
		"whole record to another token":           {a, rowB},
		"whole record to another merchant":        {a, rowC},
		"B's wrapped key with A's data":           {Sealed{a.KEKID, b.WrappedKey, a.Nonce, a.Ciphertext}, rowA},
		"B's nonce with A's data":                 {Sealed{a.KEKID, a.WrappedKey, b.Nonce, a.Ciphertext}, rowA},
		"B's ciphertext in A's envelope":          {Sealed{a.KEKID, a.WrappedKey, a.Nonce, b.Ciphertext}, rowA},
		"B's ciphertext in A's envelope, B's aad": {Sealed{a.KEKID, a.WrappedKey, a.Nonce, b.Ciphertext}, rowB},
	}
	for name, tc := range moved {
		t.Run(name, func(t *testing.T) { assertOpenFails(t, name, k, tc.s, tc.aad) })
	}
	// The originals still open in place.
	for _, tc := range []struct {
		s   Sealed
		aad []byte
	}{{a, rowA}, {b, rowB}} {
		if _, err := k.Open(tc.s, tc.aad); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEveryFlippedByteFails(t *testing.T) {
	k := mustKeyring(t, testKEK("k1", 1))
	aad := AAD("merchant-1", "tok_1")
	orig := mustSeal(t, k, []byte("0123456789012345"), aad)
	fields := []struct {
		name string
		get  func(*Sealed) []byte
	}{
		{"WrappedKey", func(s *Sealed) []byte { return s.WrappedKey }},
		{"Nonce", func(s *Sealed) []byte { return s.Nonce }},
		{"Ciphertext", func(s *Sealed) []byte { return s.Ciphertext }},
	}
	for _, f := range fields {
		t.Run(f.name, func(t *testing.T) {
			n := len(f.get(&orig))
			for i := 0; i < n; i++ {
				for _, mask := range []byte{0x01, 0x80, 0xff} {
					s := clone(orig)
					f.get(&s)[i] ^= mask
					assertOpenFails(t, f.name, k, s, aad)
					// The text form carries the tampering too.
					p, err := ParseSealed(s.String())
					if err != nil {
						t.Fatal(err)
					}
					assertOpenFails(t, f.name+" via text", k, p, aad)
				}
			}
			// Truncated and extended fields fail as well.
			s := clone(orig)
			switch f.name {
			case "WrappedKey":
				s.WrappedKey = s.WrappedKey[:n-1]
			case "Nonce":
				s.Nonce = s.Nonce[:n-1]
			case "Ciphertext":
				s.Ciphertext = s.Ciphertext[:n-1]
			}
			assertOpenFails(t, f.name+" truncated", k, s, aad)
			s = clone(orig)
			switch f.name {
			case "WrappedKey":
				s.WrappedKey = append(s.WrappedKey, 0)
			case "Nonce":
				s.Nonce = append(s.Nonce, 0)
			case "Ciphertext":
				s.Ciphertext = append(s.Ciphertext, 0)
			}
			assertOpenFails(t, f.name+" extended", k, s, aad)
		})
	}
	if _, err := k.Open(orig, aad); err != nil {
		t.Fatalf("original no longer opens: %v", err)
	}
}

func TestUnknownKEKFails(t *testing.T) {
	aad := AAD("m", "r")
	sealer := mustKeyring(t, testKEK("k1", 1))
	s := mustSeal(t, sealer, []byte("secret"), aad)

	for _, tc := range []struct {
		name    string
		k       *Keyring
		s       Sealed
		unknown bool
	}{
		{"keyring without k1", mustKeyring(t, testKEK("k2", 1+KeySize)), s, true},
		{"same bytes under another id", mustKeyring(t, testKEK("k2", 1)), s, true},
		{"record relabelled to another id holding the same bytes", mustKeyring(t, testKEK("k1", 1), testKEK("k2", 1)), Sealed{"k2", s.WrappedKey, s.Nonce, s.Ciphertext}, false},
		{"record relabelled to an unknown id", sealer, Sealed{"k9", s.WrappedKey, s.Nonce, s.Ciphertext}, true},
		{"empty id", sealer, Sealed{"", s.WrappedKey, s.Nonce, s.Ciphertext}, true},
		{"same id, other key bytes", mustKeyring(t, testKEK("k1", 2)), s, false},
		{"nil keyring", nil, s, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertOpenFails(t, tc.name, tc.k, tc.s, aad)
			_, err := tc.k.Open(tc.s, aad)
			if got := errors.Is(err, ErrUnknownKEK); tc.unknown && !got {
				t.Errorf("error %v does not wrap ErrUnknownKEK", err)
			}
		})
	}
}

func TestRewrap(t *testing.T) {
	aad1, aad2 := AAD("m", "tok_1"), AAD("m", "tok_2")
	oldKEK, newKEK := testKEK("old", 0x10), testKEK("new", 0xA0)

	before := mustKeyring(t, oldKEK)
	rotated := mustSeal(t, before, []byte("card one"), aad1)
	leftBehind := mustSeal(t, before, []byte("card two"), aad2)

	during := mustKeyring(t, newKEK, oldKEK) // new seals and wraps, old still opens
	if !during.NeedsRewrap(rotated) || during.NeedsRewrap(mustSeal(t, during, []byte("x"), aad1)) {
		t.Error("NeedsRewrap wrong")
	}
	r, err := during.Rewrap(rotated)
	if err != nil {
		t.Fatal(err)
	}
	if r.KEKID != "new" {
		t.Errorf("rewrapped KEKID = %q, want new", r.KEKID)
	}
	if !bytes.Equal(r.Ciphertext, rotated.Ciphertext) || !bytes.Equal(r.Nonce, rotated.Nonce) {
		t.Error("Rewrap touched the ciphertext or nonce")
	}
	if bytes.Equal(r.WrappedKey, rotated.WrappedKey) {
		t.Error("Rewrap did not change the wrapped key")
	}
	if during.NeedsRewrap(r) {
		t.Error("rewrapped record still needs rewrap")
	}

	// Already under the current KEK: returned unchanged (same backing arrays).
	again, err := during.Rewrap(r)
	if err != nil {
		t.Fatal(err)
	}
	if again.KEKID != r.KEKID || &again.WrappedKey[0] != &r.WrappedKey[0] || &again.Ciphertext[0] != &r.Ciphertext[0] {
		t.Error("Rewrap of a current record did not return it unchanged")
	}

	for _, tc := range []struct {
		name string
		k    *Keyring
		s    Sealed
		aad  []byte
		want string // "" = must fail
	}{
		{"during: rewrapped opens", during, r, aad1, "card one"},
		{"during: not yet rewrapped opens", during, leftBehind, aad2, "card two"},
		{"after (old dropped): rewrapped opens", mustKeyring(t, newKEK), r, aad1, "card one"},
		{"after (old dropped): not rewrapped fails", mustKeyring(t, newKEK), leftBehind, aad2, ""},
		{"old keyring alone cannot open the rewrapped", before, r, aad1, ""},
		{"rewrapped, moved to another record", during, r, aad2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.k.Open(tc.s, tc.aad)
			if tc.want == "" {
				assertOpenFails(t, tc.name, tc.k, tc.s, tc.aad)
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("Open = %q, %v; want %q", got, err, tc.want)
			}
		})
	}

	// Rewrap through a chain old -> mid -> new.
	mid := testKEK("mid", 0x50)
	m, err := mustKeyring(t, mid, oldKEK).Rewrap(leftBehind)
	if err != nil {
		t.Fatal(err)
	}
	n, err := mustKeyring(t, newKEK, mid).Rewrap(m)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := mustKeyring(t, newKEK).Open(n, aad2); err != nil || string(got) != "card two" {
		t.Fatalf("after two rotations: %q, %v", got, err)
	}
}

func TestRewrapFailures(t *testing.T) {
	aad := AAD("m", "r")
	oldKEK, newKEK := testKEK("old", 0x10), testKEK("new", 0xA0)
	s := mustSeal(t, mustKeyring(t, oldKEK), []byte("secret"), aad)
	during := mustKeyring(t, newKEK, oldKEK)

	for i := range s.WrappedKey {
		bad := clone(s)
		bad.WrappedKey[i] ^= 1
		if _, err := during.Rewrap(bad); !errors.Is(err, ErrOpen) {
			t.Fatalf("Rewrap with wrapped key byte %d flipped: %v", i, err)
		}
	}
	if _, err := mustKeyring(t, newKEK).Rewrap(s); !errors.Is(err, ErrUnknownKEK) {
		t.Errorf("Rewrap without the old KEK: %v", err)
	}
	for name, bad := range map[string]Sealed{
		"short nonce":      {s.KEKID, s.WrappedKey, s.Nonce[:4], s.Ciphertext},
		"short ciphertext": {s.KEKID, s.WrappedKey, s.Nonce, s.Ciphertext[:3]},
		"short wrapped":    {s.KEKID, s.WrappedKey[:10], s.Nonce, s.Ciphertext},
		"zero":             {},
	} {
		if _, err := during.Rewrap(bad); !errors.Is(err, ErrOpen) {
			t.Errorf("Rewrap(%s) = %v, want ErrOpen", name, err)
		}
	}
	// Rewrap checks the wrapping only; a tampered ciphertext is caught by Open.
	bad := clone(s)
	bad.Ciphertext[0] ^= 1
	r, err := during.Rewrap(bad)
	if err != nil {
		t.Fatal(err)
	}
	assertOpenFails(t, "tampered then rewrapped", during, r, aad)
}

// The keyring owns copies of the key material: zeroing the caller's slices changes nothing.
func TestKeyringDoesNotAliasKeys(t *testing.T) {
	kek := testKEK("k1", 1)
	k := mustKeyring(t, kek)
	clear(kek.Key)
	s := mustSeal(t, k, []byte("x"), []byte("a"))
	if _, err := mustKeyring(t, testKEK("k1", 1)).Open(s, []byte("a")); err != nil {
		t.Fatalf("sealed under a zeroed key: %v", err)
	}
}

// testdata/v1.vector was sealed by an earlier build; stored records must stay readable.
func TestV1Vector(t *testing.T) {
	f, err := os.Open("testdata/v1.vector")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, _ := strings.Cut(line, ": ")
		v[key] = val
	}
	k, err := ParseKeys(v["keys"])
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSealed(v["sealed"])
	if err != nil {
		t.Fatal(err)
	}
	if s.String() != v["sealed"] {
		t.Errorf("String() does not reproduce the stored text")
	}
	aad := AAD(v["aad-merchant"], v["aad-record"])
	got, err := k.Open(s, aad)
	if err != nil || string(got) != v["plaintext"] {
		t.Fatalf("Open = %q, %v; want %q", got, err, v["plaintext"])
	}
	// And it rotates.
	r, err := mustKeyring(t, testKEK("new", 0xA0), testKEK("old-2024", 0x10)).Rewrap(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := mustKeyring(t, testKEK("new", 0xA0)).Open(r, aad); err != nil || string(got) != v["plaintext"] {
		t.Fatalf("after rewrap: %q, %v", got, err)
	}
}

func TestAAD(t *testing.T) {
	distinct := [][]string{{"ab", "c"}, {"a", "bc"}, {"abc"}, {"abc", ""}, {"", "abc"}, {}, {""}, {"", ""}}
	seen := map[string][]string{}
	for _, parts := range distinct {
		key := string(AAD(parts...))
		if prev, ok := seen[key]; ok {
			t.Errorf("AAD(%q) == AAD(%q)", parts, prev)
		}
		seen[key] = parts
	}
}

func TestConcurrentUse(t *testing.T) {
	oldKEK, newKEK := testKEK("old", 0x10), testKEK("new", 0xA0)
	old := mustKeyring(t, oldKEK)
	k := mustKeyring(t, newKEK, oldKEK)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				aad := AAD("m", string(rune('a'+g)), string(rune(i)))
				s, err := old.Seal([]byte("payload"), aad)
				if err != nil {
					t.Error(err)
					return
				}
				r, err := k.Rewrap(s)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := k.Open(r, aad); err != nil || string(got) != "payload" {
					t.Errorf("Open = %q, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

var benchPlaintext = []byte("0123456789012345")

func BenchmarkSeal(b *testing.B) {
	k := mustKeyring(b, testKEK("k1", 1))
	aad := AAD("merchant-1", "tok_1")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(benchPlaintext, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := mustKeyring(b, testKEK("k1", 1))
	aad := AAD("merchant-1", "tok_1")
	s := mustSeal(b, k, benchPlaintext, aad)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(s, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRewrap(b *testing.B) {
	oldKEK := testKEK("old", 1)
	s := mustSeal(b, mustKeyring(b, oldKEK), benchPlaintext, AAD("m", "r"))
	k := mustKeyring(b, testKEK("new", 0xA0), oldKEK)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Rewrap(s); err != nil {
			b.Fatal(err)
		}
	}
}
