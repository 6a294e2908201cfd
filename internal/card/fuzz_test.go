package card

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func FuzzParseNumber(f *testing.F) {
	for _, c := range designCards {
		f.Add(c.pan)
	}
	for _, s := range []string{
		"", "0", "4242424242424241", "4242 4242 4242 4242", "00000000000000000000",
		"1800000000000000", "6062820000000000", "97920000000000000", "+4242424242424242",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNumber(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidNumber) && !errors.Is(err, ErrUnsupportedBrand) {
				t.Fatalf("ParseNumber(%q) returned an untyped error: %v", s, err)
			}
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q echoes the input", err)
			}
			return
		}
		if n.Digits() != s {
			t.Fatalf("Digits() = %q, want %q", n.Digits(), s)
		}
		if len(s) < minLen || len(s) > maxLen || !Luhn(s) {
			t.Fatalf("ParseNumber accepted %q", s)
		}
		if b, ok := DetectBrand(s); !ok || b != n.Brand() {
			t.Fatalf("Brand() = %q, DetectBrand = %q, %v", n.Brand(), b, ok)
		}
		if n.BIN() != s[:6] || n.LastFour() != s[len(s)-4:] {
			t.Fatalf("BIN %q / LastFour %q of %q", n.BIN(), n.LastFour(), s)
		}
		want := strings.Repeat("*", len(s)-4) + s[len(s)-4:]
		if n.Masked() != want {
			t.Fatalf("Masked() = %q, want %q", n.Masked(), want)
		}
		hidden := s[:len(s)-4]
		out := fmt.Sprintf("%v %+v %#v %s %q %x %d", n, n, n, n, n, n, n)
		if strings.Contains(out, hidden) {
			t.Fatalf("fmt leaks %q: %q", s, out)
		}
		b, err := json.Marshal(n)
		if err != nil || strings.Contains(string(b), hidden) {
			t.Fatalf("json leaks %q: %s, %v", s, b, err)
		}
	})
}
