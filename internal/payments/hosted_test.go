package payments_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/threeds"
	"github.com/cardgate/cardgate/internal/vault"
	"github.com/cardgate/cardgate/protocol"
)

func newHostedHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, payments.Config{PublicURL: "https://pay.example"})
	kek, err := vault.GenerateKEK("test-1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := vault.NewKeyring(kek)
	if err != nil {
		t.Fatal(err)
	}
	h.svc.With3DS(threeds.Simulator{}, vault.Fixed(keys))
	return h
}

// hostedRequest is seed 002-11: a pay without card data.
func hostedPay(t *testing.T, requestID string, mutate ...func(jsonObj)) *protocol.PayRequest {
	t.Helper()
	return payRequest(t, "", requestID, append([]func(jsonObj){func(m jsonObj) { del(m, meta) }}, mutate...)...)
}

func pageTokenOf(t *testing.T, p payments.Payment) string {
	t.Helper()
	tok, ok := strings.CutPrefix(p.Order.NormalURL, "https://pay.example/checkout/")
	if !ok || tok == "" {
		t.Fatalf("normalUrl = %q, want the hosted card page", p.Order.NormalURL)
	}
	return tok
}

var goodForm = payments.CardForm{CardNo: "4242 4242 4242 4242", ExpiryMonth: "12", ExpiryYear: "30", CVV: "123", CardholderName: "Kendra Lee"}

func TestHostedPayOpensTheCardPage(t *testing.T) {
	h := newHostedHarness(t)
	ctx := context.Background()
	p, err := h.svc.Pay(ctx, merchantA, hostedPay(t, "hosted-1"))
	if err != nil {
		t.Fatal(err)
	}
	r := payments.PayResponseOf(p)
	if r.Result.ResultStatus != "U" || r.Result.ResultCode != string(protocol.CodePaymentInProcess) || r.NormalURL != p.Order.NormalURL {
		t.Fatalf("pay answer %+v normalUrl %q", r.Result, r.NormalURL)
	}
	tok := pageTokenOf(t, p)
	if !p.AwaitingCard() || p.Card.Fingerprint != "" || int(h.acq.calls.Load()) != 0 {
		t.Fatalf("hosted payment before the card: awaiting=%v card=%+v auths=%d", p.AwaitingCard(), p.Card, int(h.acq.calls.Load()))
	}
	// A replay answers the same page.
	again, err := h.svc.Pay(ctx, merchantA, hostedPay(t, "hosted-1"))
	if err != nil || again.ID != p.ID || payments.PayResponseOf(again).NormalURL != r.NormalURL {
		t.Fatalf("replay: %v %+v", err, payments.PayResponseOf(again))
	}

	// Invalid cards are told field by field, and nothing is written.
	before := h.store.rows()[2]
	_, errs, err := h.svc.SubmitCard(ctx, merchantA, tok, payments.CardForm{CardNo: "4242424242424241", ExpiryMonth: "13", ExpiryYear: "30", CVV: "12"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"cardNo", "expiry", "cvv", "cardholderName"} {
		if errs[f] == "" {
			t.Errorf("no message for %s: %v", f, errs)
		}
	}
	if after := h.store.rows()[2]; after != before {
		t.Fatalf("an invalid card wrote %d events", after-before)
	}

	// The test card wants a challenge: the same token leads to the issuer page.
	p, errs, err = h.svc.SubmitCard(ctx, merchantA, tok, goodForm)
	if err != nil || errs != nil {
		t.Fatal(err, errs)
	}
	if !p.ChallengeOpen() || p.Order.NormalURL != "https://pay.example/threeds/"+tok || p.Card.LastFour != "4242" {
		t.Fatalf("after the card: open=%v normalUrl=%q card=%+v", p.ChallengeOpen(), p.Order.NormalURL, p.Card)
	}
	// A second post of the card form changes nothing.
	p2, _, err := h.svc.SubmitCard(ctx, merchantA, tok, goodForm)
	if err != nil || p2.Version != p.Version {
		t.Fatalf("second post: %v version %d → %d", err, p.Version, p2.Version)
	}
	p, err = h.svc.SubmitCode(ctx, tok, threeds.Code)
	if err != nil || p.State != payments.StateSuccess || !p.ThreeDS.Authenticated || int(h.acq.calls.Load()) != 1 {
		t.Fatalf("after the code: %v state %s 3ds %+v auths %d", err, p.State, p.ThreeDS, int(h.acq.calls.Load()))
	}
	if p.Card.Token != "" {
		t.Fatalf("saved a card without tokenizeMode: %q", p.Card.Token)
	}
}

func TestHostedFrictionlessCardAuthorizesAtOnce(t *testing.T) {
	h := newHostedHarness(t)
	ctx := context.Background()
	p, err := h.svc.Pay(ctx, merchantA, hostedPay(t, "hosted-f"))
	if err != nil {
		t.Fatal(err)
	}
	form := goodForm
	form.CardNo = "4000000000003220"
	p, errs, err := h.svc.SubmitCard(ctx, merchantA, pageTokenOf(t, p), form)
	if err != nil || errs != nil {
		t.Fatal(err, errs)
	}
	if p.State != payments.StateSuccess || p.ThreeDS.Mode != payments.ThreeDSFrictionless || p.PageOpen() {
		t.Fatalf("frictionless: state %s 3ds %+v pageOpen %v", p.State, p.ThreeDS, p.PageOpen())
	}
}

func TestHostedSaveCard(t *testing.T) {
	tests := []struct {
		name, mode string
		consent    bool
		saved      bool
	}{
		{"ENABLED saves", payments.TokenizeEnabled, false, true},
		{"ASKFORCONSENT with consent saves", payments.TokenizeAskForConsent, true, true},
		{"ASKFORCONSENT without consent does not", payments.TokenizeAskForConsent, false, false},
		{"no mode: a consent box the page never showed is ignored", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHostedHarness(t)
			ctx := context.Background()
			p, err := h.svc.Pay(ctx, merchantA, hostedPay(t, "hosted-save", func(m jsonObj) {
				if tt.mode != "" {
					set(m, meta+".tokenizeMode", tt.mode)
				}
			}))
			if err != nil {
				t.Fatal(err)
			}
			if p.ShowsSaveCard() != (tt.mode == payments.TokenizeAskForConsent) {
				t.Fatalf("ShowsSaveCard = %v", p.ShowsSaveCard())
			}
			form := goodForm
			form.CardNo, form.SaveCard = "4000000000003220", tt.consent
			p, _, err = h.svc.SubmitCard(ctx, merchantA, pageTokenOf(t, p), form)
			if err != nil || p.State != payments.StateSuccess {
				t.Fatalf("%v state %s", err, p.State)
			}
			if (p.Card.Token != "") != tt.saved {
				t.Fatalf("cardToken = %q, want saved=%v", p.Card.Token, tt.saved)
			}
			if tt.saved && (payments.NotifyPaymentOf(p).CardInfo.CardToken != p.Card.Token || payments.InquiryResponseOf(p, nil).CardInfo.CardToken != p.Card.Token) {
				t.Fatal("cardToken missing from cardInfo")
			}
		})
	}
}

