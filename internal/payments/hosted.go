package payments

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/cardgate/cardgate/internal/bin"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/protocol"
)

// The hosted card page: a pay without card data answers U with normalUrl to the gateway's card
// form; the buyer's card arrives here, then 3-D Secure and the authorization follow as for a
// server-to-server pay.

// CardForm is what the hosted card page posts, with Antom's field names (docs/design.md "Interfaces other tools rely on").
type CardForm struct {
	CardNo, ExpiryMonth, ExpiryYear, CVV, CardholderName string
	SaveCard                                             bool
}

// FormErrors maps a card form field to a message for the buyer.
type FormErrors map[string]string

// pageToken makes the unguessable key of a payment's buyer pages (card form, then challenge).
func pageToken() (string, error) {
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tok), nil
}

// openCardPage prepares a new payment for the hosted card page.
func (s *Service) openCardPage(p *Payment) error {
	tok, err := pageToken()
	if err != nil {
		return err
	}
	p.ChallengeToken = tok
	p.AcquirerState = AcquirerNotSent
	p.Order.Hosted = true
	p.Order.NormalURL = s.cfg.PublicURL + "/checkout/" + tok
	return nil
}

// AwaitingCard reports whether the hosted card page still waits for the buyer's card.
func (p Payment) AwaitingCard() bool {
	return p.Order.Hosted && p.Stage() == StageProcessing && p.AcquirerState == AcquirerNotSent &&
		p.SealedCard == "" && p.Card.Fingerprint == ""
}

// PageOpen reports whether the buyer has a page to finish: the card form, the 3-D Secure
// challenge, or an upstream acquirer's own challenge. The pay answer is then U with normalUrl.
func (p Payment) PageOpen() bool {
	return p.AwaitingCard() || p.ChallengeOpen() || p.AcquirerPageOpen()
}

// AcquirerPageOpen reports whether the buyer must pass the acquirer's own page (an upstream
// gateway's 3-D Secure challenge) before the authorization can finish.
func (p Payment) AcquirerPageOpen() bool {
	return p.Stage() == StageProcessing && p.AcquirerState == AcquirerPending && p.Order.NormalURL != ""
}

// ShowsSaveCard reports whether the card page asks the buyer's consent to save the card.
func (p Payment) ShowsSaveCard() bool { return p.Order.TokenizeMode == TokenizeAskForConsent }

// ParseCardForm checks the card page's fields the way a buyer needs to be told: every problem at
// once, each on its field. The messages never repeat the card number.
func ParseCardForm(f CardForm, now time.Time) (PayCommand, FormErrors) {
	var cmd PayCommand
	errs := FormErrors{}
	digits := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, f.CardNo)
	switch pan, err := card.ParseNumber(digits); {
	case digits == "":
		errs["cardNo"] = "Enter your card number."
	case errors.Is(err, card.ErrUnsupportedBrand):
		errs["cardNo"] = "This card brand is not accepted."
	case err != nil:
		errs["cardNo"] = "This card number is not valid. Check it and try again."
	default:
		cmd.Card = pan
	}
	month, year := strings.TrimSpace(f.ExpiryMonth), strings.TrimSpace(f.ExpiryYear)
	switch exp, err := card.ParseExpiry(month, year); {
	case month == "" || year == "":
		errs["expiry"] = "Enter the expiry month and year."
	case err != nil:
		var ee *card.ExpiryError
		if errors.As(err, &ee) && ee.Part == "month" {
			errs["expiry"] = "The expiry month must be 1 to 12."
		} else {
			errs["expiry"] = "The expiry year must have 2 or 4 digits."
		}
	case exp.ExpiredAt(now):
		errs["expiry"] = "This card has expired."
	default:
		cmd.Expiry = exp
	}
	cvv := strings.TrimSpace(f.CVV)
	switch {
	case cvv == "":
		errs["cvv"] = "Enter the security code."
	case errs["cardNo"] != "":
		// Without a valid number the brand, and so the code's length, is unknown.
		if !cvvShape(cvv, card.Visa) && !cvvShape(cvv, card.Amex) {
			errs["cvv"] = "The security code has 3 or 4 digits."
		}
	case !cvvShape(cvv, cmd.Card.Brand()):
		errs["cvv"] = fmt.Sprintf("The security code has %d digits.", cvvLen(cmd.Card.Brand()))
	default:
		cmd.CVV = cvv
	}
	name := strings.Join(strings.Fields(f.CardholderName), " ")
	switch {
	case name == "":
		errs["cardholderName"] = "Enter the name on the card."
	case len(name) > 128:
		errs["cardholderName"] = "The name is too long."
	default:
		cmd.HolderName = name
	}
	if len(errs) > 0 {
		return PayCommand{}, errs
	}
	return cmd, nil
}

