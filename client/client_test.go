package client_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/protocol"
)

// fakeGateway checks the client's request signature and answers with a body signed as configured.
type fakeGateway struct {
	t         *testing.T
	merchant  *rsa.PublicKey
	gateway   *rsa.PrivateKey
	body      string
	signAs    string // client id put into the signed content
	tamper    bool
	noSig     bool
	seenPaths []string
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.seenPaths = append(f.seenPaths, r.URL.Path)
	sh, err := protocol.ParseSignatureHeader(r.Header.Get("signature"))
	if err != nil {
		f.t.Errorf("request signature header: %v", err)
	}
	content := protocol.SigningContent(r.Method, r.URL.Path, r.Header.Get("client-id"), r.Header.Get("request-time"), body)
	if err := protocol.Verify(f.merchant, content, sh.Signature); err != nil {
		f.t.Errorf("request signature does not verify: %v", err)
	}
	respTime := "2026-11-21T10:00:00+00:00"
	sig, _ := protocol.Sign(f.gateway, protocol.SigningContent("POST", r.URL.Path, f.signAs, respTime, []byte(f.body)))
	out := f.body
	if f.tamper {
		out = strings.Replace(out, "SUCCESS", "SUCCEED", 1)
	}
	w.Header()["response-time"] = []string{respTime}
	w.Header()["client-id"] = []string{f.signAs}
	if !f.noSig {
		w.Header()["signature"] = []string{protocol.SignatureHeader{Signature: sig}.String()}
	}
	_, _ = io.WriteString(w, out)
}

func TestClientSignsAndVerifies(t *testing.T) {
	merchantKey, _ := protocol.GenerateKey()
	gatewayKey, _ := protocol.GenerateKey()
	privB64, _ := protocol.EncodePrivateKeyPKCS8(merchantKey)
	gwPub, _ := protocol.EncodePublicKey(&gatewayKey.PublicKey)
	const ok = `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},"paymentStatus":"SUCCESS"}`

	for _, tc := range []struct {
		name     string
		clientID string
		signAs   string
		tamper   bool
		noSig    bool
		wantErr  bool
		wantPath string
	}{
		{"sandbox id uses sandbox path", "SANDBOX_A", "SANDBOX_A", false, false, false, "/ams/sandbox/api/v1/payments/inquiryPayment"},
		{"live id uses live path", "LIVE_A", "LIVE_A", false, false, false, "/ams/api/v1/payments/inquiryPayment"},
		{"tampered body", "SANDBOX_A", "SANDBOX_A", true, false, true, ""},
		{"missing signature", "SANDBOX_A", "SANDBOX_A", false, true, true, ""},
		{"signed for another merchant", "SANDBOX_A", "SANDBOX_B", false, false, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeGateway{t: t, merchant: &merchantKey.PublicKey, gateway: gatewayKey, body: ok, signAs: tc.signAs, tamper: tc.tamper, noSig: tc.noSig}
			srv := httptest.NewServer(f)
			defer srv.Close()
			c, err := client.New(client.Config{BaseURL: srv.URL, ClientID: tc.clientID, PrivateKey: privB64, GatewayPublicKey: gwPub})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.InquiryPayment(context.Background(), &protocol.InquiryPaymentRequest{PaymentID: "P1"})
			if tc.wantErr {
				if !errors.Is(err, client.ErrSignature) {
					t.Fatalf("err %v, want ErrSignature", err)
				}
				return
			}
			if err != nil || resp.PaymentStatus != "SUCCESS" {
				t.Fatalf("%v %+v", err, resp)
			}
			if f.seenPaths[0] != tc.wantPath {
				t.Errorf("path %s, want %s", f.seenPaths[0], tc.wantPath)
			}
		})
	}
}

func TestNewRejectsBadKeys(t *testing.T) {
	if _, err := client.New(client.Config{BaseURL: "http://x", ClientID: "A", PrivateKey: "nope", GatewayPublicKey: "nope"}); err == nil {
		t.Fatal("accepted garbage keys")
	}
}

// TestReport: a report answer (CSV, JSON, or a refusal) is copied to the writer whole once its
// signature verifies, with the result it carries; a tampered or unsigned one writes nothing.
func TestReport(t *testing.T) {
	merchantKey, _ := protocol.GenerateKey()
	gatewayKey, _ := protocol.GenerateKey()
	privB64, _ := protocol.EncodePrivateKeyPKCS8(merchantKey)
	gwPub, _ := protocol.EncodePublicKey(&gatewayKey.PublicKey)
	const (
		csvReport  = "settlementCurrency,gross,refunds,disputeDebits,fees,net,lines\nUSD,3111,-741,0,0,2370,3\n"
		jsonReport = `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},"report":"settlement","date":"2026-11-21","currencies":[` + "\n" + `{"settlementCurrency":"USD"}` + "\n]}\n"
		refusal    = `{"result":{"resultCode":"PARAM_ILLEGAL","resultStatus":"F","resultMessage":"date is required"}}`
	)
	for _, tc := range []struct {
		name, body    string
		tamper, noSig bool
		code          string
		wantErr       error
	}{
		{"csv", csvReport, false, false, "SUCCESS", nil},
		{"json", jsonReport, false, false, "SUCCESS", nil},
		{"refusal", refusal, false, false, "PARAM_ILLEGAL", nil},
		{"tampered", jsonReport, true, false, "", client.ErrSignature},
		{"unsigned", csvReport, false, true, "", client.ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeGateway{t: t, merchant: &merchantKey.PublicKey, gateway: gatewayKey, body: tc.body, signAs: "SANDBOX_A", tamper: tc.tamper, noSig: tc.noSig}
			srv := httptest.NewServer(f)
			defer srv.Close()
			c, err := client.New(client.Config{BaseURL: srv.URL, ClientID: "SANDBOX_A", PrivateKey: privB64, GatewayPublicKey: gwPub})
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			res, err := c.Report(context.Background(), protocol.PathReportSettlement, &protocol.ReportRequest{Date: "2026-11-21"}, &out)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || out.Len() != 0 {
					t.Fatalf("err %v, wrote %q; want %v and nothing written", err, out.String(), tc.wantErr)
				}
				return
			}
			if err != nil || res.ResultCode != tc.code || out.String() != tc.body {
				t.Fatalf("result %+v, %v, wrote %q", res, err, out.String())
			}
			if f.seenPaths[0] != protocol.PathReportSettlement {
				t.Errorf("posted to %s", f.seenPaths[0])
			}
		})
	}
}
