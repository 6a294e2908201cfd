package money

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, currency, value string
		minor                 int64
		exp                   int
		wantErr               error
	}{
		{"SGD", "SGD", "4200", 4200, 2, nil},
		{"zero", "USD", "0", 0, 2, nil},
		{"one minor unit", "EUR", "1", 1, 2, nil},
		{"JPY has no decimals", "JPY", "4200", 4200, 0, nil},
		{"BHD has three", "BHD", "1234", 1234, 3, nil},
		{"16 digits, the wire's most", "USD", "9999999999999999", 9999999999999999, 2, nil},
		{"17 digits", "USD", "10000000000000000", 0, 0, ErrInvalidValue},
		{"18 digits", "USD", "999999999999999999", 0, 0, ErrInvalidValue},
		{"trailing zeros", "USD", "1000", 1000, 2, nil},

		{"unknown currency", "ABC", "100", 0, 0, ErrCurrencyNotSupported},
		{"lowercase currency", "usd", "100", 0, 0, ErrCurrencyNotSupported},
		{"X-code", "XXX", "100", 0, 0, ErrCurrencyNotSupported},
		{"gold", "XAU", "100", 0, 0, ErrCurrencyNotSupported},
		{"empty currency", "", "100", 0, 0, ErrCurrencyNotSupported},
		{"unknown currency wins over bad value", "ABC", "-1", 0, 0, ErrCurrencyNotSupported},

		{"empty value", "USD", "", 0, 0, ErrInvalidValue},
		{"negative", "USD", "-100", 0, 0, ErrInvalidValue},
		{"plus sign", "USD", "+100", 0, 0, ErrInvalidValue},
		{"decimal point", "USD", "42.00", 0, 0, ErrInvalidValue},
		{"comma", "USD", "4,200", 0, 0, ErrInvalidValue},
		{"leading space", "USD", " 100", 0, 0, ErrInvalidValue},
		{"trailing space", "USD", "100 ", 0, 0, ErrInvalidValue},
		{"inner space", "USD", "1 00", 0, 0, ErrInvalidValue},
		{"leading zero", "USD", "007", 0, 0, ErrInvalidValue},
		{"double zero", "USD", "00", 0, 0, ErrInvalidValue},
		{"exponent notation", "USD", "1e3", 0, 0, ErrInvalidValue},
		{"hex", "USD", "0x10", 0, 0, ErrInvalidValue},
		{"underscore", "USD", "1_000", 0, 0, ErrInvalidValue},
		{"19 digits", "USD", "1000000000000000000", 0, 0, ErrInvalidValue},
		{"int64 overflow", "USD", "9223372036854775808", 0, 0, ErrInvalidValue},
		{"huge", "USD", strings.Repeat("9", 40), 0, 0, ErrInvalidValue},
		{"unicode digit", "USD", "１００", 0, 0, ErrInvalidValue},
		{"newline", "USD", "100\n", 0, 0, ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(tt.currency, tt.value)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse(%q, %q) error = %v, want %v", tt.currency, tt.value, err, tt.wantErr)
				}
				other := ErrInvalidValue
				if tt.wantErr == ErrInvalidValue {
					other = ErrCurrencyNotSupported
				}
				if errors.Is(err, other) {
					t.Errorf("Parse(%q, %q) error %v also matches %v", tt.currency, tt.value, err, other)
				}
				if a != (Amount{}) {
					t.Errorf("Parse(%q, %q) returned %+v alongside an error", tt.currency, tt.value, a)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q, %q) error = %v", tt.currency, tt.value, err)
			}
			want := Amount{Currency: Currency{Code: tt.currency, Exponent: tt.exp}, Minor: tt.minor}
			if a != want {
				t.Errorf("Parse(%q, %q) = %+v, want %+v", tt.currency, tt.value, a, want)
			}
			if a.Value() != tt.value {
				t.Errorf("Value() = %q, want %q", a.Value(), tt.value)
			}
		})
	}
}

func TestParseErrorDoesNotEchoLongInput(t *testing.T) {
	long := strings.Repeat("<script>", 10)
	_, err := Parse(long, "1")
	if err == nil || strings.Contains(err.Error(), "script") {
		t.Errorf("error %v echoes a long currency code", err)
	}
}

