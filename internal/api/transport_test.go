package api_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTransportRefusals covers what is refused before (or instead of) the API: unknown paths,
// other methods, oversized and non-object bodies. Each answer is a signed HTTP 200 (docs/wire.md
// §1.5) and nothing is stored.
func TestTransportRefusals(t *testing.T) {
	s := newStack(t)
	valid := mustJSON(t, payRequest(t, "transport-1"))
	big := payRequest(t, "transport-big")
	setPath(big, "order.extendInfo", strings.Repeat("x", 70<<10))
	bigBody := mustJSON(t, big)
	setPath(big, "order.extendInfo", strings.Repeat("x", 1<<20))
	hugeBody := mustJSON(t, big)

	cases := []struct {
		name   string
		method string
		path   string
		body   []byte
		code   string
		inMsg  string
	}{
		{"unknown API", "POST", "/ams/api/v1/payments/nope", valid, "NO_INTERFACE_DEF", "/ams/api/v1/payments/nope"},
		{"unknown API, sandbox prefix", "POST", "/ams/sandbox/api/v1/payments/nope", valid, "NO_INTERFACE_DEF", ""},
		{"API not served yet", "POST", "/ams/api/v1/payments/createPaymentSession", []byte(`{"paymentRequestId":"x"}`), "NO_INTERFACE_DEF", "createPaymentSession"},
		{"clock outside the sandbox", "POST", "/ams/api/sandbox/v1/clock/advance", []byte(`{"duration":"15m"}`), "NO_INTERFACE_DEF", ""},
		{"clock under the API prefix", "POST", "/ams/sandbox/api/v1/clock/advance", []byte(`{"duration":"15m"}`), "NO_INTERFACE_DEF", ""},
		{"path outside /ams", "POST", "/v1/payments/pay", valid, "NO_INTERFACE_DEF", ""},
		{"trailing slash", "POST", livePay + "/", valid, "NO_INTERFACE_DEF", ""},
		{"root", "POST", "/", valid, "NO_INTERFACE_DEF", ""},
		// The SDKs' retrievePaymentSession path has "//": answered in place, never redirected
		// (a redirect would break the signature, docs/wire.md §1.2).
		{"double slash", "POST", "/ams/api//v1/payments/retrievePaymentSession", []byte(`{}`), "NO_INTERFACE_DEF", "//v1"},
		{"dot segment", "POST", "/ams/api/v1/payments/../payments/pay", valid, "NO_INTERFACE_DEF", ""},
		{"GET", "GET", livePay, nil, "METHOD_NOT_SUPPORTED", "GET"},
		{"PUT", "PUT", livePay, valid, "METHOD_NOT_SUPPORTED", "PUT"},
		{"body over the limit", "POST", livePay, bigBody, "PARAM_ILLEGAL", "bytes"},
		{"body of 1 MiB", "POST", livePay, hugeBody, "PARAM_ILLEGAL", "bytes"},
		{"not JSON", "POST", livePay, []byte(`paymentRequestId=1`), "PARAM_ILLEGAL", "JSON"},
		{"JSON array", "POST", livePay, []byte(`[` + string(valid) + `]`), "PARAM_ILLEGAL", "object"},
		{"JSON string", "POST", livePay, []byte(`"pay"`), "PARAM_ILLEGAL", "object"},
		{"two JSON objects", "POST", livePay, append(append([]byte{}, valid...), valid...), "PARAM_ILLEGAL", ""},
		{"truncated JSON", "POST", livePay, valid[:len(valid)-1], "PARAM_ILLEGAL", "JSON"},
		{"empty body", "POST", livePay, nil, "PARAM_ILLEGAL", ""},
		{"wrong type", "POST", livePay, []byte(`{"paymentAmount":"4200"}`), "PARAM_ILLEGAL", "paymentAmount"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "body") && len(tc.body) <= 64<<10 {
				t.Fatalf("body of %d bytes is not over the limit", len(tc.body))
			}
			before := s.counts(t)
			r := s.send(t, tc.method, tc.path, s.signedHeaders(t, tc.path, tc.body), tc.body)
			expectResult(t, r, tc.code, "F")
			if !strings.Contains(r.message(), tc.inMsg) {
				t.Errorf("resultMessage %q does not mention %q", r.message(), tc.inMsg)
			}
			s.expectNothingStored(t, before)
		})
	}
}

