package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// TestLocalCardsOverHTTP: over the real binary, a pay with each local test card (seed 000) is
// accepted with its country's fields and refused, naming the field, without one of them.
func TestLocalCardsOverHTTP(t *testing.T) {
	g := startGateway(t)
	tests := []struct {
		pan, cvv string
		strip    func(md *protocol.CardMetaData)
		field    string
	}{
		{"4000004100000003", "", func(md *protocol.CardMetaData) { md.CardPasswordDigest = "" }, "cardPasswordDigest"},
		{"4000004100000003", "", func(md *protocol.CardMetaData) { md.DateOfBirth = "1990-02-30" }, "dateOfBirth"},
		{"4000000760000002", "123", func(md *protocol.CardMetaData) { md.CPF = "11111111111" }, "cpf"},
		{"4000000760000002", "123", func(md *protocol.CardMetaData) { md.PayerEmail = "" }, "payerEmail"},
		{"4000001520000001", "123", func(md *protocol.CardMetaData) { md.CVV = "" }, "cvv"},
		{"4000004840008001", "123", func(md *protocol.CardMetaData) { md.PayerEmail = "" }, "payerEmail"},
		{"4000006040000068", "123", func(md *protocol.CardMetaData) { md.CVV = "" }, "cvv"},
		{"4000007920000004", "123", func(md *protocol.CardMetaData) { md.CardholderName = nil }, "cardholderName"},
		{"9792000000000003", "123", func(md *protocol.CardMetaData) { md.CVV = "" }, "cvv"},
	}
	for _, tt := range tests {
		t.Run(tt.pan+" "+tt.field, func(t *testing.T) {
			ok := payRequest(tt.pan, tt.cvv)
			if tt.pan == "4000004100000003" {
				ok.PaymentMethod.PaymentMethodMetaData.CardholderName = nil // not required for KR
			}
			if r := g.pay(ok); r.Result.ResultStatus != "S" {
				t.Fatalf("with its fields: %+v", r.Result)
			}
			bad := payRequest(tt.pan, tt.cvv)
			tt.strip(bad.PaymentMethod.PaymentMethodMetaData)
			r := g.pay(bad)
			if r.Result.ResultStatus != "F" || r.Result.ResultCode != "PARAM_ILLEGAL" ||
				!strings.Contains(r.Result.ResultMessage, "paymentMethod.paymentMethodMetaData."+tt.field) || r.PaymentID != "" {
				t.Fatalf("without %s: %+v paymentId %q", tt.field, r.Result, r.PaymentID)
			}
		})
	}
}

// TestKoreanIssuerAuthenticationOverHTTP drives seed 002's Korean flow: pay answers U with the
// issuer page, the buyer GETs it and POSTs the code 1234, inquiry answers S (captured), and the
// PAYMENT_RESULT notification carries paymentMethodRegion KR and no 3-D Secure values.
func TestKoreanIssuerAuthenticationOverHTTP(t *testing.T) {
	g := startGateway(t)
	web := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	manual := payRequest("4000004100000003", "")
	manual.PaymentMethod.RequireIssuerAuthentication = true
	manual.PaymentFactor.CaptureMode = "MANUAL"
	if r := g.pay(manual); r.Result.ResultCode != "PARAM_ILLEGAL" || !strings.Contains(r.Result.ResultMessage, "paymentFactor.captureMode") {
		t.Fatalf("MANUAL: %+v", r.Result)
	}

	req := payRequest("4000004100000003", "")
	req.PaymentMethod.RequireIssuerAuthentication = true
	req.PaymentAmount = &protocol.Amount{Currency: "KRW", Value: "120"}
	req.Order.OrderAmount = req.PaymentAmount
	r := g.pay(req)
	if r.Result.ResultStatus != "U" || r.Result.ResultCode != "PAYMENT_IN_PROCESS" || !strings.Contains(r.NormalURL, "/issuer-auth/") {
		t.Fatalf("pay: %+v normalUrl %q", r.Result, r.NormalURL)
	}
	page, err := web.Get(r.NormalURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(body), "Card issuer authentication") || strings.Contains(string(body), "3-D Secure") {
		t.Fatalf("GET page: %d %s", page.StatusCode, body)
	}
	post, err := web.PostForm(r.NormalURL, url.Values{"otp": {"1234"}})
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusSeeOther || post.Header.Get("Location") != req.PaymentRedirectURL {
		t.Fatalf("POST code: %d to %q", post.StatusCode, post.Header.Get("Location"))
	}
	inq := g.inquire(r.PaymentID)
	if inq.PaymentStatus != "SUCCESS" || inq.CardInfo == nil || inq.CardInfo.PaymentMethodRegion != "KR" ||
		inq.CardInfo.ThreeDSResult == nil || inq.CardInfo.ThreeDSResult.ECI != "" || inq.CardInfo.ThreeDSResult.CAVV != "" {
		t.Fatalf("inquiry: %s %+v", inq.PaymentStatus, inq.CardInfo)
	}
	var captured bool
	for _, tx := range inq.Transactions {
		captured = captured || tx.TransactionType == "CAPTURE" && tx.TransactionStatus == "SUCCESS"
	}
	if !captured {
		t.Fatalf("not captured automatically: %+v", inq.Transactions)
	}
	n := ntOnly(t, g.client, r.PaymentID, "PAYMENT_RESULT")
	var np struct {
		Result   protocol.Result `json:"result"`
		CardInfo struct {
			PaymentMethodRegion string                     `json:"paymentMethodRegion"`
			ThreeDSResult       map[string]json.RawMessage `json:"threeDSResult"`
		} `json:"cardInfo"`
	}
	if err := json.Unmarshal([]byte(n.Body), &np); err != nil {
		t.Fatal(err)
	}
	if np.Result.ResultStatus != "S" || np.CardInfo.PaymentMethodRegion != "KR" ||
		string(np.CardInfo.ThreeDSResult["eci"]) != `""` || string(np.CardInfo.ThreeDSResult["cavv"]) != `""` || len(np.CardInfo.ThreeDSResult) != 2 {
		t.Fatalf("notification: %s", n.Body)
	}
}
