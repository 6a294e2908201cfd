package localid

import (
	"errors"
	"testing"
)

func TestCPF(t *testing.T) {
	for _, tc := range []struct {
		in, digits string
		err        error
	}{
		{"52998224725", "52998224725", nil},
		{"111.444.777-35", "11144477735", nil},
		{"12345678909", "12345678909", nil},
		{"52998224726", "", ErrCheckDigit}, // second check digit off by one
		{"52998224715", "", ErrCheckDigit}, // first check digit off by one
		{"00000000000", "", ErrRepeated},   // passes the arithmetic, never issued
		{"99999999999", "", ErrRepeated},
		{"5299822472", "", ErrLength},
		{"529982247250", "", ErrLength},
		{"", "", ErrLength},
		{"5299822472a", "", ErrNotDigits},
		{"529.982.247/25", "", ErrLength}, // not the printed form: the separators are not stripped
		{"529 982 247 25", "", ErrLength},
	} {
		got, err := CPF(tc.in)
		if !errors.Is(err, tc.err) || got != tc.digits {
			t.Errorf("CPF(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.digits, tc.err)
		}
	}
}

func TestKRBusinessNo(t *testing.T) {
	for _, tc := range []struct {
		in  string
		err error
	}{
		{"1248100998", nil}, // 124-81-00998, a published registration number
		{"2208162517", nil},
		{"1018100340", nil}, // ninth digit 4: the tens of 4·5 count
		{"1248100999", ErrCheckDigit},
		{"1234567890", ErrCheckDigit},
		{"124-81-00998", ErrLength}, // the seed asks for the 10 digits
		{"124810099", ErrLength},
		{"", ErrLength},
		{"12481009x8", ErrNotDigits},
	} {
		if err := KRBusinessNo(tc.in); !errors.Is(err, tc.err) {
			t.Errorf("KRBusinessNo(%q) = %v, want %v", tc.in, err, tc.err)
		}
	}
}

// FuzzLocalID checks the checksums never panic, accept only what they promise (digits of the
// right length), and that CPF's printed and plain forms agree.
func FuzzLocalID(f *testing.F) {
	for _, s := range []string{"52998224725", "111.444.777-35", "1248100998", "", "00000000000", "12345678909"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := CPF(s); err == nil {
			if len(d) != 11 || !allDigits(d) {
				t.Fatalf("CPF(%q) accepted %q", s, d)
			}
			printed := d[0:3] + "." + d[3:6] + "." + d[6:9] + "-" + d[9:11]
			if again, err := CPF(printed); err != nil || again != d {
				t.Fatalf("CPF(%q) = %q, %v; the plain form %q passed", printed, again, err, d)
			}
		}
		if err := KRBusinessNo(s); err == nil && (len(s) != 10 || !allDigits(s)) {
			t.Fatalf("KRBusinessNo accepted %q", s)
		}
	})
}