func TestAmountString(t *testing.T) {
	cur := func(code string) Currency {
		c, ok := Lookup(code)
		if !ok {
			t.Fatalf("Lookup(%q) failed", code)
		}
		return c
	}
	tests := []struct {
		a    Amount
		want string
	}{
		{Amount{cur("SGD"), 4200}, "42.00 SGD"},
		{Amount{cur("SGD"), 0}, "0.00 SGD"},
		{Amount{cur("SGD"), 5}, "0.05 SGD"},
		{Amount{cur("SGD"), 50}, "0.50 SGD"},
		{Amount{cur("SGD"), 100}, "1.00 SGD"},
		{Amount{cur("SGD"), 123456789}, "1234567.89 SGD"},
		{Amount{cur("JPY"), 4200}, "4200 JPY"},
		{Amount{cur("JPY"), 0}, "0 JPY"},
		{Amount{cur("KRW"), 15000}, "15000 KRW"},
		{Amount{cur("BHD"), 1234}, "1.234 BHD"},
		{Amount{cur("BHD"), 1}, "0.001 BHD"},
		{Amount{cur("KWD"), 1000}, "1.000 KWD"},
		{Amount{cur("CLF"), 12345}, "1.2345 CLF"},
		{Amount{cur("UYW"), 7}, "0.0007 UYW"},
		{Amount{cur("USD"), 999999999999999999}, "9999999999999999.99 USD"},
		{Amount{cur("USD"), 9007199254740993}, "90071992547409.93 USD"}, // 2^53+1: a float64 would print ...92
		{Amount{cur("USD"), -5}, "-0.05 USD"},
		{Amount{cur("USD"), -4200}, "-42.00 USD"},
		{Amount{cur("JPY"), -3}, "-3 JPY"},
		{Amount{cur("USD"), math.MaxInt64}, "92233720368547758.07 USD"},
		{Amount{cur("USD"), math.MinInt64}, "-92233720368547758.08 USD"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.a.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAmountValue(t *testing.T) {
	tests := []struct {
		minor int64
		want  string
	}{
		{0, "0"}, {1, "1"}, {4200, "4200"}, {999999999999999999, "999999999999999999"},
	}
	for _, tt := range tests {
		if got := (Amount{Currency: Currency{"JPY", 0}, Minor: tt.minor}).Value(); got != tt.want {
			t.Errorf("Value(%d) = %q, want %q", tt.minor, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range [][2]string{
		{"SGD", "4200"}, {"JPY", "0"}, {"BHD", "1234"}, {"CLF", "1"},
		{"USD", "999999999999999999"}, {"USD", "1000000000000000000"},
		{"USD", "007"}, {"USD", "-1"}, {"USD", "+1"}, {"USD", "4.2"},
		{"XXX", "1"}, {"sgd", "1"}, {"", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, currency, value string) {
		a, err := Parse(currency, value)
		if err != nil {
			if !errors.Is(err, ErrCurrencyNotSupported) && !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("Parse(%q, %q) returned an untyped error: %v", currency, value, err)
			}
			return
		}
		if got := a.Value(); got != value {
			t.Fatalf("Parse(%q, %q).Value() = %q, does not round-trip", currency, value, got)
		}
		if a.Currency.Code != currency {
			t.Fatalf("Parse(%q, %q) currency = %q", currency, value, a.Currency.Code)
		}
		if a.Minor < 0 {
			t.Fatalf("Parse(%q, %q) produced a negative amount %d", currency, value, a.Minor)
		}
		// String must be the same digits with a decimal point placed by the
		// exponent, whatever the value.
		s := a.String()
		num, code, ok := strings.Cut(s, " ")
		if !ok || code != currency {
			t.Fatalf("String() = %q, want %q suffix", s, " "+currency)
		}
		if a.Currency.Exponent > 0 {
			i := strings.IndexByte(num, '.')
			if i < 1 || len(num)-i-1 != a.Currency.Exponent {
				t.Fatalf("String() = %q: wrong decimal places for exponent %d", s, a.Currency.Exponent)
			}
		}
		digits := strings.TrimLeft(strings.Replace(num, ".", "", 1), "0")
		if digits == "" {
			digits = "0"
		}
		if digits != value {
			t.Fatalf("String() = %q does not carry the digits of %q", s, value)
		}
	})
}
