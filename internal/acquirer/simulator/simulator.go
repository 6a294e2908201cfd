// Package simulator is the sandbox acquirer: outcomes are decided by the test card number so every
// path of a merchant's integration can be driven on purpose (design.md "The sandbox test cards").
// The card table lives here in code, never in the store.
package simulator

import (
	"context"
	"crypto/rand"
	"math/big"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/protocol"
)

// Behaviour is what a test card does at authorization and afterwards.
type Behaviour struct {
	Outcome     acquirer.Outcome
	DeclineCode protocol.Code
	AVS         string // forced raw AVS result; empty means "from the billing address"
	CVV         string // forced raw CVV result; empty means "from the CVV presence"
	// SettleAfter is, for the timeout card, how long after the request the late answer arrives.
	SettleAfter time.Duration
	// ThreeDS says how the card behaves when 3-D Secure is requested (used by the 3DS flow).
	ThreeDS ThreeDSBehaviour
	// CaptureFails and CaptureDelay drive the capture paths; Dispute opens a chargeback.
	CaptureFails bool
	CaptureDelay time.Duration
	DisputeAfter time.Duration
}

// ThreeDSBehaviour is a card's 3-D Secure row.
type ThreeDSBehaviour int

const (
	ThreeDSDefault      ThreeDSBehaviour = iota // challenge when 3DS is requested (seed 000)
	ThreeDSChallenge                            // always a challenge when 3DS is requested
	ThreeDSFrictionless                         // authenticated without a page
	ThreeDSSoftDecline                          // AUTHENTICATION_REQUIRED unless upgraded to 3DS
)

// Cards is the sandbox test-card table. A Luhn-valid number that is not listed is approved.
var Cards = map[string]Behaviour{
	"4000000000000002": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeDoNotHonor},
	"4000000000009995": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeUserBalanceNotEnough},
	"4000000000000069": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeCardExpired},
	"4000000000000127": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeInvalidCVV, CVV: "N"},
	"4000000000009987": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeSuspectedCard},
	"4100000000000019": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeRiskReject},
	"4000000000000010": {Outcome: acquirer.Approved, AVS: "N"},
	"4000000000000119": {Outcome: acquirer.Pending, SettleAfter: 5 * time.Second},
	"4000002760003184": {Outcome: acquirer.Approved, ThreeDS: ThreeDSChallenge},
	"4000000000003220": {Outcome: acquirer.Approved, ThreeDS: ThreeDSFrictionless},
	// Declines after a passed challenge too; without 3DS it declines straight away.
	"4000008400001629": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeDoNotHonor, ThreeDS: ThreeDSChallenge},
	"4000000000003063": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeAuthenticationRequired, ThreeDS: ThreeDSSoftDecline},
	"4000000000000259": {Outcome: acquirer.Approved, DisputeAfter: 24 * time.Hour},
	"4000000000000036": {Outcome: acquirer.Approved, CaptureFails: true},
	"4000000000000028": {Outcome: acquirer.Approved, CaptureDelay: time.Minute},
	"4000000000000044": {Outcome: acquirer.NoAnswer},
}

// BehaviourOf returns the behaviour of a card number; unlisted cards are approved.
func BehaviourOf(pan card.Number) Behaviour {
	if b, ok := Cards[pan.Digits()]; ok {
		return b
	}
	return Behaviour{Outcome: acquirer.Approved}
}

var declineMessages = map[protocol.Code]string{
	protocol.CodeDoNotHonor:             "Do not honor. The issuer declined the transaction.",
	protocol.CodeUserBalanceNotEnough:   "Insufficient funds on the card.",
	protocol.CodeCardExpired:            "The issuer reports the card as expired.",
	protocol.CodeInvalidCVV:             "The CVV is incorrect.",
	protocol.CodeSuspectedCard:          "The card is reported lost or stolen.",
	protocol.CodeRiskReject:             "The payment was rejected by risk control.",
	protocol.CodeAuthenticationRequired: "The issuer requires 3-D Secure authentication.",
}

// issuers gives each brand a plausible issuing country, so cardInfo looks like a real answer.
var issuers = map[card.Brand]struct{ country, name string }{
	card.Visa:       {"US", "CARDGATE SANDBOX BANK"},
	card.Mastercard: {"US", "CARDGATE SANDBOX BANK"},
	card.Amex:       {"US", "AMERICAN EXPRESS"},
	card.JCB:        {"JP", "JCB CO., LTD."},
	card.Discover:   {"US", "DISCOVER BANK"},
	card.Diners:     {"US", "DINERS CLUB INTERNATIONAL"},
	card.CUP:        {"CN", "CHINA UNIONPAY"},
}

// Simulator is the sandbox acquirer.
type Simulator struct {
	name       string
	merchantID string
}

// New returns a simulator that calls itself name (acquirerInfo.acquirerName).
func New(name string) *Simulator {
	return &Simulator{name: name, merchantID: "SIM" + name}
}

// Name implements acquirer.Acquirer.
func (s *Simulator) Name() string { return s.name }

// Authorize implements acquirer.Acquirer.
func (s *Simulator) Authorize(ctx context.Context, req acquirer.AuthRequest) (acquirer.AuthResult, error) {
	if err := ctx.Err(); err != nil {
		return acquirer.AuthResult{}, err
	}
	b := BehaviourOf(req.Card)
	res := acquirer.AuthResult{
		Outcome:               b.Outcome,
		AcquirerName:          s.name,
		AcquirerMerchantID:    s.merchantID,
		AcquirerTransactionID: "sim_" + randomDigits(24),
		Funding:               "CREDIT",
		Category:              "CONSUMER",
	}
	if is, ok := issuers[req.Card.Brand()]; ok {
		res.IssuingCountry, res.IssuerName = is.country, is.name
	}
	switch b.Outcome {
	case acquirer.Pending, acquirer.NoAnswer:
		// The answer is not in yet: nothing about AVS, CVV or the network is known.
		return res, nil
	}
	res.AVSResult = b.AVS
	if res.AVSResult == "" {
		res.AVSResult = "U" // no address sent: AVS unavailable
		if req.AVSPresent {
			res.AVSResult = "Y"
		}
	}
	res.CVVResult = b.CVV
	if res.CVVResult == "" {
		res.CVVResult = "U" // no CVV sent: not checked
		if req.CVV != "" {
			res.CVVResult = "Y"
		}
	}
	res.NetworkTransactionID = randomDigits(15)
	if b.Outcome == acquirer.Declined {
		res.DeclineCode = b.DeclineCode
		res.DeclineMsg = declineMessages[b.DeclineCode]
		res.RefusalCodeRaw = string(b.DeclineCode)
		res.RefusalReasonRaw = res.DeclineMsg
		res.AcquirerResultCode = string(b.DeclineCode)
		res.AcquirerResultMessage = res.DeclineMsg
		return res, nil
	}
	res.AuthorizationCode = randomDigits(6)
	res.AcquirerResultCode = "SUCCESS"
	res.AcquirerResultMessage = "success"
	return res, nil
}

func randomDigits(n int) string {
	b := make([]byte, n)
	ten := big.NewInt(10)
	for i := range b {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}
