package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/protocol"
)

// Saved cards (docs/design.md "Tokens") over the real binary: which pays save a card, where the
// cardToken shows, and who may pay with it.

// tkTokenizing is a server-to-server pay that asks to save the card: tokenizeMode, or the older
// tokenize: true when mode is "tokenize".
func (r *tdsRun) tkTokenizing(pan, cvv, buyer, mode string) *protocol.PayRequest {
	req := r.request(pan, cvv, false)
	req.Order.Buyer.ReferenceBuyerID = buyer
	if mode == "tokenize" {
		req.PaymentMethod.PaymentMethodMetaData.Tokenize = true
	} else {
		req.PaymentMethod.PaymentMethodMetaData.TokenizeMode = mode
	}
	return req
}

// tkTokenPay is a pay with a saved card: paymentMethodId, no card number, no CVV.
func tkTokenPay(token, buyer string) *protocol.PayRequest {
	req := payRequest("", "")
	req.PaymentRedirectURL = tdsRedirect
	req.PaymentMethod.PaymentMethodMetaData = nil
	req.PaymentMethod.PaymentMethodID = token
	req.Order.Buyer.ReferenceBuyerID = buyer
	return req
}

func tkMasked(pan string) string { return strings.Repeat("*", len(pan)-4) + pan[len(pan)-4:] }

// tkRefused checks the answer for a token that is not the caller's: PARAM_ILLEGAL naming
// paymentMethod.paymentMethodId, no payment.
func tkRefused(t *testing.T, what string, resp *protocol.PayResponse) {
	t.Helper()
	if resp.Result.ResultStatus != "F" || resp.Result.ResultCode != "PARAM_ILLEGAL" ||
		!strings.Contains(resp.Result.ResultMessage, "paymentMethod.paymentMethodId") {
		t.Errorf("%s: result %+v, want F/PARAM_ILLEGAL naming paymentMethod.paymentMethodId", what, resp.Result)
	}
	if resp.PaymentResultInfo != nil && resp.PaymentResultInfo.CardNo != "" {
		t.Errorf("%s: the refusal shows a card %q", what, resp.PaymentResultInfo.CardNo)
	}
}

