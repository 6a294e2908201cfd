package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// TestLogsTailOverBinary: `cardgate logs tail` prints the merchant's calls with the request id
// that the gateway's own log lines carry; another merchant's calls are not in it.
func TestLogsTailOverBinary(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	pay := g.pay(payRequest("4242424242424242", "123"))
	g.inquire(pay.PaymentID)
	b, _ := credentials(t, cardgate(t, "merchant", "create", "--data", g.dir, "--name", "Merchant B", "--json"))
	if out, _, code := runCLI(t, "inquire", "--url", g.url, "--data", g.dir, "--client-id", b.ClientID, "--payment-id", pay.PaymentID); code != 1 || !strings.Contains(out, "ORDER_NOT_EXIST") {
		t.Fatalf("merchant B's inquiry: exit %d %s", code, out)
	}
	var calls []protocol.APICall
	for deadline := time.Now().Add(10 * time.Second); len(calls) < 2; time.Sleep(100 * time.Millisecond) {
		out, errOut, code := runCLI(t, "logs", "tail", "--url", g.url, "--data", g.dir, "--json")
		if code != 0 {
			t.Fatalf("logs tail: exit %d %s", code, errOut)
		}
		calls = nil
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var c protocol.APICall
			if line != "" && json.Unmarshal([]byte(line), &c) == nil {
				calls = append(calls, c)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs tail shows %d calls: %s", len(calls), out)
		}
	}
	if len(calls) != 2 || !strings.HasSuffix(calls[0].Path, "/v1/payments/pay") || !strings.HasSuffix(calls[1].Path, "/v1/payments/inquiryPayment") ||
		calls[0].ResultStatus != "S" || calls[0].ResultCode != "SUCCESS" {
		t.Fatalf("calls %+v", calls)
	}
	// The call's request id is the one on the gateway's log line of that call.
	found := false
	for _, line := range strings.Split(string(g.stderr.Bytes()), "\n") {
		if strings.Contains(line, `msg="api call"`) && strings.Contains(line, "/v1/payments/pay") && strings.Contains(line, "requestId="+calls[0].RequestID) {
			found = true
		}
	}
	if !found {
		t.Errorf("no api call log line with requestId=%s", calls[0].RequestID)
	}
	// Merchant B sees its own call only.
	out, _, _ := runCLI(t, "logs", "tail", "--url", g.url, "--data", g.dir, "--client-id", b.ClientID, "--json")
	if strings.Contains(out, "/v1/payments/pay\"") || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "ORDER_NOT_EXIST") {
		t.Errorf("merchant B's log: %s", out)
	}
}
