package card

import (
	"errors"
	"strings"
	"testing"
)

// designCards is the sandbox table of docs/design.md: every row must be Luhn-valid
// and detect as the brand the table names.
var designCards = []struct {
	pan   string
	brand Brand
}{
	{"4054695723100768", Visa},
	{"4117347806156383", Visa},
	{"4242424242424242", Visa},
	{"5555555555554444", Mastercard},
	{"378282246310005", Amex},
	{"3566002020360505", JCB},
	{"6011111111111117", Discover},
	{"36227206271667", Diners},
	{"6200000000000005", CUP},
	{"4000000000000002", Visa},
	{"4000000000009995", Visa},
	{"4000000000000069", Visa},
	{"4000000000000127", Visa},
	{"4000000000009987", Visa},
	{"4100000000000019", Visa},
	{"4000000000000010", Visa},
	{"4000000000000119", Visa},
	{"4000002760003184", Visa},
	{"4000000000003220", Visa},
	{"4000008400001629", Visa},
	{"4000000000003063", Visa},
	{"4000000000000259", Visa},
	{"4000000000000036", Visa},
	{"4000000000000028", Visa},
	{"4000000000000044", Visa},
}

// withCheckDigit pads prefix with zeros to length-1 digits and appends the
// Luhn check digit, to build valid numbers for any range.
func withCheckDigit(prefix string, length int) string {
	body := prefix + strings.Repeat("0", length-1-len(prefix))
	for d := byte('0'); d <= '9'; d++ {
		if s := body + string(d); Luhn(s) {
			return s
		}
	}
	panic("unreachable")
}

func TestDesignCards(t *testing.T) {
	for _, c := range designCards {
		t.Run(c.pan, func(t *testing.T) {
			if !Luhn(c.pan) {
				t.Errorf("Luhn(%s) = false", c.pan)
			}
			if b, ok := DetectBrand(c.pan); !ok || b != c.brand {
				t.Errorf("DetectBrand(%s) = %q, %v; want %q", c.pan, b, ok, c.brand)
			}
			n, err := ParseNumber(c.pan)
			if err != nil {
				t.Fatalf("ParseNumber(%s): %v", c.pan, err)
			}
			if n.Brand() != c.brand || n.Digits() != c.pan {
				t.Errorf("ParseNumber(%s) = brand %q digits %q", c.pan, n.Brand(), n.Digits())
			}
		})
	}
}

func TestLuhn(t *testing.T) {
	tests := []struct {
		pan  string
		want bool
	}{
		{"4242424242424242", true},
		{"4242424242424241", false},
		{"4242424242424243", false},
		{"378282246310005", true}, // odd length: parity counted from the right
		{"378282246310006", false},
		{"36227206271667", true},
		{"79927398713", true}, // the textbook example
		{"79927398710", false},
		{"0", true},
		{"00", true},
		{"18", true},
		{"", false},
		{"4242 4242 4242 4242", false},
		{"4242-4242-4242-4242", false},
		{"424242424242424a", false},
		{"+4242424242424242", false},
		{"４２４２", false},
		{"4242424242424242\n", false},
	}
	for _, tt := range tests {
		if got := Luhn(tt.pan); got != tt.want {
			t.Errorf("Luhn(%q) = %v, want %v", tt.pan, got, tt.want)
		}
	}
}

