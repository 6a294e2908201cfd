// Package acquirer is the edge between cardgate and the card networks: the Acquirer interface that
// every acquirer connection implements. The simulator in simulator/ is the only implementation a
// sandbox needs, and the only mock in the system (docs/design.md "Real parts").
package acquirer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
	// Authenticated says the buyer passed 3-D Secure (challenge, frictionless or the merchant's
	// MPI): issuers that asked for authentication (soft declines) accept it then.
	Authenticated bool
	// Attempt is the place of this acquirer in the payment's route: 1 for the first one tried,
	// 2 after one failover, … (the sandbox's failover test cards read it).
	Attempt int
	// RedirectURL is where the buyer returns after a 3-D Secure page the acquirer itself shows
	// (an upstream gateway's challenge page, Outcome ActionRequired); acquirers that never show
	// one ignore it.
	RedirectURL string
	// Want3DS says the merchant asked for 3-D Secure (is3DSAuthentication): an acquirer that runs
	// its own authentication starts it and answers ActionRequired. Zero keeps the old behaviour.
	Want3DS bool
	// BuyerID is the merchant's reference of the buyer (order.buyer.referenceBuyerId), for
	// acquirers that ask for one; empty when the merchant named none.
	BuyerID string
	// ClientIP is the buyer's address as the merchant sent it (env.clientIp), which an upstream
	// gateway requires and its risk checks read.
	ClientIP string
	// CreditPayPlan is the installment plan the payment was validated for (docs/installments.md);
	// nil for a payment in one go. An upstream gateway gets it as the merchant's creditPayPlan.
	CreditPayPlan *protocol.CreditPayPlan
	// MIT says the merchant initiates this payment on a card on file (no buyer present, no CVV,
	// no 3-D Secure); MITType is SCHEDULED, UNSCHEDULED or RECURRING and
	// InitialNetworkTransactionID the network's id of the customer-initiated payment it follows.
	MIT                         bool
	MITType                     string
	InitialNetworkTransactionID string
	// Local are the local card fields of seed 000 the merchant sent for the card's country
	// (docs/wire.md §5.3), passed on to an acquirer that checks them again. Never logged; the
	// password digest lives only as long as the call.
	Local LocalCardFields
	// SelectedBrand is the merchant's choice among a co-badged card's brands ("" for none).
	SelectedBrand card.Brand
}

// LocalCardFields are paymentMethodMetaData's local card fields.
type LocalCardFields struct {
	DateOfBirth, CardPasswordDigest, BusinessNo, CPF, PayerEmail string
}

// LogValue keeps the fields out of structured logs: they are personal data.
func (LocalCardFields) LogValue() slog.Value { return slog.StringValue("[local card fields redacted]") }

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
	// ActionRequired: the acquirer needs the buyer first (its own 3-D Secure page): the buyer is
	// sent to AuthResult.NormalURL, and the final answer comes later, as for Pending
	// (InquireAuthorization, or the acquirer's notification).
	ActionRequired
	// Unavailable: the acquirer answered that it did not process the request, or the request
	// never reached it, and it holds nothing under the reference: a technical failure after which
	// trying another acquirer is safe. It is never the answer of an inquiry.
	Unavailable
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
	case ActionRequired:
		return "action-required"
	case Unavailable:
		return "unavailable"
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

	// RetryAfter, for Pending, is when the acquirer expects to have the answer (zero: unknown).
	RetryAfter time.Duration

	// NormalURL, for ActionRequired, is the acquirer's page the buyer must visit.
	NormalURL string

	// Chargeback, on an approval, announces a chargeback the buyer's issuer will raise after the
	// capture. Only the simulator knows the future: its dispute test cards drive the dispute
	// path this way, as a real acquirer's chargeback feed would later.
	Chargeback *Chargeback `json:",omitempty"`
}

// Chargeback is an announced chargeback: After the capture, for what is left of the payment,
// with the issuer's reason; DefenseWins says how the issuer will judge a defense.
type Chargeback struct {
	After       time.Duration `json:"after"`
	ReasonCode  string        `json:"reasonCode"`
	ReasonMsg   string        `json:"reasonMsg"`
	DefenseWins bool          `json:"defenseWins"`
}