// rawExchange writes a raw HTTP/1.1 request to the test server and returns the raw bytes of the
// answer, so header spelling and repetition can be checked as they are on the wire.
func rawExchange(t testing.TB, s *stack, request string) []byte {
	t.Helper()
	conn, err := net.Dial("tcp", s.gw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn) // the request says Connection: close
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestRawWire sends requests the way the Python SDK (absolute-form target) and the Go SDK (two
// Content-Type headers, empty Agent-Token) do, and reads the answer byte for byte: the signed
// headers must be lowercase for Python and PHP, Content-Type must appear once, and no other header
// may contain "signature" or "response-time" (PHP takes any such line; docs/wire.md §2.6).
func TestRawWire(t *testing.T) {
	s := newStack(t)
	host := s.gw.Addr
	for _, tc := range []struct {
		name   string
		target string // the request target as written on the request line
		path   string // the path the client signs
		body   []byte
		code   string
	}{
		{"absolute-form pay (Python)", "http://" + host + livePay, livePay, mustJSON(t, payRequest(t, "raw-1")), "SUCCESS"},
		{"absolute-form sandbox inquiry", "http://" + host + sandboxInquiry, sandboxInquiry, []byte(`{"paymentRequestId":"raw-1"}`), "SUCCESS"},
		{"origin-form inquiry", liveInquiry, liveInquiry, []byte(`{"paymentRequestId":"raw-none"}`), "ORDER_NOT_EXIST"},
		{"absolute-form unknown path", "http://" + host + "/ams/api/v1/nothing", "/ams/api/v1/nothing", []byte(`{}`), "NO_INTERFACE_DEF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := nowMS()
			sig := signatureHeader(t, s.key, "1", tc.path, s.merchant.ClientID, rt, tc.body)
			var req bytes.Buffer
			fmt.Fprintf(&req, "POST %s HTTP/1.1\r\n", tc.target)
			fmt.Fprintf(&req, "Host: %s\r\n", host)
			fmt.Fprintf(&req, "Content-Type: application/json\r\n")
			fmt.Fprintf(&req, "Content-Type: application/json; charset=UTF-8\r\n")
			fmt.Fprintf(&req, "Client-Id: %s\r\n", s.merchant.ClientID)
			fmt.Fprintf(&req, "Request-Time: %s\r\n", rt)
			fmt.Fprintf(&req, "Signature: %s\r\n", sig)
			fmt.Fprintf(&req, "Key-Version: 1\r\n")
			fmt.Fprintf(&req, "Agent-Token: \r\n")
			fmt.Fprintf(&req, "Accept: text/plain,text/xml,text/javascript,text/html\r\n")
			fmt.Fprintf(&req, "Content-Length: %d\r\n", len(tc.body))
			fmt.Fprintf(&req, "Connection: close\r\n\r\n")
			req.Write(tc.body)

			raw := rawExchange(t, s, req.String())
			head, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
			if !ok {
				t.Fatalf("no end of headers in %q", raw)
			}
			lines := strings.Split(string(head), "\r\n")
			if lines[0] != "HTTP/1.1 200 OK" {
				t.Fatalf("status line %q", lines[0])
			}
			seen := map[string]int{}
			for _, line := range lines[1:] {
				name, _, ok := strings.Cut(line, ":")
				if !ok {
					t.Fatalf("bad header line %q", line)
				}
				seen[strings.ToLower(name)]++
				lower := strings.ToLower(line)
				switch strings.ToLower(name) {
				case "client-id", "response-time", "signature":
					if name != strings.ToLower(name) {
						t.Errorf("header %q is not lowercase on the wire", name)
					}
				default:
					if strings.Contains(lower, "signature") || strings.Contains(lower, "response-time") {
						t.Errorf("header line %q mentions signature/response-time; PHP would read it as the value", line)
					}
				}
			}
			for _, name := range []string{"content-type", "client-id", "response-time", "signature"} {
				if seen[name] != 1 {
					t.Errorf("%s appears %d times on the wire, want once\n%s", name, seen[name], head)
				}
			}

			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			// The answer is signed over the path the client signed, not the absolute target.
			if u, _ := url.Parse(tc.target); u.Path != tc.path {
				t.Fatalf("test bug: target %s has path %s", tc.target, u.Path)
			}
			r := s.check(t, http.MethodPost, tc.path, s.merchant.ClientID, resp, body)
			expectResult(t, r, tc.code, string(codeStatus(tc.code)))
		})
	}
}

func codeStatus(code string) string {
	switch code {
	case "SUCCESS":
		return "S"
	case "PAYMENT_IN_PROCESS", "UNKNOWN_EXCEPTION":
		return "U"
	}
	return "F"
}

// TestGoClientHeaders sends through net/http the header set the Go SDK sends (canonical names, two
// Content-Type values, an empty Agent-Token, gzip accepted) and the .NET one (lowercase names,
// request-time with a 7-digit fraction).
func TestGoClientHeaders(t *testing.T) {
	s := newStack(t)
	body := mustJSON(t, map[string]any{"paymentRequestId": "nothing-here"})
	rt := nowMS()
	h := http.Header{}
	h.Set("Client-Id", s.merchant.ClientID)
	h.Set("Request-Time", rt)
	h.Set("Signature", signatureHeader(t, s.key, "1", liveInquiry, s.merchant.ClientID, rt, body))
	h.Add("Content-Type", "application/json")
	h.Add("Content-Type", "application/json; charset=UTF-8")
	h.Set("Agent-Token", "")
	h.Set("Accept-Encoding", "gzip")
	r := s.send(t, http.MethodPost, liveInquiry, h, body)
	expectResult(t, r, "ORDER_NOT_EXIST", "F")
	if enc := r.hdr.Get("Content-Encoding"); enc != "" {
		t.Errorf("Content-Encoding %q: the body must be sent exactly as signed", enc)
	}

	rt = time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")
	h = http.Header{
		"client-id":    {s.merchant.ClientID},
		"request-time": {rt},
		"signature":    {signatureHeader(t, s.key, "1", sandboxInquiry, s.merchant.ClientID, rt, body)},
	}
	r = s.send(t, http.MethodPost, sandboxInquiry, h, body) // and no Content-Type at all
	expectResult(t, r, "ORDER_NOT_EXIST", "F")
}

// TestBrowserPathsAreNotFound: a GET outside the API's prefixes (a browser asking for /, its
// favicon) is a plain 404, not a signed NO_INTERFACE_DEF; under the prefixes a GET is still the
// API's METHOD_NOT_SUPPORTED.
func TestBrowserPathsAreNotFound(t *testing.T) {
	s := newStack(t)
	for _, path := range []string{"/", "/favicon.ico", "/robots.txt"} {
		resp, err := s.client.Get(s.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("signature") != "" || !strings.Contains(string(body), "404 page not found") {
			t.Errorf("GET %s: HTTP %d, signature %q, %q", path, resp.StatusCode, resp.Header.Get("signature"), body)
		}
	}
}
