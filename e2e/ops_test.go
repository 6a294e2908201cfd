package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
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

// TestOperatorEndpoints: /healthz and /readyz answer, and /metrics shows the API calls by result
// code, the acquirer's latency, the notification attempts and the outbox gauges.
func TestOperatorEndpoints(t *testing.T) {
	g := startGateway(t)
	if code, body := get(t, g.url+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, g.url+"/readyz"); code != 200 || !strings.Contains(body, "ready") {
		t.Errorf("/readyz: %d %q", code, body)
	}
	g.pay(payRequest("4242424242424242", "123"))
	g.pay(payRequest("4000000000000002", "123"))
	_, metrics := get(t, g.url+"/metrics")
	for _, want := range []string{
		`cardgate_api_requests_total{api="payments/pay",result_code="SUCCESS"} 1`,
		`cardgate_api_requests_total{api="payments/pay",result_code="DO_NOT_HONOR"} 1`,
		`cardgate_api_request_duration_seconds_bucket{api="payments/pay"`,
		`cardgate_acquirer_call_duration_seconds_count{acquirer="CARDGATE_SIM",op="authorize",outcome="approved"} 1`,
		`cardgate_acquirer_call_duration_seconds_count{acquirer="CARDGATE_SIM",op="capture",outcome="succeeded"} 1`,
		`cardgate_outbox_pending `,
		`cardgate_outbox_oldest_pending_age_seconds `,
		`cardgate_notification_attempts_total{`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The access log carries a request id for every call and no card data (checked elsewhere).
	if !strings.Contains(string(g.stderr.Bytes()), "requestId=") {
		t.Error("the access log has no request ids")
	}
}