func TestDetectBrand(t *testing.T) {
	tests := []struct {
		prefix string
		length int
		want   Brand // "" means no brand
	}{
		{"4", 16, Visa}, {"4", 13, Visa}, {"4", 19, Visa},
		{"401177", 16, Visa}, {"401180", 16, Visa}, {"493698", 16, Visa},

		{"51", 16, Mastercard}, {"55", 16, Mastercard},
		{"2221", 16, Mastercard}, {"2500", 16, Mastercard}, {"2720", 16, Mastercard},
		{"2220", 16, ""}, {"2721", 16, ""}, {"2205", 16, ""},

		{"34", 15, Amex}, {"37", 15, Amex}, {"35", 15, ""}, {"33", 15, ""},

		{"3528", 16, JCB}, {"3589", 16, JCB}, {"3527", 16, ""}, {"3590", 16, ""},
		{"2131", 15, JCB}, {"1800", 15, JCB},

		{"300", 14, Diners}, {"305", 14, Diners}, {"306", 14, ""},
		{"3095", 14, Diners}, {"3096", 14, ""},
		{"36", 14, Diners}, {"38", 16, Diners}, {"39", 16, Diners},

		{"6011", 16, Discover}, {"6012", 16, ""},
		{"644", 16, Discover}, {"649", 16, Discover}, {"643", 16, ""},
		{"65", 16, Discover}, {"6599", 16, Discover},

		{"62", 16, CUP}, {"6200", 16, CUP},
		{"622126", 16, CUP}, {"622925", 16, CUP}, // Discover-accepted UnionPay range
		{"624", 16, CUP}, {"6282", 16, CUP},
		{"8100", 16, CUP}, {"8171", 16, CUP}, {"8172", 16, ""},

		{"50", 16, Maestro}, {"5018", 16, Maestro}, {"5020", 16, Maestro},
		{"5038", 16, Maestro}, {"5893", 16, Maestro}, {"6304", 16, Maestro},
		{"6759", 16, Maestro}, {"6761", 12, Maestro}, {"6763", 19, Maestro},

		{"2200", 16, Mir}, {"2204", 16, Mir},

		{"9792", 16, Troy}, {"9793", 16, ""},

		{"606282", 16, Hipercard}, {"384100", 19, Hipercard}, {"384140", 19, Hipercard},
		{"384160", 19, Hipercard}, {"384150", 19, Diners},

		{"401178", 16, Elo}, {"401179", 16, Elo}, {"431274", 16, Elo},
		{"438935", 16, Elo}, {"451416", 16, Elo}, {"457393", 16, Elo},
		{"457631", 16, Elo}, {"457632", 16, Elo}, {"504175", 16, Elo},
		{"506699", 16, Elo}, {"506778", 16, Elo}, {"506779", 16, Maestro},
		{"509000", 16, Elo}, {"509999", 16, Elo},
		{"627780", 16, Elo}, {"627781", 16, CUP},
		{"636297", 16, Elo}, {"636368", 16, Elo},
		{"650031", 16, Elo}, {"650034", 16, Discover}, {"650051", 16, Elo},
		{"650405", 16, Elo}, {"650598", 16, Elo}, {"650599", 16, Discover},
		{"651652", 16, Elo}, {"655000", 16, Elo}, {"655020", 16, Discover},
		{"655058", 16, Elo},

		{"0", 16, ""}, {"1", 16, ""}, {"7", 16, ""}, {"9", 16, ""},
		{"60", 16, ""}, {"61", 16, ""}, {"66", 16, ""}, {"68", 16, ""}, {"69", 16, ""},
	}
	for _, tt := range tests {
		pan := withCheckDigit(tt.prefix, tt.length)
		t.Run(pan, func(t *testing.T) {
			got, ok := DetectBrand(pan)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("DetectBrand(%s) = %q, %v; want %q", pan, got, ok, tt.want)
			}
		})
	}
}

func TestDetectBrandRejectsNonDigits(t *testing.T) {
	for _, s := range []string{"", "visa", " 4242424242424242", "4242424242424242 ", "4242-4242", "４２４２"} {
		if b, ok := DetectBrand(s); ok {
			t.Errorf("DetectBrand(%q) = %q, want no brand", s, b)
		}
	}
}

