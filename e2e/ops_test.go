package e2e

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestOperatorEndpoints: /healthz, /readyz and /openapi.json answer, and /metrics shows the API
// calls by result code, the acquirer's latency, the notification attempts and the outbox gauges.
func TestOperatorEndpoints(t *testing.T) {
	g := startGateway(t)
	if code, body := get(t, g.url+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, g.url+"/readyz"); code != 200 || !strings.Contains(body, "ready") {
		t.Errorf("/readyz: %d %q", code, body)
	}
	// The API's description, unsigned; internal/openapi checks what it says.
	if code, body := get(t, g.url+"/openapi.json"); code != 200 || !strings.Contains(body, `"openapi": "3.1.0"`) {
		t.Errorf("/openapi.json: %d, %d bytes", code, len(body))
	}
	approved := g.pay(payRequest("4242424242424242", "123"))
	g.pay(payRequest("4000000000000002", "123"))
	acq := approved.AcquirerInfo.AcquirerName // the acquirer the payment was routed to
	if answer := cutShortBody(t, g.url); !strings.Contains(answer, `"resultCode":"PARAM_ILLEGAL"`) {
		t.Errorf("a body cut short answered:\n%s", answer)
	}
	_, metrics := get(t, g.url+"/metrics")
	for _, want := range []string{
		`cardgate_api_requests_total{api="payments/pay",result_code="SUCCESS"} 1`,
		`cardgate_api_requests_total{api="payments/pay",result_code="DO_NOT_HONOR"} 1`,
		`cardgate_api_request_duration_seconds_bucket{api="payments/pay"`,
		`cardgate_acquirer_call_duration_seconds_count{acquirer="` + acq + `",op="authorize",outcome="approved"} 1`,
		`cardgate_acquirer_call_duration_seconds_count{acquirer="` + acq + `",op="capture",outcome="succeeded"} 1`,
		`cardgate_acquirer_breaker_open{acquirer="ALIPAY"} 0`,
		`cardgate_acquirer_breaker_open{acquirer="ADYEN"} 0`,
		`cardgate_acquirer_breaker_open{acquirer="CHECKOUT"} 0`,
		`cardgate_outbox_pending `,
		`cardgate_outbox_oldest_pending_age_seconds `,
		`cardgate_notification_attempts_total{`,
		`cardgate_http_bad_bodies_total{reason="aborted"} 1`,
		`cardgate_http_bad_bodies_total{reason="timeout"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The access log carries a request id for every call and no card data (checked elsewhere).
	if !strings.Contains(string(g.stderr.Bytes()), "requestId=") {
		t.Error("the access log has no request ids")
	}
	if strings.Contains(string(g.stderr.Bytes()), "level=ERROR") {
		t.Errorf("ERROR lines in the log:\n%s", g.stderr.Bytes())
	}
}

// cutShortBody sends an API call whose body stops before its Content-Length (the client closes
// its side) and returns the raw answer.
func cutShortBody(t *testing.T, base string) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /ams/api/v1/payments/inquiryPayment HTTP/1.1\r\nHost: cardgate\r\n"+
		"Content-Type: application/json\r\nclient-id: SANDBOX_X\r\nContent-Length: 100\r\n\r\n{\"paymentId\":")
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	return string(b)
}
