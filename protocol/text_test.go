package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestDecodeRefusesText: a lone surrogate escape or invalid UTF-8 anywhere in a string is refused,
// naming the field, before encoding/json could turn it into U+FFFD; pairs and plain escapes pass.
func TestDecodeRefusesText(t *testing.T) {
	tests := []struct {
		name, body, path, reason string
	}{
		{"lone high surrogate", `{"s":"R\ud800"}`, "s", "lone UTF-16 surrogate"},
		{"last high surrogate", `{"s":"R\udbff"}`, "s", "lone UTF-16 surrogate"},
		{"lone low surrogate", `{"s":"R\udfff"}`, "s", "lone UTF-16 surrogate"},
		{"upper-case hex", `{"s":"R\uD800"}`, "s", "lone UTF-16 surrogate"},
		{"high then plain", `{"s":"\ud800\u0041"}`, "s", "lone UTF-16 surrogate"},
		{"high then end", `{"s":"\ud83d"}`, "s", "lone UTF-16 surrogate"},
		{"two highs", `{"s":"\ud83d\ud83d"}`, "s", "lone UTF-16 surrogate"},
		{"low then high", `{"s":"\ude00\ud83d"}`, "s", "lone UTF-16 surrogate"},
		{"after a good pair", `{"s":"\ud83d\ude00\udc00"}`, "s", "lone UTF-16 surrogate"},
		{"nested", `{"p":{"name":"x\udc00"}}`, "p.name", "lone UTF-16 surrogate"},
		{"in an array", `{"l":[{"name":"a"},{"name":"\ud800"}]}`, "l[1].name", "lone UTF-16 surrogate"},
		{"in a string array", `{"tags":["a","b","\ud800"]}`, "tags[2]", "lone UTF-16 surrogate"},
		{"after nested objects", `{"p":{"name":"a","count":1},"v":{},"s":"\ud800"}`, "s", "lone UTF-16 surrogate"},
		{"in a key", `{"\ud800":"x"}`, "\ufffd", "lone UTF-16 surrogate"},
		{"in an ignored field", `{"unknown":{"deep":["\udfff"]}}`, "unknown.deep[0]", "lone UTF-16 surrogate"},
		{"invalid UTF-8 in a value", "{\"s\":\"\xff\"}", "s", "not valid UTF-8"},
		{"invalid UTF-8 in a key", "{\"\xc3\x28\":\"x\"}", "\ufffd(", "not valid UTF-8"},
		{"encoded surrogate in an ignored field", "{\"unknown\":\"a\xed\xa0\x80b\"}", "unknown", "not valid UTF-8"},
		{"truncated UTF-8 sequence", "{\"s\":\"\xe2\x82\"}", "s", "not valid UTF-8"},
		{"invalid UTF-8 nested", "{\"p\":{\"name\":\"\xc0\xaf\"}}", "p.name", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got decodeSample
			err := Decode([]byte(tt.body), &got)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Decode(%q) error = %v, want a *FieldError", tt.body, err)
			}
			if fe.Path != tt.path {
				t.Errorf("Path = %q, want %q", fe.Path, tt.path)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Error() = %q, want it to say %q", err.Error(), tt.reason)
			}
		})
	}
}

func TestDecodeAcceptsText(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"surrogate pair", `{"s":"\ud83d\ude00"}`, "\U0001F600"},
		{"pair in upper case", `{"s":"\uD83D\uDE00"}`, "\U0001F600"},
		{"literal emoji", `{"s":"😀"}`, "\U0001F600"},
		{"replacement character sent as such", `{"s":"\ufffd"}`, "\ufffd"},
		{"escaped backslash before u", `{"s":"\\ud800"}`, `\ud800`},
		{"BMP escapes", `{"s":"\u00e9\u4e2d\ue000\uffff"}`, "é中\ue000\uffff"},
		{"NUL escape (ids refuse it later)", `{"s":"a\u0000b"}`, "a\x00b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got decodeSample
			if err := Decode([]byte(tt.body), &got); err != nil {
				t.Fatalf("Decode(%q): %v", tt.body, err)
			}
			if got.S != tt.want {
				t.Errorf("S = %q, want %q", got.S, tt.want)
			}
		})
	}
}

// FuzzScanText checks the raw-body scanner against encoding/json itself: in a syntactically valid
// body, the scanner reports a problem exactly when decoding some string (key or value) produced a
// U+FFFD that the raw text did not spell (as the character or as \ufffd) — the replacement
// encoding/json makes silently. When it reports one, pathAt must name a path for it.
func FuzzScanText(f *testing.F) {
	for _, s := range []string{
		`{"s":"R\ud800"}`, `{"s":"R\udbff"}`, `{"s":"R\udfff"}`, `{"s":"\ud83d\ude00"}`, `{"s":"\\ud800"}`,
		`{"s":"\ufffd"}`, "{\"s\":\"\xff\"}", "{\"s\":\"\xef\xbf\xbd\"}", `{"a":[{"b":"\udc00"}]}`,
		`{"\ud800":1}`, `{"s":"\ud800\\"}`, `{"s":"\ud800\u"}`, `"\ud800"`, `["\ud800"]`, `{}`, ``,
		`{"paymentRequestId":"R\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		at, reason := scanText(body)
		if at < -1 || at >= len(body) || (at >= 0) != (reason != "") {
			t.Fatalf("scanText(%q) = %d, %q", body, at, reason)
		}
		if !json.Valid(body) {
			return
		}
		replaced, ok := replacedText(body)
		if !ok {
			return
		}
		if replaced != (at >= 0) {
			t.Fatalf("scanText(%q) = %d %q, but encoding/json replaced text: %v", body, at, reason, replaced)
		}
		if _, found := pathAt(body, at); at >= 0 && body[at] == '"' && !found {
			t.Fatalf("pathAt(%q, %d) named no path", body, at)
		}
	})
}

// replacedText reports whether decoding any string token of body introduced a U+FFFD that its
// raw literal does not spell.
func replacedText(body []byte) (replaced, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return false, err.Error() == "EOF"
		}
		s, isString := tok.(string)
		if !isString {
			continue
		}
		raw := body[before:dec.InputOffset()]
		raw = raw[bytes.IndexByte(raw, '"'):]
		if strings.Count(s, "\ufffd") != spelledReplacements(raw) {
			return true, true
		}
	}
}

// spelledReplacements counts U+FFFD written in a raw JSON string literal, literally or escaped.
func spelledReplacements(raw []byte) int {
	n := bytes.Count(raw, []byte("\ufffd"))
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+5 < len(raw) && raw[i+1] == 'u' && strings.EqualFold(string(raw[i+2:i+6]), "fffd") {
			n++
		}
		i++ // skip the escaped character, so "\\ufffd" is not counted
	}
	return n
}
