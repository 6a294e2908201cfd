package payments

import (
	"context"
	"errors"
	"time"

	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// Payment is the aggregate: one authorization attempt for one paymentRequestId of one merchant.
// It never holds a card number or CVV; Card is the masked summary that may be shown.
type Payment struct {
	ID          string
	MerchantID  string
	RequestID   string
	State       State
	Version     int // optimistic guard: every transition bumps it
	Amount      money.Amount
	CaptureMode CaptureMode
	ResultCode  protocol.Code // SUCCESS, PAYMENT_IN_PROCESS or the decline code
	ResultMsg   string

	// AcquirerState tracks the call to the acquirer separately from the payment state, so that a
	// duplicate pay can tell "authorization in flight" (wait for it) from "acquirer owes us an
	// answer" (answer U at once).
	AcquirerState AcquirerState

	Card  CardSummary
	Auth  AuthDetails
	Order OrderDetails

	CreatedAt     time.Time
	UpdatedAt     time.Time
	AuthorizedAt  time.Time // zero unless authorized
	AuthExpiresAt time.Time // capture deadline, zero unless authorized
	ExpiresAt     time.Time // paymentExpiryTime: unfinished payments close then
}

// CaptureMode is paymentFactor.captureMode.
type CaptureMode string

const (
	CaptureAutomatic CaptureMode = "AUTOMATIC"
	CaptureManual    CaptureMode = "MANUAL"
)

// AcquirerState is where the authorization call stands.
type AcquirerState string

const (
	AcquirerNotSent  AcquirerState = ""
	AcquirerSent     AcquirerState = "SENT"
	AcquirerPending  AcquirerState = "PENDING" // timed out or unanswered: the outcome arrives later
	AcquirerAnswered AcquirerState = "ANSWERED"
)

// CardSummary is what may be stored and shown of a card (PCI DSS: first six, last four).
type CardSummary struct {
	Brand          string `json:"brand"`
	Masked         string `json:"masked"`
	BIN            string `json:"bin"`
	LastFour       string `json:"lastFour"`
	ExpiryMonth    string `json:"expiryMonth"`
	ExpiryYear     string `json:"expiryYear"`
	Fingerprint    string `json:"fingerprint"`
	HolderName     string `json:"holderName,omitempty"`
	Funding        string `json:"funding,omitempty"`
	IssuingCountry string `json:"issuingCountry,omitempty"`
	IssuerName     string `json:"issuerName,omitempty"`
	Category       string `json:"category,omitempty"`
}

// AuthDetails is what the acquirer answered.
type AuthDetails struct {
	AcquirerName          string `json:"acquirerName,omitempty"`
	AcquirerMerchantID    string `json:"acquirerMerchantId,omitempty"`
	AcquirerTransactionID string `json:"acquirerTransactionId,omitempty"`
	AcquirerResultCode    string `json:"acquirerResultCode,omitempty"`
	AcquirerResultMessage string `json:"acquirerResultMessage,omitempty"`
	AVSResult             string `json:"avsResult,omitempty"`
	CVVResult             string `json:"cvvResult,omitempty"`
	NetworkTransactionID  string `json:"networkTransactionId,omitempty"`
	AuthorizationCode     string `json:"authorizationCode,omitempty"`
	RefusalCodeRaw        string `json:"refusalCodeRaw,omitempty"`
	RefusalReasonRaw      string `json:"refusalReasonRaw,omitempty"`
}

// OrderDetails is what the merchant said about the order and where to reach it.
type OrderDetails struct {
	ReferenceOrderID string `json:"referenceOrderId"`
	Description      string `json:"description"`
	ReferenceBuyerID string `json:"referenceBuyerId,omitempty"`
	RedirectURL      string `json:"redirectUrl"`
	NotifyURL        string `json:"notifyUrl,omitempty"`
	TerminalType     string `json:"terminalType"`
	OrderCurrency    string `json:"orderCurrency,omitempty"`
	OrderMinor       int64  `json:"orderMinor,omitempty"`
}

// Event is the audit row written with every transition.
type Event struct {
	PaymentID  string
	Op         Op
	From       State
	To         State
	ResultCode protocol.Code
	At         time.Time
}

// OutboxMessage is a notification that must reach the merchant, written in the same transaction
// as the transition that caused it (transactional outbox); the notifier delivers it later.
type OutboxMessage struct {
	MerchantID string
	PaymentID  string
	NotifyType string
	URL        string
	Body       []byte
	CreatedAt  time.Time
}

// Change is one guarded transition: the store applies it only if the payment is still at
// FromVersion, and writes the payment, the event and the optional outbox row atomically.
type Change struct {
	Payment     Payment // the new values; Version must be FromVersion+1
	FromVersion int
	Event       Event
	Outbox      *OutboxMessage
}

// Store persists payments. Implementations must make CreatePayment and Apply atomic with their
// event and outbox rows.
type Store interface {
	// CreatePayment inserts a new payment with its creation event. It returns ErrDuplicate when
	// the merchant already has a payment with that request id.
	CreatePayment(ctx context.Context, p Payment, ev Event) error
	// Apply writes a guarded change; ErrConflict when the payment moved on meanwhile.
	Apply(ctx context.Context, c Change) error
	// PaymentByID and PaymentByRequestID return ErrNotFound for unknown ids and for ids of another
	// merchant alike, so one merchant cannot learn about another's payments.
	PaymentByID(ctx context.Context, merchantID, paymentID string) (Payment, error)
	PaymentByRequestID(ctx context.Context, merchantID, requestID string) (Payment, error)
}

// Store errors.
var (
	ErrNotFound  = errors.New("payments: not found")
	ErrDuplicate = errors.New("payments: duplicate request id")
	ErrConflict  = errors.New("payments: concurrent change")
)
