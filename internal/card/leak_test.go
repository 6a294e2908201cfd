package card

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// assertNoPAN fails if out contains the hidden part of the PAN: everything
// but the last four, which masking shows on purpose.
func assertNoPAN(t *testing.T, what, out, pan string) {
	t.Helper()
	if strings.Contains(out, pan[:len(pan)-4]) {
		t.Errorf("%s leaks the PAN: %q", what, out)
	}
}

type exported struct {
	Card Number
	Note string
}

type unexported struct {
	card Number
	note string
}

func TestNumberNeverPrintsPAN(t *testing.T) {
	for _, pan := range []string{"4242424242424242", "378282246310005", "36227206271667", withCheckDigit("4", 19)} {
		n, err := ParseNumber(pan)
		if err != nil {
			t.Fatal(err)
		}
		masked := n.Masked()

		values := map[string]any{
			"Number":            n,
			"*Number":           &n,
			"[]Number":          []Number{n, n},
			"map":               map[string]Number{"k": n},
			"exported field":    exported{Card: n, Note: "x"},
			"*exported field":   &exported{Card: n},
			"unexported field":  unexported{card: n, note: "x"},
			"*unexported field": &unexported{card: n},
			"nested":            []any{struct{ c Number }{n}},
		}
		verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%20s", "%-20v", "%T %v"}
		for name, v := range values {
			for _, verb := range verbs {
				assertNoPAN(t, fmt.Sprintf("Sprintf(%q, %s)", verb, name), fmt.Sprintf(verb, v), pan)
			}
			assertNoPAN(t, "Sprint "+name, fmt.Sprint(v), pan)
			assertNoPAN(t, "Sprintln "+name, fmt.Sprintln(v), pan)
		}

		// The direct forms show exactly the mask.
		if got := fmt.Sprintf("%v|%+v|%s", n, n, n); got != masked+"|"+masked+"|"+masked {
			t.Errorf("Sprintf = %q", got)
		}
		if got := fmt.Sprintf("%#v", n); got != `card.Number("`+masked+`")` {
			t.Errorf("%%#v = %q", got)
		}
		if got := fmt.Sprintf("%q", n); got != `"`+masked+`"` {
			t.Errorf("%%q = %q", got)
		}
		if got, want := fmt.Sprintf("%22s", n), strings.Repeat(" ", 22-len(masked))+masked; len(masked) < 22 && got != want {
			t.Errorf("%%22s = %q, want %q", got, want)
		}
		if n.String() != masked || n.GoString() != `card.Number("`+masked+`")` {
			t.Error("String/GoString not masked")
		}
		wrapped := fmt.Errorf("charging %v: %w", n, errors.New("declined"))
		assertNoPAN(t, "wrapped error", wrapped.Error(), pan)

		// JSON, direct and nested, including as a map key.
		for name, v := range map[string]any{
			"Number": n, "*Number": &n, "struct": exported{Card: n}, "map key": map[Number]int{n: 1},
		} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("json.Marshal(%s): %v", name, err)
			}
			assertNoPAN(t, "json "+name, string(b), pan)
		}
		if b, _ := json.Marshal(n); string(b) != `"`+masked+`"` {
			t.Errorf("json = %s", b)
		}
		if b, _ := n.MarshalText(); string(b) != masked {
			t.Errorf("MarshalText = %s", b)
		}

		// slog, text and JSON handlers, as an attribute and inside a struct.
		var buf bytes.Buffer
		for _, h := range []slog.Handler{
			slog.NewTextHandler(&buf, nil),
			slog.NewJSONHandler(&buf, nil),
		} {
			l := slog.New(h)
			l.Info("pay", "card", n)
			l.Info("pay", slog.Any("card", &n))
			l.Info("pay", "req", exported{Card: n})
			l.Info("pay", "req", unexported{card: n})
			l.Info(fmt.Sprint(n))
			l.With("card", n).Info("pay")
			l.Info("pay", slog.Group("g", "card", n))
		}
		assertNoPAN(t, "slog", buf.String(), pan)
		if !strings.Contains(buf.String(), "card="+masked) || !strings.Contains(buf.String(), `"card":"`+masked+`"`) {
			t.Errorf("slog output does not show the masked card:\n%s", buf.String())
		}
	}
}

func TestNumberRefusesJSONDecoding(t *testing.T) {
	var req struct{ CardNo Number }
	err := json.Unmarshal([]byte(`{"CardNo":"4242424242424242"}`), &req)
	if err == nil {
		t.Fatal("decoding into a Number succeeded; it must go through ParseNumber")
	}
	assertNoPAN(t, "decode error", err.Error(), "4242424242424242")
}
