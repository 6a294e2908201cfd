package api_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/api"
)

// logBuffer collects the API's log lines from concurrent handlers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// reasonCounter reads the gateway's count of unreadable bodies by reason, as an operator's
// scraper reads it: cardgate_http_bad_bodies_total on /metrics.
type reasonCounter struct{ url string }

func (c *reasonCounter) get(reason string) int {
	resp, err := http.Get(c.url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	prefix := `cardgate_http_bad_bodies_total{reason="` + reason + `"} `
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// readTimeout is the test server's read timeout: short, so that slow bodies time out quickly.
const readTimeout = 500 * time.Millisecond

func newBodyStack(t *testing.T) (*stack, *logBuffer, *reasonCounter) {
	t.Helper()
	logs := &logBuffer{}
	s := newStackWith(t, stackOptions{
		log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		server: func(srv *http.Server) {
			// The headers get a generous timeout of their own, as in serve: under a loaded
			// machine a connection must not lose its request line before the body is late.
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, readTimeout, 10*time.Second
		},
	})
	return s, logs, &reasonCounter{url: s.srv.URL}
}

// rawRequest writes a signed inquiry's request line and headers to a fresh TCP connection, with
// a Content-Length of the whole body, then the first sent bytes of the body only.
func rawRequest(t *testing.T, s *stack, body []byte, sent int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: cardgate\r\nContent-Length: %d\r\n", liveInquiry, len(body))
	for k, v := range s.signedHeaders(t, liveInquiry, body) {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v[0])
	}
	head.WriteString("\r\n")
	head.Write(body[:sent])
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readAnswer reads the gateway's answer from conn and checks it like an SDK would.
func readAnswer(t *testing.T, s *stack, conn net.Conn) response {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return s.check(t, http.MethodPost, liveInquiry, s.merchant.ClientID, resp, raw)
}

// TestBadBodiesAreTheClientsFault: a body slower than the read timeout, a body cut short and a
// body over the limit, sent by a real client over TCP, each get a signed F/PARAM_ILLEGAL saying
// what went wrong, are counted by reason, and log nothing at ERROR.
func TestBadBodiesAreTheClientsFault(t *testing.T) {
	body := []byte(`{"paymentRequestId":"body-test-0001","merchantAccountId":"` + strings.Repeat("m", 64) + `"}`)
	tests := []struct {
		name, reason, says string
		send               func(t *testing.T, s *stack) net.Conn
	}{
		{"slow body", api.BodyTimeout, "read timeout", func(t *testing.T, s *stack) net.Conn {
			return rawRequest(t, s, body, 10) // and nothing more: the read deadline passes
		}},
		{"body cut short", api.BodyAborted, "cut short", func(t *testing.T, s *stack) net.Conn {
			conn := rawRequest(t, s, body, 10)
			if err := conn.(*net.TCPConn).CloseWrite(); err != nil { // EOF before Content-Length
				t.Fatal(err)
			}
			return conn
		}},
		{"body over the limit", api.BodyTooLarge, "exceeds", func(t *testing.T, s *stack) net.Conn {
			big := []byte(`{"paymentId":"` + strings.Repeat("9", 70<<10) + `"}`)
			return rawRequest(t, s, big, len(big))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs, bad := newBodyStack(t)
			r := readAnswer(t, s, tt.send(t, s))
			expectResult(t, r, "PARAM_ILLEGAL", "F")
			if !strings.Contains(r.message(), tt.says) {
				t.Errorf("resultMessage %q, want it to say %q", r.message(), tt.says)
			}
			if n := bad.get(tt.reason); n != 1 {
				t.Errorf("bad bodies %q counted %d, want 1", tt.reason, n)
			}
			if n := logs.count("level=ERROR"); n != 0 {
				t.Errorf("%d ERROR lines for a client's bad body", n)
			}
			if n := logs.count("reason=" + tt.reason); n != 1 {
				t.Errorf("%d INFO lines with reason=%s, want 1", n, tt.reason)
			}
		})
	}
}

// TestManySlowBodiesWriteNoErrors is the attack: 200 connections that never finish their body,
// and some that reset the connection mid-body. Not one ERROR line; each counted.
func TestManySlowBodiesWriteNoErrors(t *testing.T) {
	s, logs, bad := newBodyStack(t)
	body := []byte(`{"paymentRequestId":"slow-body-0001"}`)
	const slow, reset = 200, 20
	conns := make([]net.Conn, 0, slow)
	for range slow {
		conns = append(conns, rawRequest(t, s, body, 5))
	}
	for range reset {
		c := rawRequest(t, s, body, 5).(*net.TCPConn)
		_ = c.SetLinger(0) // close with RST: the server's read fails, its answer goes nowhere
		c.Close()
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := readAnswer(t, s, c)
			if r.code() != "PARAM_ILLEGAL" {
				t.Errorf("slow body answered %s", r.code())
			}
		}()
	}
	wg.Wait()
	total := func() int { return bad.get(api.BodyTimeout) + bad.get(api.BodyAborted) }
	deadline := time.Now().Add(5 * time.Second)
	for total() < slow+reset && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the reset connections' handlers may finish last
	}
	// A reset connection whose handler started late may time out before it sees the reset, so
	// only the sum is exact.
	if n := bad.get(api.BodyTimeout); n < slow {
		t.Errorf("timeouts counted %d, want at least the %d slow bodies", n, slow)
	}
	if n := total(); n != slow+reset {
		t.Errorf("bad bodies counted %d, want %d", n, slow+reset)
	}
	if n := logs.count("level=ERROR"); n != 0 {
		t.Errorf("%d ERROR lines from %d slow and %d reset bodies", n, slow, reset)
	}
}
