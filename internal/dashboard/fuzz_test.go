package dashboard

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseQuery: any query string gives a query or problems, never a panic, and a query it
// accepts holds only what its fields allow.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "status=FAIL&from=2026-11-21&to=2026-11-22", "min=1&max=99&last4=4242", "after=1764000000000.P1",
		"after=.", "after=abc.def", "id=%00", "min=-1", "last4=１２３４"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, _, problems := parseQuery(v)
		if len(problems) > 0 {
			return
		}
		if q.LastFour != "" && (len(q.LastFour) != 4 || strings.Trim(q.LastFour, "0123456789") != "") {
			t.Fatalf("last four %q accepted", q.LastFour)
		}
		if q.MinMinor < 0 || q.MaxMinor < 0 {
			t.Fatalf("negative amounts accepted: %+v", q)
		}
		if q.State != "" && !strings.Contains(strings.Join(states, ","), string(q.State)) {
			t.Fatalf("state %q accepted", q.State)
		}
	})
}

// FuzzVerifyPassword: a stored hash of any shape matches nothing it should not and never panics
// or runs away (parsePHC bounds the parameters).
func FuzzVerifyPassword(f *testing.F) {
	good, err := HashPassword("correct horse battery")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "correct horse battery")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Add("$argon2id$v=19$m=99999999,t=99,p=255$$", "")
	f.Fuzz(func(t *testing.T, encoded, password string) {
		if VerifyPassword(encoded, password) && encoded == good && password != "correct horse battery" {
			t.Fatalf("%q matched the hash of another password", password)
		}
	})
}
