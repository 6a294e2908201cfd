package payments

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/protocol"
)

// 3-D Secure modes.
const (
	ThreeDSChallenge    = "CHALLENGE"
	ThreeDSFrictionless = "FRICTIONLESS"
	ThreeDSMPI          = "MPI"
)

// MaxChallengeAttempts is how many wrong codes end a challenge (docs/design.md: three failures end the
// payment as failed).
const MaxChallengeAttempts = 3

// sealedCard is what the authorization after a challenge needs of the card. It exists only
// sealed by the vault, only while the challenge is pending.
type sealedCard struct {
	PAN        string `json:"pan"`
	Month      int    `json:"month"`
	Year       int    `json:"year"`
	CVV        string `json:"cvv,omitempty"`
	HolderName string `json:"holderName"`
	HasBilling bool   `json:"hasBilling,omitempty"`
	CardOnFile bool   `json:"cardOnFile,omitempty"`
}

// cardAAD binds sealed card data to its merchant and payment: moved to another row it cannot be
// opened.
func cardAAD(p Payment) []byte { return []byte("card/" + p.MerchantID + "/" + p.ID) }

// threeDSFor decides, before the payment is created, how 3-D Secure goes: the merchant's own MPI
// result passes through, a frictionless card is authenticated at once, any other card is
// challenged when 3DS is requested.
func (s *Service) threeDSFor(p *Payment, cmd PayCommand) (challenge bool, err error) {
	if cmd.IssuerAuth {
		return true, s.openIssuerAuth(p, cmd) // the Korean issuer's page instead (localcard.go)
	}
	if (cmd.Want3DS || cmd.MPI != nil) && s.auth == nil {
		return false, illegal(metaPath+".is3DSAuthentication", "3-D Secure is not enabled on this gateway")
	}
	switch {
	case cmd.MPI != nil:
		p.ThreeDS = ThreeDSDetails{Mode: ThreeDSMPI, Version: cmd.MPI.ThreeDSVersion, ECI: cmd.MPI.ECI, CAVV: cmd.MPI.CAVV,
			DSTransactionID: cmd.MPI.DSTransactionID, Authenticated: true}
	case cmd.Want3DS && !s.auth.Challenge(cmd.Card):
		v, eci, cavv, ds := s.auth.Result(p.Card.Brand)
		p.ThreeDS = ThreeDSDetails{Mode: ThreeDSFrictionless, Version: v, ECI: eci, CAVV: cavv, DSTransactionID: ds, Authenticated: true}
	case cmd.Want3DS:
		return true, s.openChallenge(p, cmd)
	}
	return false, nil
}

// openChallenge prepares p for the challenge page: an unguessable page token, the card sealed for
// the authorization that follows, and the page's address as normalUrl.
func (s *Service) openChallenge(p *Payment, cmd PayCommand) error {
	if p.ChallengeToken == "" {
		// A hosted payment keeps the token of its card page: the buyer's one link leads on.
		tok, err := pageToken()
		if err != nil {
			return err
		}
		p.ChallengeToken = tok
	}
	raw, err := json.Marshal(sealedCard{PAN: cmd.Card.Digits(), Month: cmd.Expiry.Month, Year: cmd.Expiry.Year,
		CVV: cmd.CVV, HolderName: cmd.HolderName, HasBilling: cmd.HasBilling, CardOnFile: cmd.TokenID != ""})
	if err != nil {
		return err
	}
	sealed, err := s.vault.SealText(raw, cardAAD(*p))
	clear(raw)
	if err != nil {
		return fmt.Errorf("seal card for 3-D Secure: %w", err)
	}
	p.SealedCard = sealed
	p.ChallengeAttempts = 0
	p.AcquirerState = AcquirerNotSent
	p.ThreeDS = ThreeDSDetails{Mode: ThreeDSChallenge, Version: "2.2.0"}
	p.Order.NormalURL = s.cfg.PublicURL + "/threeds/" + p.ChallengeToken
	return nil
}

// ChallengePayment returns the payment a challenge page belongs to.
func (s *Service) ChallengePayment(ctx context.Context, token string) (Payment, error) {
	return s.paymentByPageToken(ctx, token)
}

// ChallengeOpen reports whether the payment still waits for its challenge code.
func (p Payment) ChallengeOpen() bool {
	return p.Stage() == StageProcessing && p.SealedCard != "" && p.AcquirerState == AcquirerNotSent
}

