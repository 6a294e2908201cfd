package payments_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// mitOf turns a card pay into a merchant-initiated one: isCardOnFile, no CVV, the first
// payment's network transaction id.
func mitOf(nti string) func(jsonObj) {
	return func(m jsonObj) {
		set(m, meta+".isCardOnFile", true)
		del(m, meta+".cvv")
		if nti != "" {
			set(m, meta+".networkTransactionId", nti)
		}
	}
}

// tokenMIT is a token pay: no card data, isCardOnFile as given.
func tokenMIT(token string, cardOnFile bool) func(jsonObj) {
	return func(m jsonObj) {
		del(m, meta)
		set(m, "paymentMethod.paymentMethodId", token)
		if cardOnFile {
			set(m, meta+".isCardOnFile", true)
		}
	}
}

// TestParseMIT: the parse rules of merchant-initiated payments and co-badged brand choices, on
// seed 004-34.
func TestParseMIT(t *testing.T) {
	param := protocol.CodeParamIllegal
	type want struct {
		mit                bool
		mitType, nti       string
		selected           card.Brand
		refusedCode        protocol.Code
		refusedPath        string
		refusedMustNotName string
	}
	cases := []struct {
		name   string
		mutate []func(jsonObj)
		want   want
	}{
		{"a customer-initiated pay", nil, want{}},
		{"an MIT with a card", []func(jsonObj){mitOf("123456789012345")}, want{mit: true, mitType: payments.MITUnscheduled, nti: "123456789012345"}},
		{"a scheduled MIT", []func(jsonObj){mitOf("N1"), setFn(meta+".mitType", "SCHEDULED")}, want{mit: true, mitType: "SCHEDULED", nti: "N1"}},
		{"a recurring MIT", []func(jsonObj){mitOf("N1"), setFn(meta+".mitType", "RECURRING")}, want{mit: true, mitType: "RECURRING", nti: "N1"}},
		{"an MIT with a token and no id", []func(jsonObj){tokenMIT("ctk_x", true)}, want{mit: true, mitType: payments.MITUnscheduled}},
		{"a token pay without isCardOnFile", []func(jsonObj){tokenMIT("ctk_x", false)}, want{}},
		{"isCardOnFile false as the seeds send it", []func(jsonObj){setFn(meta+".isCardOnFile", false)}, want{}},
		{"a selected brand the table knows", []func(jsonObj){setFn(meta+".selectedCardBrand", "VISA")}, want{selected: card.Visa}},

		{"an unknown mitType", []func(jsonObj){mitOf("N1"), setFn(meta+".mitType", "MONTHLY")}, want{refusedCode: param, refusedPath: meta + ".mitType"}},
		{"a lower-case mitType", []func(jsonObj){mitOf("N1"), setFn(meta+".mitType", "recurring")}, want{refusedCode: param, refusedPath: meta + ".mitType"}},
		{"mitType on a customer-initiated pay", []func(jsonObj){setFn(meta+".mitType", "RECURRING")}, want{refusedCode: param, refusedPath: meta + ".mitType"}},
		{"networkTransactionId without isCardOnFile", []func(jsonObj){setFn(meta+".networkTransactionId", "BOGUS")}, want{refusedCode: param, refusedPath: meta + ".networkTransactionId"}},
		{"a CVV with an MIT", []func(jsonObj){mitOf("N1"), setFn(meta+".cvv", "987")}, want{refusedCode: param, refusedPath: meta + ".cvv", refusedMustNotName: "987"}},
		{"3-D Secure with an MIT", []func(jsonObj){mitOf("N1"), setFn(meta+".is3DSAuthentication", true)}, want{refusedCode: param, refusedPath: meta + ".is3DSAuthentication"}},
		{"an MPI result with an MIT", []func(jsonObj){mitOf("N1"), setFn(meta+".mpiData", jsonObj{"eci": "05", "cavv": "AAAA"})}, want{refusedCode: param, refusedPath: meta + ".mpiData"}},
		{"an authentication upgrade with an MIT", []func(jsonObj){mitOf("N1"), setFn(meta+".enableAuthenticationUpgrade", true)}, want{refusedCode: param, refusedPath: meta + ".enableAuthenticationUpgrade"}},
		{"a CVV with a token MIT", []func(jsonObj){tokenMIT("ctk_x", true), setFn(meta+".cvv", "987")}, want{refusedCode: param, refusedPath: meta + ".cvv"}},
		{"a card MIT without networkTransactionId", []func(jsonObj){mitOf("")}, want{refusedCode: param, refusedPath: meta + ".networkTransactionId"}},
		{"a networkTransactionId of 65 characters", []func(jsonObj){mitOf(strings.Repeat("7", 65))}, want{refusedCode: param, refusedPath: meta + ".networkTransactionId"}},
		{"a networkTransactionId with a control character", []func(jsonObj){mitOf("N\x01")}, want{refusedCode: param, refusedPath: meta + ".networkTransactionId"}},
		{"an MIT without card or token", []func(jsonObj){func(m jsonObj) { del(m, meta); set(m, meta+".isCardOnFile", true) }}, want{refusedCode: param, refusedPath: meta + ".isCardOnFile"}},
		{"a brand that is none", []func(jsonObj){setFn(meta+".selectedCardBrand", "NOT_A_BRAND")}, want{refusedCode: param, refusedPath: meta + ".selectedCardBrand"}},
		{"a brand in lower case", []func(jsonObj){setFn(meta+".selectedCardBrand", "visa")}, want{refusedCode: param, refusedPath: meta + ".selectedCardBrand"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			m := base(t)
			for _, f := range tt.mutate {
				f(m)
			}
			cmd, err := payments.ParsePayRequest(decodePay(t, m), testNow)
			w := tt.want
			if w.refusedCode != "" {
				assertRefused(t, err, w.refusedCode, w.refusedPath)
				if w.refusedMustNotName != "" && strings.Contains(err.Error(), w.refusedMustNotName) {
					t.Errorf("the refusal %q echoes %q", err, w.refusedMustNotName)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cmd.MIT != w.mit || cmd.MITType != w.mitType || cmd.InitialNTI != w.nti || cmd.SelectedBrand != w.selected {
				t.Errorf("MIT %v type %q nti %q selected %q, want %+v", cmd.MIT, cmd.MITType, cmd.InitialNTI, cmd.SelectedBrand, w)
			}
			if w.mit && (!cmd.CardOnFile || cmd.CVV != "" || cmd.Want3DS) {
				t.Errorf("an MIT with cardOnFile %v cvv set %v 3DS %v", cmd.CardOnFile, cmd.CVV != "", cmd.Want3DS)
			}
		})
	}
}

func setFn(path string, v any) func(jsonObj) { return func(m jsonObj) { set(m, path, v) } }

// mitSeen is what the acquirer was told of the last authorization's MIT.
type mitSeen struct {
	mit          bool
	mitType, nti string
	cvv          bool
}

// mitRecorder keeps the MIT fields of the authorizations it passes on.
type mitRecorder struct {
	acquirer.Acquirer
	seen *mitSeen
}

func (r *mitRecorder) Authorize(ctx context.Context, req acquirer.AuthRequest) (acquirer.AuthResult, error) {
	*r.seen = mitSeen{mit: req.MIT, mitType: req.MITType, nti: req.InitialNetworkTransactionID, cvv: req.CVV != ""}
	return r.Acquirer.Authorize(ctx, req)
}

// TestMITPayments: a CIT returns a networkTransactionId; an MIT with the same card (or with the
// token the CIT saved, with or without the id) is authorized without CVV and answers its own id;
// an unknown id, another merchant's, another card's and a CVV are refused naming the field, with
// nothing written.
func TestMITPayments(t *testing.T) {
	h := newHostedHarness(t)
	ctx := context.Background()
	var seen mitSeen
	tokenize := func(m jsonObj) { set(m, meta+".tokenizeMode", payments.TokenizeEnabled) }
	cit, err := h.svc.Pay(ctx, merchantA, payRequest(t, "4242424242424242", "cit-1", tokenize))
	if err != nil || cit.State != payments.StateSuccess {
		t.Fatalf("CIT: %v %s", err, cit.State)
	}
	nti := payments.PayResponseOf(cit).PaymentResultInfo.NetworkTransactionID
	if nti == "" || cit.Card.Token == "" || cit.Card.MIT {
		t.Fatalf("CIT networkTransactionId %q token %q mit %v", nti, cit.Card.Token, cit.Card.MIT)
	}
	// Merchant B's own CIT, whose id merchant A must not use.
	citB, err := h.svc.Pay(ctx, merchantB, payRequest(t, "4242424242424242", "cit-b"))
	if err != nil || citB.State != payments.StateSuccess {
		t.Fatalf("CIT of B: %v %s", err, citB.State)
	}
	ntiB := citB.Auth.NetworkTransactionID

	authorized := func(t *testing.T, p payments.Payment, err error, wantType string) {
		t.Helper()
		if err != nil || p.State != payments.StateSuccess {
			t.Fatalf("MIT: %v %s %s", err, p.State, p.ResultCode)
		}
		own := payments.PayResponseOf(p).PaymentResultInfo.NetworkTransactionID
		if !p.Card.MIT || !p.Card.CardOnFile || p.Card.MITType != wantType || p.Card.InitialNetworkTransactionID != nti || own == "" || own == nti {
			t.Fatalf("MIT card %+v own networkTransactionId %q (first %q)", p.Card, own, nti)
		}
		if got := h.reload(t, p); !got.Card.MIT || got.Card.InitialNetworkTransactionID != nti {
			t.Fatalf("stored MIT card %+v", got.Card)
		}
	}
	h.acq.next = &mitRecorder{Acquirer: h.acq.next, seen: &seen}
	p, err := h.svc.Pay(ctx, merchantA, payRequest(t, "4242424242424242", "mit-card", mitOf(nti), setFn(meta+".mitType", "RECURRING")))
	authorized(t, p, err, "RECURRING")
	if seen != (mitSeen{mit: true, mitType: "RECURRING", nti: nti}) {
		t.Errorf("the acquirer saw %+v", seen)
	}
	p, err = h.svc.Pay(ctx, merchantA, payRequest(t, "", "mit-token", tokenMIT(cit.Card.Token, true)))
	authorized(t, p, err, payments.MITUnscheduled)
	if seen != (mitSeen{mit: true, mitType: payments.MITUnscheduled, nti: nti}) {
		t.Errorf("the acquirer saw %+v for the token MIT", seen)
	}
	p, err = h.svc.Pay(ctx, merchantA, payRequest(t, "", "mit-token-nti", tokenMIT(cit.Card.Token, true), setFn(meta+".networkTransactionId", nti)))
	authorized(t, p, err, payments.MITUnscheduled)
	// A replay of an MIT is the same payment.
	if again, err := h.svc.Pay(ctx, merchantA, payRequest(t, "4242424242424242", "mit-card", mitOf(nti), setFn(meta+".mitType", "RECURRING"))); err != nil || again.Card.MITType != "RECURRING" {
		t.Fatalf("MIT replay: %v %+v", err, again.Card)
	}
	// A customer-initiated token pay is not an MIT.
	p, err = h.svc.Pay(ctx, merchantA, payRequest(t, "", "cit-token", tokenMIT(cit.Card.Token, false)))
	if err != nil || p.Card.MIT || seen.mit {
		t.Fatalf("token CIT: %v mit %v acquirer %+v", err, p.Card.MIT, seen)
	}
	// Another card's CIT, whose id the token's card must not use.
	other, err := h.svc.Pay(ctx, merchantA, payRequest(t, "5555555555554444", "cit-other"))
	if err != nil || other.State != payments.StateSuccess {
		t.Fatalf("CIT of another card: %v %s", err, other.State)
	}
	declined := declinedNTI(t, h)

	refusals := []struct {
		name   string
		m      payments.Merchant
		req    *protocol.PayRequest
		path   string
		reason string
	}{
		{"unknown id", merchantA, payRequest(t, "4242424242424242", "r1", mitOf("999999999999999")), meta + ".networkTransactionId", "not the networkTransactionId"},
		{"another merchant's id", merchantA, payRequest(t, "4242424242424242", "r2", mitOf(ntiB)), meta + ".networkTransactionId", "not the networkTransactionId"},
		{"another card's id", merchantA, payRequest(t, "5555555555554444", "r3", mitOf(nti)), meta + ".networkTransactionId", "another card"},
		{"the token with another card's id", merchantA, payRequest(t, "", "r4", tokenMIT(cit.Card.Token, true), setFn(meta+".networkTransactionId", other.Auth.NetworkTransactionID)), meta + ".networkTransactionId", "another card"},
		{"another merchant's token", merchantB, payRequest(t, "", "r4b", tokenMIT(cit.Card.Token, true)), "paymentMethod.paymentMethodId", "not a known card token"},
		{"a CVV", merchantA, payRequest(t, "4242424242424242", "r5", mitOf(nti), setFn(meta+".cvv", "123")), meta + ".cvv", "no CVV"},
		{"3-D Secure", merchantA, payRequest(t, "4242424242424242", "r6", mitOf(nti), setFn(meta+".is3DSAuthentication", true)), meta + ".is3DSAuthentication", "authenticate"},
		{"a declined payment's id", merchantA, payRequest(t, "4242424242424242", "r7", mitOf(declined)), meta + ".networkTransactionId", "not the networkTransactionId"},
	}
	before, calls := h.store.count(), h.acq.calls.Load()
	for _, r := range refusals {
		_, err := h.svc.Pay(ctx, r.m, r.req)
		assertRefused(t, err, protocol.CodeParamIllegal, r.path)
		if err != nil && !strings.Contains(err.Error(), r.reason) {
			t.Errorf("%s: %v, want it to say %q", r.name, err, r.reason)
		}
	}
	if h.store.count() != before || h.acq.calls.Load() != calls {
		t.Errorf("refused MITs wrote %d payments and made %d acquirer calls", h.store.count()-before, h.acq.calls.Load()-calls)
	}
}

// declinedNTI is the network transaction id of a declined payment of merchant A.
func declinedNTI(t *testing.T, h *harness) string {
	t.Helper()
	p, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4000000000000002", "declined-for-nti"))
	if err != nil || p.State != payments.StateFail || p.Auth.NetworkTransactionID == "" {
		t.Fatalf("declined: %v %s nti %q", err, p.State, p.Auth.NetworkTransactionID)
	}
	return p.Auth.NetworkTransactionID
}
