package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Text problems a body can have that encoding/json would hide: it decodes both to U+FFFD, so
// different ids ("R\ud800", "R\udbff", "R\udfff") would become one idempotency key and the
// decoded request would differ from the bytes the merchant signed. RFC 8259 §8.2 calls such
// strings' behaviour unpredictable; Antom's SDKs never produce them.
const (
	reasonLoneSurrogate = "must not hold a lone UTF-16 surrogate escape (\\ud800 to \\udfff outside a pair)"
	reasonInvalidUTF8   = "is not valid UTF-8"
)

// scanText finds the first place in a raw JSON body where a string holds a \u escape of a UTF-16
// surrogate that is not part of a high-low pair, or where the body is not UTF-8. It returns the
// byte offset of that string's opening quote (of the offending byte itself outside strings) and
// the reason, or -1 when the body is clean. It does not check JSON syntax: the decoder does.
func scanText(body []byte) (int, string) {
	inString, start := false, 0
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size == 1 {
				if inString {
					return start, reasonInvalidUTF8
				}
				return i, reasonInvalidUTF8
			}
			i += size
		case !inString:
			if c == '"' {
				inString, start = true, i
			}
			i++
		case c == '"':
			inString = false
			i++
		case c == '\\':
			if i+1 < len(body) && body[i+1] == 'u' {
				u, ok := hex4(body, i+2)
				if !ok {
					i += 2 // malformed: the decoder's syntax error names it
					continue
				}
				switch {
				case u >= 0xd800 && u <= 0xdbff:
					if !lowSurrogateAt(body, i+6) {
						return start, reasonLoneSurrogate
					}
					i += 12
				case u >= 0xdc00 && u <= 0xdfff:
					return start, reasonLoneSurrogate
				default:
					i += 6
				}
				continue
			}
			i += 2
		default:
			i++
		}
	}
	return -1, ""
}

// lowSurrogateAt reports whether body[i:] starts with a \uDC00–\uDFFF escape.
func lowSurrogateAt(body []byte, i int) bool {
	if i+1 >= len(body) || body[i] != '\\' || body[i+1] != 'u' {
		return false
	}
	u, ok := hex4(body, i+2)
	return ok && u >= 0xdc00 && u <= 0xdfff
}

func hex4(body []byte, i int) (rune, bool) {
	if i+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// pathAt names the JSON path ("order.buyer.referenceBuyerId", "goods[1].name") of the key or value
// whose token covers byte offset at, in the notation of FieldError. It walks the tokens only when
// scanText found a problem, so a clean body costs nothing more. It reports false when the body
// cannot be walked that far (a syntax error comes first) or the offset is outside any token.
func pathAt(body []byte, at int) (string, bool) {
	type frame struct {
		array   bool
		index   int
		key     string
		wantKey bool
	}
	var stack []frame
	path := func() string {
		var b bytes.Buffer
		for _, f := range stack {
			if f.array {
				fmt.Fprintf(&b, "[%d]", f.index)
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		}
		return b.String()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		after := dec.InputOffset()
		covers := int64(at) >= before && int64(at) < after
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && !stack[len(stack)-1].array {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		if top != nil && !top.array && top.wantKey {
			top.key, _ = tok.(string)
			top.wantKey = false
			if covers {
				return path(), true
			}
			continue
		}
		if top != nil && top.array {
			top.index++
		}
		if covers {
			return path(), true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{array: true, index: -1})
		default:
			if top != nil && !top.array {
				top.wantKey = true
			}
		}
	}
}
