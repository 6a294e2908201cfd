package notify

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzAcknowledged: whatever a merchant answers, judging it never panics; only HTTP 200 with a
// JSON acknowledgement of result SUCCESS/S stops the retries, and every other answer is logged
// with a reason.
func FuzzAcknowledged(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		// e2e/testdata/fixtures 000-04 and 003-31: the acknowledgement Antom's samples send.
		{200, "{\n  \"result\": {\n    \"resultCode\": \"SUCCESS\",\n    \"resultStatus\": \"S\",\n    \"resultMessage\": \"success\"\n  }\n}"},
		{200, `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`},
		// The Java sample's answer when its signature check fails: must be retried.
		{200, `{"result":{"resultCode":"FAIL","resultStatus":"F","resultMessage":"fail"}}`},
		{200, `{"result":{"resultCode":"SUCCESS","resultStatus":"F"}}`},
		{200, `{"result":{"resultCode":"SUCCESS"}}`},
		{200, `{"result":null}`},
		{200, `{"result":"S"}`},
		{200, `SUCCESS`},
		{200, ``},
		{500, `{"result":{"resultCode":"SUCCESS","resultStatus":"S"}}`},
		{302, `{"result":{"resultCode":"SUCCESS","resultStatus":"S"}}`},
		{204, ``},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		ok, reason := acknowledged(status, body)
		if ok != (reason == "") {
			t.Fatalf("acknowledged(%d, %q) = %v with reason %q", status, body, ok, reason)
		}
		if !ok {
			return
		}
		if status != http.StatusOK {
			t.Fatalf("HTTP %d taken as an acknowledgement", status)
		}
		// An independent reading of the body must find the acknowledgement too.
		var ack struct {
			Result struct{ ResultCode, ResultStatus string }
		}
		if err := json.Unmarshal(body, &ack); err != nil || ack.Result.ResultCode != "SUCCESS" || ack.Result.ResultStatus != "S" {
			t.Fatalf("%q taken as an acknowledgement (%v, %+v)", body, err, ack.Result)
		}
		if again, _ := acknowledged(status, body); !again {
			t.Fatalf("%q acknowledged once, not twice", body)
		}
	})
}

// FuzzExcerpt: whatever a merchant's endpoint answers, what is kept is valid UTF-8 of at most
// MaxExcerpt characters with no control or invisible format characters, a prefix of the
// sanitized answer (up to the ellipsis of a cut), and an excerpt of it is itself.
func FuzzExcerpt(f *testing.F) {
	for _, s := range []string{
		"",
		`{"result":{"resultCode":"SUCCESS","resultStatus":"S"}}`,
		"<html>\r\n<body>502 Bad Gateway</body></html>",
		"INTERNAL-SECRET\x00\x1b[31m\u202e",
		"\xff\xfe\xed\xa0\x80", // invalid UTF-8, a CESU-8 lone surrogate
		strings.Repeat("é", 300),
		strings.Repeat("a", 200) + "…",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Excerpt(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Excerpt(%q) = %q: invalid UTF-8", s, got)
		}
		n := utf8.RuneCountInString(got)
		if n > MaxExcerpt {
			t.Fatalf("Excerpt(%q): %d characters", s, n)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("Excerpt(%q) = %q keeps %U", s, got, r)
			}
		}
		if again := Excerpt(got); again != got {
			t.Fatalf("Excerpt(Excerpt(%q)) = %q, not %q", s, again, got)
		}
		// Independently: the answer's printable characters, in order.
		var want []rune
		for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
			if r == '\n' || r == '\r' || r == '\t' {
				r = ' '
			}
			if !unicode.IsControl(r) && !unicode.Is(unicode.Cf, r) {
				want = append(want, r)
			}
		}
		if len(want) <= MaxExcerpt {
			if got != string(want) {
				t.Fatalf("Excerpt(%q) = %q, want %q", s, got, string(want))
			}
			return
		}
		if got != string(want[:MaxExcerpt-1])+"…" {
			t.Fatalf("Excerpt(%q) = %q, want the first %d characters and an ellipsis", s, got, MaxExcerpt-1)
		}
	})
}

// FuzzPolicyEmbeddedIPv4: an IPv4 address gets the same verdict however IPv6 carries it
// (mapped, NAT64, SIIT, IPv4-compatible), in production and in the sandbox, and a 6to4 or Teredo
// address carrying a refused IPv4 is refused; a zone is refused whatever the address.
func FuzzPolicyEmbeddedIPv4(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "10.1.2.3", "169.254.169.254", "100.100.100.200", "93.184.216.34", "0.0.0.0", "255.255.255.255", "192.0.0.192"} {
		a := netip.MustParseAddr(s).As4()
		f.Add(a[0], a[1], a[2], a[3])
	}
	f.Fuzz(func(t *testing.T, b0, b1, b2, b3 byte) {
		b := []byte{b0, b1, b2, b3}
		v4 := netip.AddrFrom4([4]byte(b))
		in6 := func(prefix [12]byte) netip.Addr {
			var a [16]byte
			copy(a[:], prefix[:])
			copy(a[12:], b)
			return netip.AddrFrom16(a)
		}
		forms := map[string]netip.Addr{
			"mapped": in6([12]byte{10: 0xff, 11: 0xff}),
			"NAT64":  in6([12]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b}),
			"SIIT":   in6([12]byte{8: 0xff, 9: 0xff}),
		}
		if b[0] != 0 || b[1] != 0 {
			forms["compatible"] = in6([12]byte{})
		}
		var sixToFour, teredo [16]byte
		sixToFour[0], sixToFour[1] = 0x20, 0x02
		copy(sixToFour[2:6], b)
		sixToFour[15] = 1
		teredo[0], teredo[1] = 0x20, 0x01
		copy(teredo[4:8], []byte{93, 184, 216, 34}) // a public server
		for i := range 4 {
			teredo[12+i] = ^b[i]
		}
		for _, p := range []Policy{{}, {AllowPrivate: true}} {
			want := p.Check(v4) == nil
			for name, a := range forms {
				if got := p.Check(a) == nil; got != want {
					t.Fatalf("%+v: %s admitted=%v, its %s form %s admitted=%v", p, v4, want, name, a, got)
				}
			}
			for name, a := range map[string]netip.Addr{"6to4": netip.AddrFrom16(sixToFour), "Teredo": netip.AddrFrom16(teredo)} {
				if !want && p.Check(a) == nil {
					t.Fatalf("%+v: %s refused, its %s form %s admitted", p, v4, name, a)
				}
			}
			if p.Check(forms["mapped"].WithZone("lo")) == nil {
				t.Fatalf("%+v: a zoned %s admitted", p, forms["mapped"])
			}
		}
	})
}
