package vault

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// detSeal seals with a fixed random stream: fuzz workers run the target again in their own
// process, and must make the very seeds the coordinator made.
func detSeal(t testing.TB, k *Keyring, seed uint64, plaintext, aad []byte) Sealed {
	t.Helper()
	var key [32]byte
	key[0] = byte(seed)
	s, err := k.seal(rand.NewChaCha8(key), plaintext, aad)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func FuzzParseSealed(f *testing.F) {
	k := mustKeyring(f, testKEK("k1", 1))
	seeds := map[string]bool{}
	for i, pt := range []string{"", "x", "0123456789012345"} {
		text := detSeal(f, k, uint64(i), []byte(pt), []byte("a")).String()
		seeds[text] = true
		f.Add(text)
	}
	for _, s := range []string{"", ".", "....", "v1....", "v1.k1.AA.AA.AA", "v2.k1.a.b.c", "v1.k!.a.b.c", "v1.k1.====.a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSealed(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			if !s.IsZero() {
				t.Fatal("error with a non-zero Sealed")
			}
			return
		}
		// Accepted text is canonical: it is exactly what String writes back.
		if s.String() != text {
			t.Fatalf("String() = %q, parsed from %q", s.String(), text)
		}
		if err := s.checkShape(); err != nil {
			t.Fatalf("accepted a malformed record: %v", err)
		}
		// Opening what the fuzzer made up never panics and never succeeds unless it is a seed.
		if _, err := k.Open(s, []byte("a")); err == nil && !seeds[text] {
			t.Fatalf("opened a forged record %q", text)
		}
	})
}

// FuzzOpen feeds Open and Rewrap arbitrary records and aad: they never panic, never open a record
// that this test did not seal, and Rewrap preserves openability.
func FuzzOpen(f *testing.F) {
	oldKEK, newKEK := testKEK("old", 0x10), testKEK("new", 0xA0)
	old := mustKeyring(f, oldKEK)
	k := mustKeyring(f, newKEK, oldKEK)

	type seed struct {
		s         Sealed
		aad, want []byte
	}
	seeds := []seed{}
	for i, tc := range []struct {
		k   *Keyring
		pt  string
		aad []byte
	}{
		{old, "0123456789012345", AAD("m1", "tok_1")},
		{k, "", AAD("m1", "tok_2")},
		{k, "123", []byte{0}},
	} {
		s := detSeal(f, tc.k, uint64(i), []byte(tc.pt), tc.aad)
		seeds = append(seeds, seed{s, tc.aad, []byte(tc.pt)})
		f.Add(s.KEKID, s.WrappedKey, s.Nonce, s.Ciphertext, tc.aad)
	}
	f.Add("", []byte{}, []byte{}, []byte{}, []byte{})
	f.Add("old", make([]byte, wrappedSize), make([]byte, nonceSize), make([]byte, tagSize), []byte("a"))
	f.Add("nope", make([]byte, wrappedSize), make([]byte, nonceSize), make([]byte, 100), []byte("a"))

	known := func(s Sealed, aad []byte) []byte {
		for _, sd := range seeds {
			if s.KEKID == sd.s.KEKID && bytes.Equal(s.WrappedKey, sd.s.WrappedKey) && bytes.Equal(s.Nonce, sd.s.Nonce) &&
				bytes.Equal(s.Ciphertext, sd.s.Ciphertext) && bytes.Equal(aad, sd.aad) {
				return sd.want
			}
		}
		return nil
	}

	f.Fuzz(func(t *testing.T, kekID string, wrapped, nonce, ct, aad []byte) {
		s := Sealed{KEKID: kekID, WrappedKey: wrapped, Nonce: nonce, Ciphertext: ct}
		pt, err := k.Open(s, aad)
		if err == nil {
			want := known(s, aad)
			if want == nil {
				t.Fatalf("opened a record this test did not seal: %+v", s)
			}
			if !bytes.Equal(pt, want) {
				t.Fatalf("Open = %q, want %q", pt, want)
			}
		} else if !errors.Is(err, ErrOpen) {
			t.Fatalf("untyped error %v", err)
		}
		r, rerr := k.Rewrap(s)
		if rerr != nil {
			if !errors.Is(rerr, ErrOpen) {
				t.Fatalf("untyped Rewrap error %v", rerr)
			}
			if err == nil {
				t.Fatalf("Rewrap failed (%v) on a record that opens", rerr)
			}
			return
		}
		pt2, err2 := k.Open(r, aad)
		if (err == nil) != (err2 == nil) || !bytes.Equal(pt, pt2) {
			t.Fatalf("Rewrap changed openability: before %v, after %v", err, err2)
		}
		if err2 == nil && r.KEKID != k.CurrentID() {
			t.Fatalf("rewrapped under %q", r.KEKID)
		}
		// The text form round-trips whatever Rewrap accepted.
		if err2 == nil {
			p, perr := ParseSealed(r.String())
			if perr != nil {
				t.Fatalf("ParseSealed(rewrapped): %v", perr)
			}
			if pt3, err3 := mustKeyring(t, newKEK).Open(p, aad); err3 != nil || !bytes.Equal(pt3, pt) {
				t.Fatalf("new key alone: %q, %v", pt3, err3)
			}
		}
	})
}
