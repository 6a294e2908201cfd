package notify

import (
	"strings"
	"unicode"
)

// MaxExcerpt bounds what is kept of a merchant's answer, in characters. The answer is shown back
// to the merchant in notifications/list, so whatever an endpoint answers, only a short excerpt
// survives: enough to recognise an error page, too little to carry another service's secrets out.
const MaxExcerpt = 200

// Excerpt is what is kept of an answer: valid UTF-8 (each run of invalid bytes becomes U+FFFD),
// line breaks and tabs as spaces, control and invisible format characters (bidi overrides,
// zero-width joiners) dropped, at most MaxExcerpt characters, the last one "…" when cut. An
// excerpt of an excerpt is the excerpt itself, so answers stored before this rule can be cut
// again when shown.
func Excerpt(s string) string {
	out := make([]rune, 0, min(len(s), MaxExcerpt+1))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			r = ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		}
		out = append(out, r)
		if len(out) > MaxExcerpt {
			return string(append(out[:MaxExcerpt-1], '…'))
		}
	}
	return string(out)
}
