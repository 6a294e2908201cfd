// Package acquirer is the edge between cardgate and the card networks: the Acquirer interface that
// every acquirer connection implements. The simulator in simulator/ is the only implementation a
// sandbox needs, and the only mock in the system (design.md "Real parts").
package acquirer

import (
	"context"

	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// AuthRequest asks an acquirer to authorize an amount on a card. It carries the plain card number
// and CVV, so it is passed by value to the acquirer and never stored or logged.
type AuthRequest struct {
	PaymentID  string
	MerchantID string
	Amount     money.Amount
	Card       card.Number
	Expiry     card.Expiry
	CVV        string
	HolderName string
	// AVSPresent says whether the merchant sent a billing address to check.
	AVSPresent bool
}

// Outcome is how an authorization ended, as far as the gateway can tell right now.
type Outcome int

const (
	// Approved: the issuer approved; the amount is held.
	Approved Outcome = iota + 1
	// Declined: the issuer or the acquirer refused; DeclineCode says why.
	Declined
	// Pending: the acquirer took the request but its answer did not arrive in time; it arrives
	// later (the sandbox's timeout card settles after SettleAfter).
	Pending
	// NoAnswer: the acquirer never answers; the payment stays in process until it expires.
	NoAnswer
)

func (o Outcome) String() string {
	switch o {
	case Approved:
		return "approved"
	case Declined:
		return "declined"
	case Pending:
		return "pending"
	case NoAnswer:
		return "no-answer"
	}
	return "unknown"
}

// AuthResult is the acquirer's answer.
type AuthResult struct {
	Outcome     Outcome
	DeclineCode protocol.Code
	DeclineMsg  string

	AcquirerName          string
	AcquirerMerchantID    string
	AcquirerTransactionID string
	NetworkTransactionID  string
	AuthorizationCode     string
	AcquirerResultCode    string
	AcquirerResultMessage string
	AVSResult             string // raw AVS code: Y, A, Z, N, U…
	CVVResult             string // raw CVV code: M (match) / Y, N, U…
	RefusalCodeRaw        string
	RefusalReasonRaw      string

	// Issuer facts the acquirer learns from the BIN.
	Funding        string
	IssuingCountry string
	IssuerName     string
	Category       string
}

// Acquirer authorizes card payments.
type Acquirer interface {
	// Name is the acquirerName shown to merchants in acquirerInfo.
	Name() string
	// Authorize asks for an authorization. An error means the outcome is unknown (the request may
	// or may not have reached the issuer); a decline is a result, not an error.
	Authorize(ctx context.Context, req AuthRequest) (AuthResult, error)
}