// SubmitCard takes the card the buyer entered on the hosted page of the payment with this page
// token. A valid card is authorized (after a 3-D Secure challenge when the issuer wants one: the
// payment then waits on the challenge page with the same token); an invalid one is returned as
// form errors with nothing written. A second post of the form finds the card already in and
// authorizes nothing more. It returns the payment as it stands afterwards.
func (s *Service) SubmitCard(ctx context.Context, m Merchant, token string, f CardForm) (Payment, FormErrors, error) {
	ctx = context.WithoutCancel(ctx)
	p, err := s.paymentByPageToken(ctx, token)
	if err != nil {
		return Payment{}, nil, err
	}
	if p.MerchantID != m.ID {
		return Payment{}, nil, fmt.Errorf("card page %s: payment of merchant %s, not %s", p.ID, p.MerchantID, m.ID)
	}
	if !p.AwaitingCard() {
		return p, nil, nil
	}
	cmd, errs := ParseCardForm(f, s.clock.Now())
	if errs != nil {
		return p, errs, nil
	}
	cmd.Amount = p.Amount
	cmd.Tokenize = p.Order.TokenizeMode == TokenizeEnabled || (p.ShowsSaveCard() && f.SaveCard)
	// A buyer at a web checkout is authenticated (SCA): the issuer decides between a challenge and
	// a frictionless pass. Without a 3-D Secure server the card is authorized as it is.
	cmd.Want3DS = s.auth != nil
	summary := cardSummaryOf(m, cmd)
	challenge, upstream3DS := false, false
	done, st, err := s.commitFresh(ctx, p, func(p Payment) (step, error) {
		if !p.AwaitingCard() {
			return step{}, nil // a concurrent post of the form got there first
		}
		next := p
		next.Card = summary
		next.Order.NormalURL = ""
		// The card is known now: so is its route, recorded before any acquirer is called.
		if err := s.route(ctx, &next, cmd); err != nil {
			return step{}, err
		}
		// An acquirer that authenticates buyers itself (an upstream gateway) runs 3-D Secure on
		// its own page, to which the buyer goes next; the gateway's own challenge is for the
		// acquirers that do not, and only where the gateway has a 3-D Secure server.
		challenge, upstream3DS = false, s.router.AuthenticatesBuyers(next.Auth.AcquirerName)
		if !upstream3DS {
			var err error
			if challenge, err = s.threeDSFor(&next, cmd); err != nil {
				return step{}, err
			}
		}
		if challenge {
			return step{op: OpChallenge, next: next}, nil
		}
		next.AcquirerState = AcquirerSent
		next.InFlightUntil = s.clock.Now().Add(s.cfg.InFlightLease)
		return step{op: OpCardEntered, next: next}, nil
	})
	switch {
	case err != nil:
		return Payment{}, nil, err
	case st.op == OpCardEntered:
		// A buyer at a web checkout is always authenticated where the acquirer can do it, also
		// when the gateway has no 3-D Secure server of its own (production).
		cmd.Want3DS = cmd.Want3DS || upstream3DS
		done, err = s.authorize(ctx, done, cmd)
		return done, nil, err
	}
	return done, nil, nil
}

// cardSummaryOf is what the payment keeps of a card.
func cardSummaryOf(m Merchant, cmd PayCommand) CardSummary {
	info := bin.Lookup(cmd.Card)
	return CardSummary{
		Funding:        info.Funding,
		IssuingCountry: info.Country,
		IssuerName:     info.Issuer,
		Category:       info.Category,
		Region:         info.Region,
		Brand:          string(paymentBrand(cmd)),
		Masked:         cmd.Card.Masked(),
		BIN:            cmd.Card.BIN(),
		LastFour:       cmd.Card.LastFour(),
		ExpiryMonth:    fmt.Sprintf("%02d", cmd.Expiry.Month),
		ExpiryYear:     fmt.Sprintf("%02d", cmd.Expiry.Year%100), // YY, as the seed answers show it
		Fingerprint:    card.Fingerprint(m.FingerprintKey, cmd.Card),
		HolderName:     cmd.HolderName,
		Token:          cmd.TokenID,
		Tokenize:       cmd.Tokenize && cmd.TokenID == "",
		CardOnFile:     cmd.TokenID != "" || cmd.MIT,
	}
}

// parseTokenize reads the merchant's wish to save the card: tokenizeMode, or the older tokenize.
func parseTokenize(m *protocol.CardMetaData, cmd *PayCommand) error {
	if m == nil {
		return nil
	}
	switch m.TokenizeMode {
	case "", TokenizeDisabled:
	case TokenizeEnabled, TokenizeAskForConsent:
		cmd.TokenizeMode = m.TokenizeMode
	default:
		return illegal(metaPath+".tokenizeMode", "must be ENABLED, ASKFORCONSENT or DISABLED")
	}
	if m.Tokenize && cmd.TokenizeMode == "" {
		cmd.TokenizeMode = TokenizeEnabled
	}
	// ASKFORCONSENT saves only what the buyer agrees to on the hosted page; a server-to-server pay
	// has no page to ask on, so it saves nothing.
	cmd.Tokenize = cmd.TokenizeMode == TokenizeEnabled
	return nil
}

// hostedRequest reports a pay that carries no card: the buyer enters it on the hosted page.
// Card data that is partly present is a server-to-server pay with a missing field instead.
func hostedRequest(m *protocol.CardMetaData) bool {
	return m == nil || (m.CardNo == "" && m.ExpiryMonth == "" && m.ExpiryYear == "" && m.CVV == "" && m.CardholderName == nil)
}
