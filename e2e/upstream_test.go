package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// TestAntomUpstreamOverBinary runs two real gateways: an upstream (a sandbox cardgate standing
// for Antom) and a front one whose only acquirer is that upstream, kind antom, signing as the
// upstream's merchant and verifying its answers and notifications. A merchant calls the front
// one; every operation goes on to the upstream over real HTTP with real signatures, and the
// upstream's notifications come back, verified.
func TestAntomUpstreamOverBinary(t *testing.T) {
	up := startGateway(t)
	dir := t.TempDir()
	keyFile, pubFile := filepath.Join(dir, "platform.key"), filepath.Join(dir, "upstream.pub")
	if err := os.WriteFile(keyFile, []byte(up.creds.MerchantPrivateKey), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, []byte(up.creds.GatewayPublicKey), 0o644); err != nil {
		t.Fatal(err)
	}
	list, _ := json.Marshal([]map[string]string{{"name": "UPSTREAM", "kind": "antom", "url": up.url, "clientId": up.creds.ClientID,
		"privateKeyFile": keyFile, "publicKeyFile": pubFile}})
	acqFile := filepath.Join(dir, "acquirers.json")
	if err := os.WriteFile(acqFile, list, 0o644); err != nil {
		t.Fatal(err)
	}
	front := startGateway(t, "--acquirers", acqFile)
	ctx := context.Background()

	// Approved, captured, refunded: each answer names the upstream, and the upstream has the
	// payment under the front gateway's own payment id.
	req := payRequest("4054695723100768", "123")
	req.PaymentFactor.CaptureMode = "MANUAL"
	paid := front.pay(req)
	if paid.Result.ResultStatus != "S" || paid.AcquirerInfo == nil || paid.AcquirerInfo.AcquirerName != "UPSTREAM" {
		t.Fatalf("pay: %+v, acquirerInfo %+v", paid.Result, paid.AcquirerInfo)
	}
	upstreamID := paid.AcquirerInfo.AcquirerTransactionID
	seen, err := up.client.InquiryPayment(ctx, &protocol.InquiryPaymentRequest{PaymentRequestID: paid.PaymentID})
	if err != nil || seen.PaymentStatus != "SUCCESS" || seen.PaymentID != upstreamID {
		t.Fatalf("upstream's view: %+v %v, want SUCCESS as %s", seen, err, upstreamID)
	}
	capt, err := front.client.Capture(ctx, &protocol.CaptureRequest{CaptureRequestID: newRequestID("cap"), PaymentID: paid.PaymentID, CaptureAmount: paid.PaymentAmount})
	if err != nil || capt.Result.ResultStatus != "S" {
		t.Fatalf("capture: %+v %v", capt, err)
	}
	ref, err := front.client.Refund(ctx, &protocol.RefundRequest{RefundRequestID: newRequestID("ref"), PaymentID: paid.PaymentID,
		RefundAmount: &protocol.Amount{Currency: "SGD", Value: "1000"}})
	if err != nil || ref.Result.ResultStatus != "S" {
		t.Fatalf("refund: %+v %v", ref, err)
	}
	seen, err = up.client.InquiryPayment(ctx, &protocol.InquiryPaymentRequest{PaymentID: upstreamID})
	if err != nil || len(seen.Transactions) < 2 {
		t.Fatalf("upstream transactions: %+v %v, want the capture and the refund", seen, err)
	}
	// The merchant is shown the upstream's own ids for the capture and the refund (what the
	// upstream's reports carry), in the answers and in the front's inquiry.
	upIDs := map[string]string{}
	for _, tx := range seen.Transactions {
		upIDs[tx.TransactionType] = tx.TransactionID
	}
	if capt.AcquirerReferenceNo == "" || capt.AcquirerReferenceNo != upIDs["CAPTURE"] {
		t.Errorf("capture acquirerReferenceNo %q, want the upstream's captureId %q", capt.AcquirerReferenceNo, upIDs["CAPTURE"])
	}
	if ref.AcquirerReferenceNo == "" || ref.AcquirerReferenceNo != upIDs["REFUND"] {
		t.Errorf("refund acquirerReferenceNo %q, want the upstream's refundId %q", ref.AcquirerReferenceNo, upIDs["REFUND"])
	}
	for _, tx := range front.inquire(paid.PaymentID).Transactions {
		if want := upIDs[tx.TransactionType]; tx.AcquirerInfo == nil || tx.AcquirerInfo.AcquirerTransactionID != want {
			t.Errorf("front inquiry %s: acquirerInfo %+v, want the upstream's id %q", tx.TransactionType, tx.AcquirerInfo, want)
		}
	}

	// Local card fields reach the upstream, which checks them again: a Brazilian card with its CPF
	// and e-mail pays; the Korean issuer-authentication flow is refused through an upstream.
	if br := front.pay(payRequest("4000000760000002", "123")); br.Result.ResultStatus != "S" {
		t.Fatalf("BR card through the upstream: %+v", br.Result)
	}
	cbVisa := payRequest("4970100000000006", "123")
	cbVisa.PaymentMethod.PaymentMethodMetaData.SelectedCardBrand = "VISA"
	if r := front.pay(cbVisa); r.Result.ResultStatus != "S" || r.PaymentResultInfo.CardBrand != "VISA" {
		t.Fatalf("co-badged VISA through the upstream: %+v %+v", r.Result, r.PaymentResultInfo)
	} else if seen, err := up.client.InquiryPayment(ctx, &protocol.InquiryPaymentRequest{PaymentRequestID: r.PaymentID}); err != nil ||
		seen.PaymentResultInfo == nil || seen.PaymentResultInfo.CardBrand != "VISA" {
		t.Fatalf("the upstream's view of the co-badged payment: %+v %v, want VISA as chosen", seen, err)
	}
	krAuth := payRequest("4000004100000003", "")
	krAuth.PaymentMethod.RequireIssuerAuthentication = true
	if r := front.pay(krAuth); r.Result.ResultCode != "PARAM_ILLEGAL" || !strings.Contains(r.Result.ResultMessage, "upstream acquirer UPSTREAM") {
		t.Fatalf("issuer authentication through the upstream: %+v", r.Result)
	}

	// A decline comes back as the upstream's decline; nothing fails over (one acquirer).
	declined := front.pay(payRequest("4000000000000002", "123"))
	if declined.Result.ResultCode != "DO_NOT_HONOR" {
		t.Fatalf("decline: %+v", declined.Result)
	}

	// The timeout card: U at the front while the upstream waits; once the upstream's clock
	// moves, the front learns the approval by its own inquiry.
	late := front.pay(payRequest("4000000000000119", "123"))
	if late.Result.ResultStatus != "U" {
		t.Fatalf("timeout card: %+v", late.Result)
	}
	body := []byte(`{"duration":"10s"}`)
	moved := time.Now()
	if r, err := up.client.Do(ctx, protocol.PathSandboxClockAdvance, body); err != nil || r.StatusCode != 200 {
		t.Fatalf("upstream clock: %v", err)
	}
	front.waitForStatus(late.PaymentID, "SUCCESS", 20*time.Second, "the late approval")
	// The upstream's PAYMENT_RESULT makes the front ask at once rather than at its next 2 s check.
	t.Logf("late approval reached the front %v after the upstream had it", time.Since(moved).Round(time.Millisecond))

	// 3-D Secure at the upstream: the front answers U with the upstream's challenge page as
	// normalUrl; once the buyer passes it there, the front learns the approval.
	threeDS := payRequest("4054695723100768", "123")
	threeDS.PaymentMethod.PaymentMethodMetaData.Is3DSAuthentication = true
	challenged := front.pay(threeDS)
	if challenged.Result.ResultCode != "PAYMENT_IN_PROCESS" || !strings.HasPrefix(challenged.NormalURL, up.url+"/") {
		t.Fatalf("3DS pay: %+v normalUrl %q, want U with the upstream's page (%s)", challenged.Result, challenged.NormalURL, up.url)
	}
	buyer := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := buyer.PostForm(challenged.NormalURL, url.Values{"otp": {"1234"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != threeDS.PaymentRedirectURL {
		t.Fatalf("the upstream's challenge: HTTP %d to %q, want 303 to the merchant's %q", resp.StatusCode, resp.Header.Get("Location"), threeDS.PaymentRedirectURL)
	}
	front.waitForStatus(challenged.PaymentID, "SUCCESS", 20*time.Second, "the authenticated approval")

	// The hosted card page over the upstream: the buyer types the card on the front gateway's
	// page and is sent on to the upstream's challenge (the upstream authenticates, not the front's
	// own 3-D Secure), then back to the merchant; the front learns the approval.
	hosted := hpPayRequest("buyer-up", "")
	page := front.pay(hosted)
	if page.Result.ResultStatus != "U" || !strings.HasPrefix(page.NormalURL, front.url+"/checkout/") {
		t.Fatalf("hosted pay: %+v normalUrl %q", page.Result, page.NormalURL)
	}
	resp, err = buyer.PostForm(page.NormalURL, hpCardForm("4054695723100768", "123"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	challengePage := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(challengePage, up.url+"/") {
		t.Fatalf("card form: HTTP %d to %q, want 303 to the upstream's challenge (%s)", resp.StatusCode, challengePage, up.url)
	}
	if inq := front.inquire(page.PaymentID); inq.PaymentStatus != "PROCESSING" {
		t.Fatalf("front inquiry while the buyer is at the upstream: %s", inq.PaymentStatus)
	}
	// The card page itself now leads there too (a buyer who reloads it).
	resp, err = buyer.Get(page.NormalURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != challengePage {
		t.Fatalf("card page after the card: HTTP %d to %q, want the upstream's challenge", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = buyer.PostForm(challengePage, url.Values{"otp": {"1234"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != hpRedirect {
		t.Fatalf("the upstream's challenge: HTTP %d to %q, want 303 to the merchant's %q", resp.StatusCode, resp.Header.Get("Location"), hpRedirect)
	}
	front.waitForStatus(page.PaymentID, "SUCCESS", 20*time.Second, "the hosted approval")
	if inq := front.inquire(page.PaymentID); inq.AcquirerInfo == nil || inq.AcquirerInfo.AcquirerName != "UPSTREAM" {
		t.Fatalf("hosted payment's acquirerInfo %+v, want UPSTREAM", inq.AcquirerInfo)
	}

	// The upstream's notifications reached the front gateway, verified by the upstream's key.
	deadline := time.Now().Add(20 * time.Second)
	for _, kind := range []string{"PAYMENT_RESULT", "CAPTURE_RESULT", "REFUND_RESULT"} {
		for !bytes.Contains(front.stderr.Bytes(), []byte(`msg="upstream notification" acquirer=UPSTREAM notifyType=`+kind)) {
			if time.Now().After(deadline) {
				t.Fatalf("no verified %s from the upstream in the front's log:\n%s", kind, tail(front.stderr.Bytes(), 40))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// waitForStatus inquires until the payment shows status, failing the test after timeout.
func (g *gateway) waitForStatus(paymentID, status string, timeout time.Duration, what string) {
	g.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		inq := g.inquire(paymentID)
		if inq.PaymentStatus == status {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%s: %s/%s after %s, want %s", what, inq.PaymentStatus, inq.PaymentResultCode, timeout, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(b []byte, lines int) string {
	all := strings.Split(string(b), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
