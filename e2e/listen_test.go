package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// TestListenOverBinary: `cardgate listen --set-notify-url --forward-to APP --json` becomes the
// merchant's notify URL, verifies each notification with the gateway key, forwards it as it came to
// the app and relays the app's answer; a forged one is refused and not forwarded; when it stops,
// the notify URL it replaced is back.
func TestListenOverBinary(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	app := ntNewReceiver(t, ntGatewayKey(t, g), ntAck) // the merchant's app, verifying by itself

	cmd := exec.Command(binary, "listen", "--url", g.url, "--data", g.dir, "--set-notify-url", "--json", "--forward-to", app.srv.URL+"/hooks/antom")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("listen ended: %s", stderr.Bytes())
			}
			return l
		case <-time.After(15 * time.Second):
			t.Fatalf("listen printed nothing more; stderr %s", stderr.Bytes())
		}
		return ""
	}
	banner := next()
	url := strings.Fields(strings.TrimPrefix(banner, "cardgate listen: notifications to "))[0]
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/hooks/antom") || !strings.Contains(next(), "the merchant's notify URL is now "+url) {
		t.Fatalf("banner %q", banner)
	}

	// A payment without a notify URL of its own is notified to the merchant's: listen.
	req := payRequest("4242424242424242", "123")
	req.PaymentNotifyURL = ""
	pay := g.pay(req)
	var got struct {
		Verified     bool
		Outcome      string
		Notification map[string]any
	}
	for got.Notification["notifyType"] != "PAYMENT_RESULT" {
		if err := json.Unmarshal([]byte(next()), &got); err != nil {
			t.Fatal(err)
		}
	}
	if !got.Verified || got.Notification["paymentId"] != pay.PaymentID || !strings.Contains(got.Outcome, "forwarded: your app answered HTTP 200") {
		t.Errorf("listen printed %+v", got)
	}
	arrived := app.ntFind(t, "PAYMENT_RESULT", pay.PaymentID)
	if arrived.verified != nil || arrived.path != "/hooks/antom" {
		t.Errorf("the app got a notification that does not verify (%v) at %s", arrived.verified, arrived.path)
	}
	// The gateway took the app's acknowledgement, relayed by listen, as delivered.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := ntOnly(t, g.client, pay.PaymentID, "PAYMENT_RESULT")
		if n.Status == "DELIVERED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notification %s after the relayed acknowledgement", n.Status)
		}
	}

	// A forged notification: refused, not forwarded.
	before := app.count()
	forged, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"notifyType":"PAYMENT_RESULT","paymentId":"forged"}`))
	forged.Header.Set("client-id", g.creds.ClientID)
	forged.Header.Set("request-time", time.Now().UTC().Format(time.RFC3339))
	forged.Header.Set("signature", "algorithm=RSA256,keyVersion=1,signature=bm90IGEgc2lnbmF0dXJl")
	resp, err := http.DefaultClient.Do(forged)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), `"S"`) {
		t.Errorf("forged notification answered HTTP %d %s", resp.StatusCode, body)
	}
	for got.Notification["paymentId"] != "forged" {
		got.Notification = nil
		if err := json.Unmarshal([]byte(next()), &got); err != nil {
			t.Fatal(err)
		}
	}
	if got.Verified || !strings.HasPrefix(got.Outcome, "REFUSED") || app.count() != before {
		t.Errorf("forged: %+v, app saw %d more", got, app.count()-before)
	}

	// Stopped, it puts the notify URL back.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("listen after SIGINT: %v; %s", err, stderr.Bytes())
	}
	var settings protocol.MerchantSettingsResponse
	r, err := g.client.Do(context.Background(), protocol.PathMerchantSettings, []byte(`{}`))
	if err != nil || json.Unmarshal(r.Body, &settings) != nil || settings.NotifyURL != "" {
		t.Errorf("notify URL after listen stopped: %q (%v)", settings.NotifyURL, err)
	}
}
