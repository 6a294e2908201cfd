package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/threeds"
)

// TestExampleShop runs examples/shop against the real gateway, both as processes talking HTTP: a
// buyer buys on the shop, types the card on the gateway's hosted page, comes back; the shop
// learns the result from the signed notification (or its inquiry), ships (captures) and refunds.
func TestExampleShop(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	creds := filepath.Join(t.TempDir(), "creds.json")
	raw, _ := json.Marshal(g.creds)
	if err := os.WriteFile(creds, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shopBinary, "--gateway", g.url, "--credentials", creds, "--addr", "127.0.0.1:0")
	out, _ := cmd.StdoutPipe()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("shop: %v %s", err, stderr.Bytes())
	}
	shop := strings.TrimSpace(strings.TrimPrefix(line, "shop listening on "))

	jar, _ := cookiejar.New(nil)
	buyer := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	// Buy: the shop redirects to the gateway's card page.
	resp, err := buyer.PostForm(shop+"/buy", nil)
	if err != nil {
		t.Fatal(err)
	}
	cardPage := resp.Request.URL.String()
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(cardPage, g.url) || !strings.Contains(string(html), `name="cardNo"`) {
		t.Fatalf("after buy the buyer is at %s: %.300s", cardPage, html)
	}
	// The card typed on the gateway's page; the gateway sends the buyer back to the shop.
	resp, err = buyer.PostForm(cardPage, url.Values{"cardNo": {"4242424242424242"}, "expiryMonth": {"12"}, "expiryYear": {"30"},
		"cvv": {"123"}, "cardholderName": {"Ada Buyer"}})
	if err != nil {
		t.Fatal(err)
	}
	html, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if at := resp.Request.URL.String(); strings.Contains(at, "/threeds/") {
		// The hosted page authenticates the buyer: the sandbox issuer's code.
		if resp, err = buyer.PostForm(at, url.Values{"otp": {threeds.Code}}); err != nil {
			t.Fatal(err)
		}
		html, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if !strings.HasPrefix(resp.Request.URL.String(), shop+"/?msg=order-1") {
		t.Fatalf("after the card page the buyer is at %s: %.300s", resp.Request.URL, html)
	}
	orders := func() []map[string]any {
		t.Helper()
		r, err := http.Get(shop + "/orders.json")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var list []map[string]any
		_ = json.NewDecoder(r.Body).Decode(&list)
		return list
	}
	waitStatus := func(want string) map[string]any {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			list := orders()
			if len(list) == 1 && list[0]["Status"] == want {
				return list[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("orders %v, want one %s; shop log %s", list, want, stderr.Bytes())
			}
		}
	}
	o := waitStatus("PAID")
	if !regexp.MustCompile(`^[0-9]{35}$`).MatchString(o["PaymentID"].(string)) {
		t.Errorf("order %v", o)
	}
	// The notification reached the shop, which verified and acknowledged it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := ntOnly(t, g.client, o["PaymentID"].(string), "PAYMENT_RESULT")
		if n.Status == "DELIVERED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PAYMENT_RESULT to the shop is %s: %+v", n.Status, n.AttemptLog)
		}
	}
	for _, step := range []struct{ action, want string }{{"ship", "SHIPPED"}, {"refund", "REFUNDED"}} {
		resp, err := buyer.PostForm(shop+"/orders/order-1/"+step.action, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		waitStatus(step.want)
	}
	inq := g.inquire(o["PaymentID"].(string))
	if inq.PaymentStatus != "SUCCESS" || len(inq.Transactions) < 2 {
		t.Errorf("the gateway's view: %s, %d transactions", inq.PaymentStatus, len(inq.Transactions))
	}
}
