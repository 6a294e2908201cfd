package api_test

import (
	"crypto/rsa"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

var (
	strangerKeyOnce sync.Once
	strangerKey     *rsa.PrivateKey
	strangerKeyErr  error
)

// otherKey is an RSA key no merchant is registered with.
func otherKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	strangerKeyOnce.Do(func() { strangerKey, strangerKeyErr = protocol.GenerateKey() })
	if strangerKeyErr != nil {
		t.Fatal(strangerKeyErr)
	}
	return strangerKey
}

// signedWith builds request headers with every part chosen by the caller.
func signedWith(t testing.TB, key *rsa.PrivateKey, keyVersion, signedPath, clientID, reqTime string, body []byte) http.Header {
	t.Helper()
	return http.Header{
		"client-id":    {clientID},
		"request-time": {reqTime},
		"signature":    {signatureHeader(t, key, keyVersion, signedPath, clientID, reqTime, body)},
		"Content-Type": {"application/json; charset=UTF-8"},
	}
}

var percentHex = regexp.MustCompile(`%[0-9A-F]{2}`)

// TestAuthentication drives the signature check (docs/wire.md §2.5, docs/design.md "Keys", "Request
// time"): every refusal is a signed HTTP 200 with the right code and stores nothing; every form
// an official SDK sends is accepted.
func TestAuthentication(t *testing.T) {
	s := newStack(t)
	id := s.merchant.ClientID
	utc := func(layout string, d time.Duration) string { return time.Now().Add(d).UTC().Format(layout) }
	plus8 := time.FixedZone("", 8*3600)

	type build func(t testing.TB, body []byte) (http.Header, []byte)
	// std signs the body as sent, over signedPath, with the merchant key, at request time rt.
	std := func(signedPath, rt string) build {
		return func(t testing.TB, body []byte) (http.Header, []byte) {
			return signedWith(t, s.key, "1", signedPath, id, rt, body), body
		}
	}
	cases := []struct {
		name   string
		path   string // where the request is sent; livePay when empty
		build  build
		code   string
		inMsg  string // a substring the resultMessage must contain
		stored bool   // the pay is accepted
	}{
		// Refusals.
		{name: "wrong key", code: "INVALID_SIGNATURE", build: func(t testing.TB, body []byte) (http.Header, []byte) {
			return signedWith(t, otherKey(t), "1", livePay, id, nowMS(), body), body
		}},
		{name: "tampered body", code: "INVALID_SIGNATURE", build: func(t testing.TB, body []byte) (http.Header, []byte) {
			h := signedWith(t, s.key, "1", livePay, id, nowMS(), body)
			return h, []byte(strings.Replace(string(body), `"4200"`, `"1"`, 1))
		}},
		{name: "missing signature header", code: "INVALID_SIGNATURE", inMsg: "signature", build: func(t testing.TB, body []byte) (http.Header, []byte) {
			h := signedWith(t, s.key, "1", livePay, id, nowMS(), body)
			delete(h, "signature")
			return h, body
		}},
		{name: "signature header without signature=", code: "INVALID_SIGNATURE", build: func(t testing.TB, body []byte) (http.Header, []byte) {
			h := signedWith(t, s.key, "1", livePay, id, nowMS(), body)
			h["signature"] = []string{"algorithm=RSA256,keyVersion=1"}
			return h, body
		}},
		{name: "missing request-time", code: "INVALID_SIGNATURE", inMsg: "request-time", build: func(t testing.TB, body []byte) (http.Header, []byte) {
			h := signedWith(t, s.key, "1", livePay, id, "", body)
			delete(h, "request-time")
			return h, body
		}},
		{name: "unknown client-id", code: "KEY_NOT_FOUND", build: func(t testing.TB, body []byte) (http.Header, []byte) {
			return signedWith(t, s.key, "1", livePay, "SANDBOX_NOBODY00000000001", nowMS(), body), body
		}},
		{name: "missing client-id", code: "KEY_NOT_FOUND", build: func(t testing.TB, body []byte) (http.Header, []byte) {
			h := signedWith(t, s.key, "1", livePay, "", nowMS(), body)
			delete(h, "client-id")
			return h, body
		}},
		{name: "unknown keyVersion", code: "KEY_NOT_FOUND", inMsg: "keyVersion", build: func(t testing.TB, body []byte) (http.Header, []byte) {
			return signedWith(t, s.key, "2", livePay, id, nowMS(), body), body
		}},
		{name: "request-time 6 minutes old", code: "INVALID_SIGNATURE", inMsg: "window",
			build: std(livePay, strconv.FormatInt(time.Now().Add(-6*time.Minute).UnixMilli(), 10))},
		{name: "request-time 6 minutes ahead", code: "INVALID_SIGNATURE", inMsg: "window",
			build: std(livePay, strconv.FormatInt(time.Now().Add(6*time.Minute).UnixMilli(), 10))},
		{name: "ISO request-time 6 minutes old", code: "INVALID_SIGNATURE", inMsg: "window",
			build: std(livePay, utc("2006-01-02T15:04:05+00:00", -6*time.Minute))},
		{name: "request-time not a time", code: "INVALID_SIGNATURE", inMsg: "request-time", build: std(livePay, "yesterday")},
		{name: "sandbox-signed path sent to live path", code: "INVALID_SIGNATURE", build: std(sandboxPay, nowMS())},
		{name: "live-signed path sent to sandbox path", path: sandboxPay, code: "INVALID_SIGNATURE", build: std(livePay, nowMS())},

		// Accepted forms: the five SDKs' request-time formats (§1.3).
		{name: "epoch ms (Go, Java)", stored: true, build: std(livePay, nowMS())},
		{name: "ISO +00:00 (Python)", stored: true, build: std(livePay, utc("2006-01-02T15:04:05+00:00", 0))},
		{name: "ISO +0000 (PHP)", stored: true, build: std(livePay, utc("2006-01-02T15:04:05-0700", 0))},
		{name: "ISO +0800 (PHP, other default zone)", stored: true, build: std(livePay, time.Now().In(plus8).Format("2006-01-02T15:04:05-0700"))},
		{name: "ISO 7-digit fraction Z (.NET)", stored: true, build: std(livePay, utc("2006-01-02T15:04:05.0000000Z", 0))},
		{name: "ISO +08:00", stored: true, build: std(livePay, time.Now().In(plus8).Format("2006-01-02T15:04:05-07:00"))},
		{name: "request-time 4 minutes old", stored: true, build: std(livePay, strconv.FormatInt(time.Now().Add(-4*time.Minute).UnixMilli(), 10))},
		// Signature header forms.
		{name: "lowercase percent-hex (.NET)", stored: true, build: func(t testing.TB, body []byte) (http.Header, []byte) {
			h := signedWith(t, s.key, "1", livePay, id, nowMS(), body)
			sig := h["signature"][0]
			if !percentHex.MatchString(sig) {
				t.Fatalf("signature %q has no percent-escape to lowercase", sig)
			}
			h["signature"] = []string{percentHex.ReplaceAllStringFunc(sig, strings.ToLower)}
			return h, body
		}},
		{name: "docs form with spaces after commas", stored: true, build: func(t testing.TB, body []byte) (http.Header, []byte) {
			h := signedWith(t, s.key, "1", livePay, id, nowMS(), body)
			h["signature"] = []string{strings.ReplaceAll(h["signature"][0], ",", ", ")}
			if !strings.HasPrefix(h["signature"][0], "algorithm=RSA256, keyVersion=1, signature=") {
				t.Fatalf("unexpected header %q", h["signature"][0])
			}
			return h, body
		}},
		{name: "Go SDK header names and Key-Version header", stored: true, build: func(t testing.TB, body []byte) (http.Header, []byte) {
			rt := nowMS()
			h := http.Header{}
			h.Set("Client-Id", id)
			h.Set("Request-Time", rt)
			h.Set("Signature", signatureHeader(t, s.key, "1", livePay, id, rt, body))
			h.Set("Key-Version", "1")
			h.Add("Content-Type", "application/json")
			h.Add("Content-Type", "application/json; charset=UTF-8")
			h.Set("Agent-Token", "")
			h.Set("Sdk-Version", "global-open-sdk-go")
			return h, body
		}},
		// Both prefixes.
		{name: "sandbox prefix", path: sandboxPay, stored: true, build: std(sandboxPay, nowMS())},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = livePay
			}
			body := mustJSON(t, payRequest(t, fmt.Sprintf("auth-%02d", i)))
			hdr, sent := tc.build(t, body)
			before := s.counts(t)
			r := s.send(t, http.MethodPost, path, hdr, sent)
			if tc.stored {
				expectResult(t, r, "SUCCESS", "S")
				if after := s.counts(t); after.payments != before.payments+1 {
					t.Errorf("payments %d → %d, want one new row", before.payments, after.payments)
				}
				return
			}
			expectResult(t, r, tc.code, "F")
			if tc.inMsg != "" && !strings.Contains(r.message(), tc.inMsg) {
				t.Errorf("resultMessage %q does not mention %q", r.message(), tc.inMsg)
			}
			s.expectNothingStored(t, before)
		})
	}
}
