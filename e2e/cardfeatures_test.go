package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/protocol"
)

// TestCardFeaturesOverBinary: the card features of seeds 000/001 over the real binary, each
// accepted, refused naming its field, and echoed in pay, inquiry and the notification. It logs
// one line per feature, the table of the note.
func TestCardFeaturesOverBinary(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	rcv := ntNewReceiver(t, ntGatewayKey(t, f.gateway), ntAck)
	ctx := context.Background()
	pay := func(req *protocol.PayRequest) *protocol.PayResponse {
		t.Helper()
		req.PaymentNotifyURL = rcv.srv.URL + "/notify"
		f.card(req.PaymentMethod.PaymentMethodMetaData.CardNo, req.PaymentMethod.PaymentMethodMetaData.CVV)
		return f.pay(req)
	}
	refused := func(what string, req *protocol.PayRequest, field string) string {
		t.Helper()
		r := pay(req)
		if r.Result.ResultStatus != "F" || r.Result.ResultCode != "PARAM_ILLEGAL" || !strings.Contains(r.Result.ResultMessage, field) {
			t.Errorf("%s: %+v, want PARAM_ILLEGAL naming %s", what, r.Result, field)
		}
		return r.Result.ResultCode
	}
	notified := func(p *protocol.PayResponse) map[string]any {
		t.Helper()
		info, _ := rcv.ntFind(t, "PAYMENT_RESULT", p.PaymentID).msg["paymentResultInfo"].(map[string]any)
		return info
	}
	row := func(feature, accepted, refusal, pay, inquiry, notice string) {
		t.Logf("| %s | %s | %s | %s | %s | %s |", feature, accepted, refusal, pay, inquiry, notice)
	}

	// MIT / card on file: the first payment's network transaction id carries the later ones.
	cit := pay(payRequest("4242424242424242", "123"))
	nti := cit.PaymentResultInfo.NetworkTransactionID
	if cit.Result.ResultStatus != "S" || nti == "" {
		t.Fatalf("first payment: %+v ntid %q", cit.Result, nti)
	}
	mitReq := func(ntid string) *protocol.PayRequest {
		r := payRequest("4242424242424242", "")
		m := r.PaymentMethod.PaymentMethodMetaData
		m.IsCardOnFile, m.NetworkTransactionID, m.MITType = true, ntid, "RECURRING"
		return r
	}
	mit := pay(mitReq(nti))
	if mit.Result.ResultStatus != "S" || mit.PaymentResultInfo.NetworkTransactionID == "" {
		t.Fatalf("MIT: %+v", mit.Result)
	}
	inq := f.inquire(mit.PaymentID)
	row("MIT (isCardOnFile + networkTransactionId, mitType RECURRING)", "S", refused("unknown ntid", mitReq("999999999999999"), "networkTransactionId"),
		"networkTransactionId "+mit.PaymentResultInfo.NetworkTransactionID, "networkTransactionId "+inq.PaymentResultInfo.NetworkTransactionID,
		"networkTransactionId "+str(notified(mit)["networkTransactionId"]))
	withCVV := mitReq(nti)
	withCVV.PaymentMethod.PaymentMethodMetaData.CVV = "123"
	refused("MIT with a CVV", withCVV, "cvv")
	badType := mitReq(nti)
	badType.PaymentMethod.PaymentMethodMetaData.MITType = "WEEKLY"
	refused("MIT of an unknown type", badType, "mitType")
	otherCard := mitReq(nti)
	otherCard.PaymentMethod.PaymentMethodMetaData.CardNo = "5555555555554444"
	refused("MIT on another card", otherCard, "networkTransactionId")

	// Co-badged: the domestic brand unless the merchant chooses one the card carries.
	cb := pay(payRequest("4970100000000006", "123"))
	visaReq := payRequest("4970100000000006", "123")
	visaReq.PaymentMethod.PaymentMethodMetaData.SelectedCardBrand = "VISA"
	visa := pay(visaReq)
	if cb.PaymentResultInfo.CardBrand != "CARTES_BANCAIRES" || visa.PaymentResultInfo.CardBrand != "VISA" {
		t.Errorf("co-badged brands: %s without a choice, %s with VISA", cb.PaymentResultInfo.CardBrand, visa.PaymentResultInfo.CardBrand)
	}
	mcReq := payRequest("4970100000000006", "123")
	mcReq.PaymentMethod.PaymentMethodMetaData.SelectedCardBrand = "MASTERCARD"
	junk := payRequest("4242424242424242", "123")
	junk.PaymentMethod.PaymentMethodMetaData.SelectedCardBrand = "NOT_A_BRAND"
	refused("a brand the card does not carry", junk, "selectedCardBrand")
	row("co-badged (selectedCardBrand VISA on 4970100000000006)", "S", refused("MASTERCARD on a CB+VISA card", mcReq, "selectedCardBrand"),
		"cardBrand "+visa.PaymentResultInfo.CardBrand, "cardBrand "+f.inquire(visa.PaymentID).PaymentResultInfo.CardBrand,
		"cardBrand "+str(notified(visa)["cardBrand"]))

	// Installments: consult shows the plans; pay with one echoes it everywhere.
	var cons protocol.ConsultResponse
	if err := f.client.Call(ctx, protocol.PathConsult, &protocol.ConsultRequest{ProductCode: "CASHIER_PAYMENT",
		PaymentAmount: &protocol.Amount{Currency: "USD", Value: "10000"}, Env: &protocol.Env{TerminalType: "WEB"}}, &cons); err != nil {
		t.Fatal(err)
	}
	if cons.Result.ResultStatus != "S" || len(cons.PaymentOptions) != 1 || !cons.PaymentOptions[0].Enabled ||
		cons.PaymentOptions[0].Installment == nil || len(cons.PaymentOptions[0].Installment.Plans) != 3 {
		t.Fatalf("consult USD 100.00: %+v", cons)
	}
	planReq := func(n string) *protocol.PayRequest {
		r := payRequest("4242424242424242", "123")
		r.PaymentAmount = &protocol.Amount{Currency: "USD", Value: "10000"}
		r.Order.OrderAmount = r.PaymentAmount
		if n != "" {
			var plan protocol.CreditPayPlan
			_ = json.Unmarshal([]byte(`{"installmentNum":`+n+`}`), &plan)
			r.CreditPayPlan = &plan
		}
		return r
	}
	inst := pay(planReq("6"))
	if inst.Result.ResultStatus != "S" || inst.PaymentResultInfo.CreditPayPlan == nil || inst.PaymentResultInfo.CreditPayPlan.InstallmentNum != 6 {
		t.Fatalf("pay in 6: %+v %+v", inst.Result, inst.PaymentResultInfo)
	}
	np, _ := notified(inst)["creditPayPlan"].(map[string]any)
	row("installments (creditPayPlan 6, USD 100.00)", "S", refused("7 installments", planReq("7"), "installmentNum"),
		"installmentNum 6", "installmentNum "+itoa(f.inquire(inst.PaymentID).PaymentResultInfo.CreditPayPlan.InstallmentNum),
		"installmentNum "+str(np["installmentNum"]))
	r, err := f.client.Do(ctx, f.client.Path(protocol.PathPay), []byte(strings.Replace(mustJSON(t, planReq("")), `"paymentAmount"`, `"creditPayPlan":{"installmentNum":"abc"},"paymentAmount"`, 1)))
	if err != nil || !strings.Contains(string(r.Body), "creditPayPlan.installmentNum") || !strings.Contains(string(r.Body), "PARAM_ILLEGAL") {
		t.Errorf(`installmentNum "abc": %s %v`, r.Body, err)
	}

	// consult's refusals.
	for _, c := range []struct {
		req  protocol.ConsultRequest
		code string
	}{
		{protocol.ConsultRequest{ProductCode: "CASHIER_PAYMENT", PaymentAmount: &protocol.Amount{Currency: "XXX", Value: "100"}}, "CURRENCY_NOT_SUPPORT"},
		{protocol.ConsultRequest{ProductCode: "CASHIER_PAYMENT", PaymentAmount: &protocol.Amount{Currency: "USD", Value: "100"}, AllowedPaymentMethods: []string{"ALIPAY_CN"}}, "NO_PAY_OPTIONS"},
	} {
		var resp protocol.ConsultResponse
		if err := f.client.Call(ctx, protocol.PathConsult, &c.req, &resp); err != nil || resp.Result.ResultCode != c.code {
			t.Errorf("consult %+v: %+v %v, want %s", c.req, resp.Result, err, c.code)
		}
	}
	row("consult (USD 100.00)", "S, CARD enabled, 3 plans", "CURRENCY_NOT_SUPPORT (XXX), NO_PAY_OPTIONS (no CARD)", "—", "—", "—")

	// Local cards: a Brazilian card with its CPF and e-mail; without the e-mail it is refused.
	brReq := payRequest("4000000760000002", "123")
	br := pay(brReq)
	noMail := payRequest("4000000760000002", "123")
	noMail.PaymentMethod.PaymentMethodMetaData.PayerEmail = ""
	row("local card BR (cpf, payerEmail)", br.Result.ResultStatus, refused("BR without payerEmail", noMail, "payerEmail"),
		"issuingCountry "+br.PaymentResultInfo.IssuingCountry, "issuingCountry "+f.inquire(br.PaymentID).PaymentResultInfo.IssuingCountry,
		"issuingCountry "+str(notified(br)["issuingCountry"]))
	badCPF := payRequest("4000000760000002", "123")
	badCPF.PaymentMethod.PaymentMethodMetaData.CPF = "529.982.247-26"
	refused("BR with a bad CPF", badCPF, "cpf")
	krReq := payRequest("4000004100000003", "")
	krReq.PaymentMethod.PaymentMethodMetaData.CardholderName = nil
	kr := pay(krReq)
	noDigest := payRequest("4000004100000003", "")
	noDigest.PaymentMethod.PaymentMethodMetaData.CardPasswordDigest = ""
	row("local card KR (no cvv, no name; dateOfBirth, cardPasswordDigest)", kr.Result.ResultStatus, refused("KR without cardPasswordDigest", noDigest, "cardPasswordDigest"),
		"paymentMethodRegion "+kr.PaymentResultInfo.PaymentMethodRegion, "paymentMethodRegion "+f.inquire(kr.PaymentID).PaymentResultInfo.PaymentMethodRegion,
		"paymentMethodRegion "+str(notified(kr)["paymentMethodRegion"]))
	trReq := payRequest("9792000000000003", "")
	refused("Troy without a CVV", trReq, "cvv")

	// The Korean issuer-authentication flow: U with the issuer's page, then captured.
	authReq := payRequest("4000004100000003", "")
	authReq.PaymentMethod.RequireIssuerAuthentication = true
	auth := pay(authReq)
	if auth.Result.ResultCode != "PAYMENT_IN_PROCESS" || !strings.Contains(auth.NormalURL, "/issuer-auth/") {
		t.Fatalf("issuer authentication: %+v normalUrl %q", auth.Result, auth.NormalURL)
	}
	buyer := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page, err := buyer.Get(auth.NormalURL)
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != http.StatusOK {
		t.Fatalf("issuer page: HTTP %d", page.StatusCode)
	}
	done, err := buyer.PostForm(auth.NormalURL, url.Values{"otp": {"1234"}})
	if err != nil {
		t.Fatal(err)
	}
	done.Body.Close()
	authInq := f.inquire(auth.PaymentID)
	manual := payRequest("4000004100000003", "")
	manual.PaymentMethod.RequireIssuerAuthentication = true
	manual.PaymentFactor.CaptureMode = "MANUAL"
	captured := len(txns(authInq, "CAPTURE")) == 1
	row("KR issuer authentication (requireIssuerAuthentication)", "U + normalUrl, then "+authInq.PaymentStatus+map[bool]string{true: ", captured", false: ", NOT captured"}[captured],
		refused("issuer authentication with MANUAL capture", manual, "captureMode"), "normalUrl /issuer-auth/…",
		"paymentMethodRegion "+authInq.PaymentResultInfo.PaymentMethodRegion, "paymentMethodRegion "+str(notified(auth)["paymentMethodRegion"]))
	if authInq.PaymentStatus != "SUCCESS" || !captured {
		t.Errorf("issuer-authenticated payment: %s, %d captures", authInq.PaymentStatus, len(txns(authInq, "CAPTURE")))
	}
	usAuth := payRequest("4242424242424242", "123")
	usAuth.PaymentMethod.RequireIssuerAuthentication = true
	refused("issuer authentication on a US card", usAuth, "requireIssuerAuthentication")
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return itoa(int32(x))
	}
	return ""
}

func itoa(n int32) string { b, _ := json.Marshal(n); return string(b) }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