// TestSavedCards: tokens made by the hosted page (ENABLED, ASKFORCONSENT with and without the
// buyer's consent) and by server-to-server pays (tokenizeMode, tokenize), where cardToken shows,
// one token per card and buyer, paying with a token without CVV, and the refusals of other
// merchants', other buyers' and unknown tokens.
func TestSavedCards(t *testing.T) {
	t.Parallel()
	r := newTDSRun(t)
	rcv := ntNewReceiver(t, ntGatewayKey(t, r.g), ntAck)
	tokens := func() int { return r.count(t, `SELECT count(*) FROM card_tokens`) }
	authEvents := func() int { return r.count(t, `SELECT count(*) FROM payment_events WHERE op LIKE 'AUTH_%'`) }
	// payWithToken pays with a saved card and expects S with the card masked.
	payWithToken := func(t *testing.T, token, buyer, pan string, cardOnFile bool) *protocol.PayResponse {
		t.Helper()
		req := tkTokenPay(token, buyer)
		if cardOnFile {
			req.PaymentMethod.PaymentMethodMetaData = &protocol.CardMetaData{IsCardOnFile: true}
		}
		resp, raw := r.pay(t, req)
		if resp.Result.ResultStatus != "S" || resp.PaymentID == "" {
			t.Fatalf("pay with token (isCardOnFile %v): %s", cardOnFile, raw)
		}
		if info := resp.PaymentResultInfo; info == nil || info.CardNo != tkMasked(pan) || info.LastFour != pan[len(pan)-4:] {
			t.Errorf("token pay paymentResultInfo %+v, want cardNo %s", info, tkMasked(pan))
		}
		if inq := r.inquire(t, resp.PaymentID); inq.PaymentStatus != "SUCCESS" || inq.CardInfo == nil || inq.CardInfo.CardNo != tkMasked(pan) {
			t.Errorf("token pay inquiry %s cardInfo %+v", inq.PaymentStatus, inq.CardInfo)
		}
		return resp
	}
	// hosted opens a hosted pay whose notifications go to rcv.
	hosted := func(t *testing.T, buyer, mode string) (*protocol.PayResponse, string) {
		t.Helper()
		req := hpPayRequest(buyer, mode)
		req.PaymentNotifyURL = rcv.srv.URL + "/notify"
		resp, raw := r.pay(t, req)
		return resp, r.hpOpen(t, resp, raw)
	}

	var hostedToken string
	t.Run("HostedEnabled", func(t *testing.T) {
		const pan, cvv, buyer = "5555555555554444", "611", "buyer-hosted-enabled"
		resp, normalURL := hosted(t, buyer, "ENABLED")
		if _, page := r.page(t, normalURL); strings.Contains(page, `name="saveCard"`) {
			t.Errorf("ENABLED page asks for consent: the merchant already has it")
		}
		r.used(pan, cvv)
		r.hpPassCode(t, r.hpEnterChallenge(t, normalURL, hpCardForm(pan, cvv)), hpRedirect)
		inq := r.inquire(t, resp.PaymentID)
		if inq.PaymentStatus != "SUCCESS" {
			t.Fatalf("inquiry %s/%s", inq.PaymentStatus, inq.PaymentResultCode)
		}
		if inq.CardInfo == nil || !strings.HasPrefix(inq.CardInfo.CardToken, "ctk_") {
			t.Fatalf("inquiry cardInfo %+v, want a cardToken", inq.CardInfo)
		}
		hostedToken = inq.CardInfo.CardToken
		if inq.PaymentResultInfo.CardToken != hostedToken {
			t.Errorf("inquiry paymentResultInfo.cardToken %q, cardInfo.cardToken %q", inq.PaymentResultInfo.CardToken, hostedToken)
		}
		n := rcv.ntFind(t, protocol.NotifyTypePaymentResult, resp.PaymentID)
		var body protocol.NotifyPayment
		if err := json.Unmarshal(n.body, &body); err != nil {
			t.Fatal(err)
		}
		if n.verified != nil || body.Result.ResultStatus != "S" || body.CardInfo == nil || body.CardInfo.CardToken != hostedToken {
			t.Errorf("PAYMENT_RESULT (verified %v) cardInfo %+v, want cardToken %s", n.verified, body.CardInfo, hostedToken)
		}
		var buyerOf string
		if err := r.db.QueryRow(`SELECT buyer_id FROM card_tokens WHERE token_id = ?`, hostedToken).Scan(&buyerOf); err != nil || buyerOf != buyer {
			t.Errorf("token row buyer %q (%v), want %s", buyerOf, err, buyer)
		}
		// The saved card pays without CVV, with and without isCardOnFile.
		payWithToken(t, hostedToken, buyer, pan, false)
		payWithToken(t, hostedToken, buyer, pan, true)
	})

	t.Run("HostedAskForConsent", func(t *testing.T) {
		for _, consent := range []bool{true, false} {
			pan, cvv, buyer := "4000000000003220", "621", "buyer-consent-yes"
			if !consent {
				cvv, buyer = "622", "buyer-consent-no"
			}
			before := tokens()
			resp, normalURL := hosted(t, buyer, "ASKFORCONSENT")
			if _, page := r.page(t, normalURL); !strings.Contains(page, `name="saveCard"`) {
				t.Fatalf("ASKFORCONSENT page has no saveCard box:\n%s", page)
			}
			form := hpCardForm(pan, cvv)
			if consent {
				form.Set("saveCard", "true")
			}
			r.used(pan, cvv)
			if status, loc, body := r.hpPostCard(t, normalURL, form); status != http.StatusSeeOther || loc != hpRedirect {
				t.Fatalf("consent %v: POST %d %q\n%s", consent, status, loc, body)
			}
			inq := r.inquire(t, resp.PaymentID)
			if inq.PaymentStatus != "SUCCESS" {
				t.Fatalf("consent %v: inquiry %s", consent, inq.PaymentStatus)
			}
			got := ""
			if inq.CardInfo != nil {
				got = inq.CardInfo.CardToken
			}
			switch {
			case consent && (!strings.HasPrefix(got, "ctk_") || tokens() != before+1):
				t.Errorf("saveCard posted: cardToken %q, tokens %d → %d, want a new one", got, before, tokens())
			case !consent && (got != "" || inq.PaymentResultInfo.CardToken != "" || tokens() != before):
				t.Errorf("no saveCard: cardToken %q, tokens %d → %d, want none", got, before, tokens())
			}
			if consent && got != "" {
				payWithToken(t, got, buyer, pan, false)
			}
		}
	})

	var s2sToken string
	t.Run("ServerToServer", func(t *testing.T) {
		for _, tc := range []struct{ mode, pan, cvv, buyer string }{
			{"ENABLED", "4054695723100768", "631", "buyer-s2s-enabled"},
			{"tokenize", "3566002020360505", "632", "buyer-s2s-tokenize"},
		} {
			resp, raw := r.pay(t, r.tkTokenizing(tc.pan, tc.cvv, tc.buyer, tc.mode))
			if resp.Result.ResultStatus != "S" || resp.PaymentResultInfo == nil || !strings.HasPrefix(resp.PaymentResultInfo.CardToken, "ctk_") {
				t.Fatalf("%s: pay answer %s, want S with paymentResultInfo.cardToken", tc.mode, raw)
			}
			tok := resp.PaymentResultInfo.CardToken
			if inq := r.inquire(t, resp.PaymentID); inq.CardInfo == nil || inq.CardInfo.CardToken != tok || inq.PaymentResultInfo.CardToken != tok {
				t.Errorf("%s: inquiry cardInfo %+v, want cardToken %s", tc.mode, inq.CardInfo, tok)
			}
			if n := r.oneResult(t, resp.PaymentID); n.CardInfo == nil || n.CardInfo.CardToken != tok {
				t.Errorf("%s: PAYMENT_RESULT cardInfo %+v, want cardToken %s", tc.mode, n.CardInfo, tok)
			}
			// The same card for the same buyer again: the same token, one row.
			again, raw := r.pay(t, r.tkTokenizing(tc.pan, tc.cvv, tc.buyer, tc.mode))
			if again.Result.ResultStatus != "S" || again.PaymentID == resp.PaymentID || again.PaymentResultInfo.CardToken != tok {
				t.Errorf("%s: same card and buyer again: %s, want cardToken %s", tc.mode, raw, tok)
			}
			if n := r.count(t, `SELECT count(*) FROM card_tokens WHERE buyer_id = ?`, tc.buyer); n != 1 {
				t.Errorf("%s: token rows of the buyer: %d, want 1", tc.mode, n)
			}
			payWithToken(t, tok, tc.buyer, tc.pan, false)
			if tc.mode == "ENABLED" {
				s2sToken = tok
			}
		}
		// ASKFORCONSENT without a page to ask on saves nothing.
		before := tokens()
		resp, raw := r.pay(t, r.tkTokenizing("6011111111111117", "633", "buyer-s2s-ask", "ASKFORCONSENT"))
		if resp.Result.ResultStatus != "S" || resp.PaymentResultInfo.CardToken != "" || tokens() != before {
			t.Errorf("server-to-server ASKFORCONSENT: %s, tokens %d → %d, want S and no token", raw, before, tokens())
		}
	})

	t.Run("Declined", func(t *testing.T) {
		before := tokens()
		resp, raw := r.pay(t, r.tkTokenizing("4000000000000002", "641", "buyer-declined", "ENABLED"))
		if resp.Result.ResultStatus != "F" || resp.Result.ResultCode != "DO_NOT_HONOR" || resp.PaymentResultInfo.CardToken != "" {
			t.Errorf("declined tokenizing pay: %s, want F/DO_NOT_HONOR without cardToken", raw)
		}
		// Declined after a challenge on the hosted page.
		hresp, normalURL := hosted(t, "buyer-declined-hosted", "ENABLED")
		r.used("4000008400001629", "642")
		r.hpPassCode(t, r.hpEnterChallenge(t, normalURL, hpCardForm("4000008400001629", "642")), hpRedirect)
		inq := r.inquire(t, hresp.PaymentID)
		if inq.PaymentStatus != "FAIL" || inq.PaymentResultCode != "DO_NOT_HONOR" || (inq.CardInfo != nil && inq.CardInfo.CardToken != "") {
			t.Errorf("hosted decline: %s/%s cardInfo %+v, want FAIL/DO_NOT_HONOR without cardToken", inq.PaymentStatus, inq.PaymentResultCode, inq.CardInfo)
		}
		if n := tokens(); n != before {
			t.Errorf("card_tokens %d → %d after declined cards", before, n)
		}
	})

	t.Run("Refusals", func(t *testing.T) {
		if hostedToken == "" || s2sToken == "" {
			t.Fatal("no tokens from the earlier subtests")
		}
		b, _ := credentials(t, cardgate(t, "merchant", "create", "--data", r.g.dir, "--name", "Merchant B", "--json"))
		cb, err := client.New(client.Config{BaseURL: r.g.url, ClientID: b.ClientID, PrivateKey: b.MerchantPrivateKey, GatewayPublicKey: b.GatewayPublicKey})
		if err != nil {
			t.Fatal(err)
		}
		auths, payments := authEvents(), r.count(t, `SELECT count(*) FROM payments`)
		var messages []string
		for _, tc := range []struct {
			what  string
			c     *client.Client
			token string
			buyer string
		}{
			{"merchant B with A's token", cb, s2sToken, "buyer-s2s-enabled"},
			{"merchant B with A's hosted token", cb, hostedToken, "buyer-hosted-enabled"},
			{"another buyer", r.g.client, s2sToken, "buyer-someone-else"},
			{"no buyer", r.g.client, hostedToken, ""},
			{"unknown token", r.g.client, "ctk_0000000000000000000000000000000", "buyer-s2s-enabled"},
		} {
			req := tkTokenPay(tc.token, tc.buyer)
			if tc.buyer == "" {
				req.Order.Buyer = &protocol.Buyer{BuyerEmail: "someone@example.com"}
			}
			resp, err := tc.c.Pay(context.Background(), req)
			if err != nil {
				t.Fatalf("%s: %v", tc.what, err)
			}
			tkRefused(t, tc.what, resp)
			messages = append(messages, resp.Result.ResultMessage)
		}
		for _, m := range messages[1:] {
			if m != messages[0] {
				t.Errorf("refusals can be told apart: %q vs %q", messages[0], m)
			}
		}
		if a := authEvents(); a != auths {
			t.Errorf("AUTH_* events %d → %d after refused token pays", auths, a)
		}
		if p := r.count(t, `SELECT count(*) FROM payments`); p != payments {
			t.Errorf("payments %d → %d after refused token pays", payments, p)
		}
		// The owner still pays with them.
		payWithToken(t, s2sToken, "buyer-s2s-enabled", "4054695723100768", true)
	})

	// Card numbers and CVVs typed on pages or sent to pay are nowhere, tokens made.
	if n := tokens(); n < 4 {
		t.Errorf("only %d tokens made", n)
	}
	r.hpScanAll(t, "running")
	r.g.stop()
	r.hpScanAll(t, "stopped")
}