// Ranges with prefixes of the same length must not overlap, or the winner
// would depend on table order.
func TestIINRangesDisjoint(t *testing.T) {
	for i, a := range iinRanges {
		if len(a.lo) != len(a.hi) || a.lo > a.hi {
			t.Errorf("malformed range %+v", a)
		}
		for _, b := range iinRanges[i+1:] {
			if len(a.lo) == len(b.lo) && a.lo <= b.hi && b.lo <= a.hi {
				t.Errorf("ranges overlap: %+v and %+v", a, b)
			}
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  error
		brand    Brand
	}{
		{"visa 16", "4242424242424242", nil, Visa},
		{"amex 15", "378282246310005", nil, Amex},
		{"diners 14", "36227206271667", nil, Diners},
		{"12 digits", withCheckDigit("6761", 12), nil, Maestro},
		{"19 digits", withCheckDigit("4", 19), nil, Visa},

		{"empty", "", ErrInvalidNumber, ""},
		{"11 digits", withCheckDigit("4", 11), ErrInvalidNumber, ""},
		{"20 digits", withCheckDigit("4", 20), ErrInvalidNumber, ""},
		{"luhn failure", "4242424242424241", ErrInvalidNumber, ""},
		{"spaces", "4242 4242 4242 4242", ErrInvalidNumber, ""},
		{"dashes", "4242-4242-4242-4242", ErrInvalidNumber, ""},
		{"leading space", " 4242424242424242", ErrInvalidNumber, ""},
		{"trailing newline", "4242424242424242\n", ErrInvalidNumber, ""},
		{"letters", "42424242424242AB", ErrInvalidNumber, ""},
		{"sign", "+4242424242424242", ErrInvalidNumber, ""},
		{"fullwidth digits", "４２４２４２４２４２４２４２４２", ErrInvalidNumber, ""},

		{"unknown brand", withCheckDigit("1", 16), ErrUnsupportedBrand, ""},
		{"all zeros", "0000000000000000", ErrUnsupportedBrand, ""},
		{"gap in 2-series", withCheckDigit("2721", 16), ErrUnsupportedBrand, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseNumber(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseNumber(%q) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				if tt.in != "" && strings.Contains(err.Error(), tt.in) {
					t.Errorf("error %q echoes the input", err)
				}
				if n.Digits() != "" {
					t.Errorf("ParseNumber(%q) returned a Number alongside an error", tt.in)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseNumber(%q): %v", tt.in, err)
			}
			if n.Brand() != tt.brand || n.Digits() != tt.in {
				t.Errorf("ParseNumber(%q) = %q %q", tt.in, n.Brand(), n.Digits())
			}
		})
	}
}

func TestNumberParts(t *testing.T) {
	tests := []struct {
		pan, bin, last4, masked string
	}{
		{"4242424242424242", "424242", "4242", "************4242"},
		{"378282246310005", "378282", "0005", "***********0005"},
		{"36227206271667", "362272", "1667", "**********1667"},
		{withCheckDigit("6761", 12), "676100", withCheckDigit("6761", 12)[8:], "********" + withCheckDigit("6761", 12)[8:]},
	}
	for _, tt := range tests {
		n, err := ParseNumber(tt.pan)
		if err != nil {
			t.Fatalf("ParseNumber(%s): %v", tt.pan, err)
		}
		if n.BIN() != tt.bin || n.LastFour() != tt.last4 || n.Masked() != tt.masked {
			t.Errorf("%s: BIN %q LastFour %q Masked %q; want %q %q %q",
				tt.pan, n.BIN(), n.LastFour(), n.Masked(), tt.bin, tt.last4, tt.masked)
		}
		if len(n.Masked()) != len(tt.pan) {
			t.Errorf("%s: masked length %d, want %d", tt.pan, len(n.Masked()), len(tt.pan))
		}
	}

	var zero Number
	if zero.Digits() != "" || zero.BIN() != "" || zero.LastFour() != "" || zero.Masked() != "" || zero.Brand() != "" {
		t.Error("zero Number is not empty")
	}
}

func TestNumberEqual(t *testing.T) {
	a, _ := ParseNumber("4242424242424242")
	b, _ := ParseNumber("4242424242424242")
	c, _ := ParseNumber("5555555555554444")
	if !a.Equal(b) || a.Equal(c) || a.Equal(Number{}) {
		t.Error("Equal does not compare card numbers")
	}
}

func TestFingerprint(t *testing.T) {
	n, _ := ParseNumber("4242424242424242")
	m, _ := ParseNumber("5555555555554444")
	k1, k2 := []byte("merchant-key-1"), []byte("merchant-key-2")

	// Expected values computed independently (Python hmac module).
	if got, want := Fingerprint(k1, n), "eafd295d0756867388bc41819cf84d2154f432a4bac4f6e2001f01e16e6dcc5d"; got != want {
		t.Errorf("Fingerprint(k1) = %s, want %s", got, want)
	}
	if got, want := Fingerprint(k2, n), "937546044c104c83991a21905713ef779e59a3036370c7b6ad435e332b556b4e"; got != want {
		t.Errorf("Fingerprint(k2) = %s, want %s", got, want)
	}
	n2, _ := ParseNumber("4242424242424242")
	if Fingerprint(k1, n) != Fingerprint(k1, n2) {
		t.Error("fingerprint not stable for the same card and key")
	}
	if Fingerprint(k1, n) == Fingerprint(k1, m) {
		t.Error("different cards share a fingerprint")
	}
	fp := Fingerprint(k1, m)
	if len(fp) != 64 || strings.Trim(fp, "0123456789abcdef") != "" {
		t.Errorf("fingerprint %q is not 64 lowercase hex characters", fp)
	}
}

// TestBrandsListsEveryDetectedBrand keeps Brands complete: a brand added to the IIN table but not
// to the list would be refused in routing rules while cards of it are accepted.
func TestBrandsListsEveryDetectedBrand(t *testing.T) {
	known := map[Brand]bool{}
	for _, b := range Brands() {
		if known[b] {
			t.Errorf("%s listed twice", b)
		}
		known[b] = true
	}
	for _, r := range iinRanges {
		if !known[r.brand] {
			t.Errorf("brand %s of IIN range %s-%s is missing from Brands()", r.brand, r.lo, r.hi)
		}
	}
}