// SubmitCode takes the code the buyer typed on the challenge page. The right code sends the
// authorization (once, however often the form is posted); a wrong one leaves attempts until the
// third, which fails the payment. It returns the payment as it stands afterwards.
func (s *Service) SubmitCode(ctx context.Context, token, code string) (Payment, error) {
	ctx = context.WithoutCancel(ctx)
	p, err := s.paymentByPageToken(ctx, token)
	if err != nil {
		return Payment{}, err
	}
	right := s.auth != nil && s.auth.CheckCode(code)
	done, st, err := s.commitFresh(ctx, p, func(p Payment) (step, error) {
		if !p.ChallengeOpen() {
			return step{}, nil // finished, or a concurrent post already sent it
		}
		if p.ThreeDS.Mode == ThreeDSIssuer {
			return s.issuerAuthStep(p, right), nil // localcard.go
		}
		next := p
		if right {
			v, eci, cavv, ds := s.auth.Result(p.Card.Brand)
			next.ThreeDS = ThreeDSDetails{Mode: ThreeDSChallenge, Version: v, ECI: eci, CAVV: cavv, DSTransactionID: ds,
				Challenged: true, Authenticated: true}
			next.AcquirerState = AcquirerSent
			next.InFlightUntil = s.clock.Now().Add(s.cfg.InFlightLease)
			return step{op: OpAuthenticated, next: next}, nil
		}
		next.ChallengeAttempts++
		if next.ChallengeAttempts < MaxChallengeAttempts {
			return step{op: OpChallengeRetry, next: next}, nil
		}
		next.ResultCode, next.ResultMsg = protocol.Code("VERIFY_TIMES_EXCEED_LIMIT"), "3-D Secure authentication failed: the code was wrong three times."
		next.ThreeDS.Challenged = true
		next.SealedCard, next.Order.NormalURL = "", ""
		next.ClosedAt = s.clock.Now()
		return step{op: OpNotAuthenticated, next: next, notify: s.paymentNotice}, nil
	})
	if err != nil || st.op != OpAuthenticated {
		return done, err
	}
	return s.authorizeSealed(ctx, done)
}

// authorizeSealed opens the sealed card and authorizes with it, after a passed challenge.
func (s *Service) authorizeSealed(ctx context.Context, p Payment) (Payment, error) {
	raw, err := s.vault.OpenText(p.SealedCard, cardAAD(p))
	if err != nil {
		return Payment{}, fmt.Errorf("open sealed card of %s: %w", p.ID, err)
	}
	var c sealedCard
	err = json.Unmarshal(raw, &c)
	clear(raw)
	if err != nil {
		return Payment{}, fmt.Errorf("decode sealed card of %s: %w", p.ID, err)
	}
	pan, err := card.ParseNumber(c.PAN)
	c.PAN = ""
	if err != nil {
		return Payment{}, fmt.Errorf("sealed card of %s: %w", p.ID, err)
	}
	return s.authorize(ctx, p, PayCommand{Amount: p.Amount, Card: pan, Expiry: card.Expiry{Year: c.Year, Month: c.Month},
		CVV: c.CVV, HolderName: c.HolderName, HasBilling: c.HasBilling, CardOnFile: c.CardOnFile})
}

// upgradeToChallenge turns a soft decline into a challenge when the merchant allowed it
// (enableAuthenticationUpgrade, the 3DS-Retry of seed 001).
func (s *Service) upgradeToChallenge(ctx context.Context, p Payment, cmd PayCommand) (Payment, error) {
	done, _, err := s.commitFresh(ctx, p, func(p Payment) (step, error) {
		if p.Stage() != StageProcessing {
			return step{}, nil
		}
		next := p
		next.InFlightUntil = zeroTime // the soft decline answered the authorization
		if err := s.openChallenge(&next, cmd); err != nil {
			return step{}, err
		}
		return step{op: OpChallenge, next: next}, nil
	})
	return done, err
}

// softDeclined reports an answer that a passed 3-D Secure challenge may turn around.
func softDeclined(res acquirer.AuthResult) bool {
	return res.Outcome == acquirer.Declined && res.DeclineCode == protocol.CodeAuthenticationRequired
}