func TestSavedCardPayments(t *testing.T) {
	h := newHostedHarness(t)
	ctx := context.Background()
	tokenize := func(m jsonObj) { set(m, meta+".tokenizeMode", payments.TokenizeEnabled) }
	first, err := h.svc.Pay(ctx, merchantA, payRequest(t, "4242424242424242", "first", tokenize))
	if err != nil || first.State != payments.StateSuccess || first.Card.Token == "" {
		t.Fatalf("first pay: %v %s token %q", err, first.State, first.Card.Token)
	}
	tok := first.Card.Token
	if payments.PayResponseOf(first).PaymentResultInfo.CardToken != tok {
		t.Fatal("cardToken missing from the pay answer")
	}
	// The legacy flag saves too, and the same card of the same buyer gives the same token.
	legacy, err := h.svc.Pay(ctx, merchantA, payRequest(t, "4242424242424242", "legacy", func(m jsonObj) { set(m, meta+".tokenize", true) }))
	if err != nil || legacy.Card.Token != tok {
		t.Fatalf("legacy tokenize: %v token %q, want %q", err, legacy.Card.Token, tok)
	}
	// A declined card is never saved.
	declined, err := h.svc.Pay(ctx, merchantA, payRequest(t, "4000000000000002", "declined", tokenize))
	if err != nil || declined.State != payments.StateFail || declined.Card.Token != "" || h.store.tokenCount() != 1 {
		t.Fatalf("declined: %v %s token %q, %d tokens", err, declined.State, declined.Card.Token, h.store.tokenCount())
	}

	withToken := func(id string, mutate ...func(jsonObj)) *protocol.PayRequest {
		return payRequest(t, "", id, append([]func(jsonObj){func(m jsonObj) {
			del(m, meta)
			set(m, "paymentMethod.paymentMethodId", tok)
			set(m, meta+".isCardOnFile", true)
		}}, mutate...)...)
	}
	saved, err := h.svc.Pay(ctx, merchantA, withToken("saved-1"))
	if err != nil || saved.State != payments.StateSuccess || saved.Card.LastFour != "4242" || !saved.Card.CardOnFile || saved.Card.Token != tok {
		t.Fatalf("saved-card pay: %v %+v", err, saved)
	}
	// Replays judge the same token; a different amount is inconsistent.
	if again, err := h.svc.Pay(ctx, merchantA, withToken("saved-1")); err != nil || again.ID != saved.ID {
		t.Fatalf("replay: %v", err)
	}
	_, err = h.svc.Pay(ctx, merchantA, withToken("saved-1", func(m jsonObj) { set(m, "paymentAmount.value", "1") }))
	assertRefused(t, err, protocol.CodeRepeatReqInconsistent, "paymentRequestId")

	// Another merchant, another buyer and an unknown token are refused alike, with nothing charged.
	auths := int(h.acq.calls.Load())
	for name, try := range map[string]func() error{
		"other merchant": func() error { _, err := h.svc.Pay(ctx, merchantB, withToken("b-1")); return err },
		"other buyer": func() error {
			_, err := h.svc.Pay(ctx, merchantA, withToken("a-2", func(m jsonObj) { set(m, "order.buyer.referenceBuyerId", "someone-else") }))
			return err
		},
		"unknown": func() error {
			_, err := h.svc.Pay(ctx, merchantA, withToken("a-3", func(m jsonObj) { set(m, "paymentMethod.paymentMethodId", tok+"x") }))
			return err
		},
		"cvv of the wrong length": func() error {
			_, err := h.svc.Pay(ctx, merchantA, withToken("a-4", func(m jsonObj) { set(m, meta+".cvv", "12") }))
			return err
		},
	} {
		err := try()
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeParamIllegal || !strings.Contains(pe.Message, "paymentMethod") {
			t.Errorf("%s: %v, want PARAM_ILLEGAL naming the payment method", name, err)
		}
		if pe != nil && strings.Contains(pe.Message, "4242424242424242") {
			t.Errorf("%s: the message shows the card", name)
		}
	}
	if int(h.acq.calls.Load()) != auths {
		t.Fatalf("a refused token reached the acquirer")
	}
}