// Acquirer is one acquiring bank's connection. Every method's error means "outcome unknown": the
// request may or may not have taken effect, and the gateway asks again later. A refusal is a
// result, not an error.
type Acquirer interface {
	// Name is the acquirerName shown to merchants in acquirerInfo.
	Name() string
	// Authorize asks for an authorization.
	Authorize(ctx context.Context, req AuthRequest) (AuthResult, error)
	// InquireAuthorization asks again about an authorization that was Pending.
	InquireAuthorization(ctx context.Context, acquirerTransactionID string) (AuthResult, error)
	// Capture settles an authorization.
	Capture(ctx context.Context, req CaptureRequest) (OpResult, error)
	// InquireCapture asks again about a capture that was Pending.
	InquireCapture(ctx context.Context, reference string) (OpResult, error)
	// Refund returns captured money to the card.
	Refund(ctx context.Context, req RefundRequest) (OpResult, error)
	// Void releases an authorization (or a late one that arrives after the payment closed).
	Void(ctx context.Context, acquirerTransactionID string) error
	// Reverse releases whatever authorization the acquirer holds for the gateway's own reference
	// (AuthRequest.PaymentID): the reversal of an authorization whose answer never arrived, so
	// whose acquirer reference the gateway does not know. Reversing nothing succeeds.
	Reverse(ctx context.Context, paymentID string) error
	// InquireByReference asks about the authorization the acquirer holds for the gateway's own
	// reference (AuthRequest.PaymentID): the inquiry of an authorization whose sender died before
	// its answer was recorded, so whose acquirer reference the gateway does not know. ErrNotFound:
	// the acquirer never received it (or it was reversed), so nothing is held.
	InquireByReference(ctx context.Context, paymentID string) (AuthResult, error)
}

// Set is the acquirers a gateway routes across, by name, in the order they were configured.
type Set struct {
	byName map[string]Acquirer
	names  []string
}

// NewSet returns the set of acqs; their names must be unique and not empty.
func NewSet(acqs ...Acquirer) (*Set, error) {
	s := &Set{byName: map[string]Acquirer{}}
	for _, a := range acqs {
		name := a.Name()
		if name == "" {
			return nil, errors.New("acquirer: an acquirer without a name")
		}
		if _, dup := s.byName[name]; dup {
			return nil, fmt.Errorf("acquirer: two acquirers named %q", name)
		}
		s.byName[name] = a
		s.names = append(s.names, name)
	}
	if len(s.names) == 0 {
		return nil, errors.New("acquirer: no acquirer configured")
	}
	return s, nil
}

// Get returns the acquirer called name.
func (s *Set) Get(name string) (Acquirer, bool) {
	a, ok := s.byName[name]
	return a, ok
}

// Names lists the acquirers in configuration order.
func (s *Set) Names() []string { return append([]string(nil), s.names...) }

// ErrNotFound is InquireByReference's answer for a reference the acquirer holds no authorization
// under.
var ErrNotFound = errors.New("acquirer: no authorization under this reference")

// CaptureRequest settles an authorization.
type CaptureRequest struct {
	PaymentID             string
	AcquirerTransactionID string
	Amount                money.Amount
	MerchantID            string // the gateway's merchant (sandbox forced results are per merchant)
}

// RefundRequest returns money of a captured authorization.
type RefundRequest struct {
	RefundID              string
	AcquirerTransactionID string
	Amount                money.Amount
	MerchantID            string // the gateway's merchant (sandbox forced results are per merchant)
}

// OpStatus is how a capture or refund ended, as far as the gateway can tell now.
type OpStatus int

const (
	OpSucceeded OpStatus = iota + 1
	OpFailed
	// OpPending: accepted, result later; ask again after RetryAfter.
	OpPending
)

// OpResult is the acquirer's answer to a capture or refund.
type OpResult struct {
	Status    OpStatus
	Code      protocol.Code // the refusal code when Failed
	Message   string
	Reference string // the acquirer's id of this capture or refund, as it asks about it again
	// ReferenceNo is what the merchant is shown as acquirerReferenceNo when it differs from
	// Reference (an upstream's own captureId, where Reference also carries the payment's id).
	ReferenceNo string
	RetryAfter  time.Duration
}