func TestTokenizeNeedsTheVault(t *testing.T) {
	h := newHarness(t) // no vault
	_, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "nv", func(m jsonObj) { set(m, meta+".tokenizeMode", payments.TokenizeEnabled) }))
	assertRefused(t, err, protocol.CodeParamIllegal, meta+".tokenizeMode")
}

func TestParseCardForm(t *testing.T) {
	tests := []struct {
		name   string
		form   payments.CardForm
		fields []string // fields with a message; none: accepted
	}{
		{"good, spaced number, two-digit year", goodForm, nil},
		{"four-digit year", payments.CardForm{CardNo: "4242424242424242", ExpiryMonth: "1", ExpiryYear: "2030", CVV: "123", CardholderName: "A B"}, nil},
		{"amex needs four digits", payments.CardForm{CardNo: "378282246310005", ExpiryMonth: "1", ExpiryYear: "30", CVV: "123", CardholderName: "A B"}, []string{"cvv"}},
		{"empty", payments.CardForm{}, []string{"cardNo", "expiry", "cvv", "cardholderName"}},
		{"luhn", payments.CardForm{CardNo: "4242424242424241", ExpiryMonth: "1", ExpiryYear: "30", CVV: "123", CardholderName: "A"}, []string{"cardNo"}},
		{"expired", payments.CardForm{CardNo: "4242424242424242", ExpiryMonth: "1", ExpiryYear: "20", CVV: "123", CardholderName: "A"}, []string{"expiry"}},
		{"three-digit year", payments.CardForm{CardNo: "4242424242424242", ExpiryMonth: "1", ExpiryYear: "203", CVV: "123", CardholderName: "A"}, []string{"expiry"}},
		{"letters in cvv", payments.CardForm{CardNo: "4242424242424242", ExpiryMonth: "1", ExpiryYear: "30", CVV: "12a", CardholderName: "A"}, []string{"cvv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, errs := payments.ParseCardForm(tt.form, testNow)
			if len(errs) != len(tt.fields) {
				t.Fatalf("errors %v, want on %v", errs, tt.fields)
			}
			for _, f := range tt.fields {
				if errs[f] == "" {
					t.Errorf("no message on %s: %v", f, errs)
				}
			}
			for f, msg := range errs {
				if d := strings.ReplaceAll(tt.form.CardNo, " ", ""); len(d) > 6 && strings.Contains(msg, d) {
					t.Errorf("message on %s repeats the card number", f)
				}
			}
			if tt.fields == nil && cmd.Card.LastFour() == "" {
				t.Fatal("accepted without a card")
			}
		})
	}
}
