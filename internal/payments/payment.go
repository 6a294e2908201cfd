package payments

import (
	"context"
	"errors"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
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
	// Settlement is what the payment settles on, fixed when it is created and never changed, so
	// that a report made from it later is the same whatever the rate table and the fees are by
	// then (docs/reports.md).
	Settlement SettlementTerms

	// After the authorization.
	Capture       CaptureState
	CapturedMinor int64
	RefundedMinor int64 // successful and in-process refunds: the money no longer refundable
	// DisputedMinor is what the payment's disputes claim (those not cancelled): refunds and
	// disputes together never exceed the capture. Only the dispute store writes it.
	DisputedMinor int64
	// ChargebackAt is when the acquirer's announced chargeback (Auth.Chargeback) opens a dispute,
	// set at capture; zero for none, and once the dispute is open.
	ChargebackAt time.Time
	CloseReason  CloseReason

	// AcquirerDueAt is when to ask the acquirer again about a Pending authorization (zero: the
	// acquirer will not answer; the payment waits for its expiry).
	AcquirerDueAt time.Time
	// VoidState: the gateway owes the acquirer a void (PENDING) until the acquirer confirms it.
	VoidState VoidState
	// InFlightUntil is the lease of the authorization call in flight (gateway clock): set when the
	// authorization is sent, cleared when its answer is recorded. An instance that dies during the
	// call leaves it set; once it has passed, any instance resolves the authorization (DueResolve).
	InFlightUntil time.Time

	// 3-D Secure: the outcome shown to merchants, the issuer page's key while a challenge is
	// pending, the wrong codes entered so far, and the card sealed by the vault (number, expiry,
	// CVV) that the authorization after the challenge needs — emptied with the authorization.
	ThreeDS           ThreeDSDetails
	ChallengeToken    string
	ChallengeAttempts int
	SealedCard        string

	CreatedAt     time.Time
	UpdatedAt     time.Time
	AuthorizedAt  time.Time // zero unless authorized
	AuthExpiresAt time.Time // capture deadline, zero unless authorized
	ExpiresAt     time.Time // paymentExpiryTime: unfinished payments close then
	CapturedAt    time.Time
	ClosedAt      time.Time // when it was cancelled, voided or expired
}

// SettlementTerms are a payment's settlement currency, the cross rate from its own currency
// (fx.Rate's exact decimal text) and the fee on each of its captures. The zero value is a payment
// from before settlement was recorded: settled in its own currency at 1, without fee.
type SettlementTerms struct {
	Currency string
	Rate     string
	// FeeBPS is the fee in basis points of each captured amount (in the settlement currency);
	// FeeFixedMinor a fixed fee per capture, in minor units of the settlement currency.
	FeeBPS        int64
	FeeFixedMinor int64
}

// VoidState tracks a void the gateway owes the acquirer.
type VoidState string

const (
	VoidNone    VoidState = ""
	VoidPending VoidState = "PENDING"
	VoidDone    VoidState = "DONE"
)

// TxnType is transactionType in inquiryPayment.
type TxnType string

const (
	TxnCapture TxnType = "CAPTURE"
	TxnRefund  TxnType = "REFUND"
	TxnCancel  TxnType = "CANCEL"
	TxnVoid    TxnType = "VOID"
)

// TxnStatus is transactionStatus / refundStatus.
type TxnStatus string

const (
	TxnProcessing TxnStatus = "PROCESSING"
	TxnSucceeded  TxnStatus = "SUCCESS"
	TxnFailed     TxnStatus = "FAIL"
)

// Txn is a capture, refund, cancel or void attached to a payment.
type Txn struct {
	ID         string
	PaymentID  string
	MerchantID string
	Type       TxnType
	RequestID  string // captureRequestId / refundRequestId; the paymentRequestId for cancels and auto-captures
	Status     TxnStatus
	Amount     money.Amount
	ResultCode protocol.Code
	ResultMsg  string
	Details    TxnDetails
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// DueAt is when to ask the acquirer again about a Processing capture (zero: not due).
	DueAt time.Time
	// Internal marks a transaction whose RequestID is the gateway's (the paymentRequestId of an
	// automatic capture, a cancel or a void): it is not a merchant's captureRequestId and does not
	// take part in their idempotency.
	Internal bool
}

// TxnDetails are the transaction's less queried facts.
type TxnDetails struct {
	AcquirerReference string `json:"acquirerReference,omitempty"`
	// AcquirerReferenceNo is what the merchant is shown when it differs from AcquirerReference
	// (acquirer.OpResult.ReferenceNo).
	AcquirerReferenceNo string `json:"acquirerReferenceNo,omitempty"`
	Reason              string `json:"reason,omitempty"`
	NotifyURL           string `json:"notifyUrl,omitempty"`
	ReferenceRefundID   string `json:"referenceRefundId,omitempty"`
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
	// Region is the card's paymentMethodRegion from the BIN table: GLOBAL, or the country whose
	// local card rules apply ("" on payments made before the table).
	Region string `json:"region,omitempty"`
	// Token is the cardToken: the saved card a payment was made with, or the one its approval
	// saved. Tokenize records that the card is to be saved when approved (tokenizeMode ENABLED,
	// tokenize: true, or the buyer's consent on the hosted page).
	Token    string `json:"token,omitempty"`
	Tokenize bool   `json:"tokenize,omitempty"`
	// CardOnFile marks a payment with a saved card (isCardOnFile; no CVV).
	CardOnFile bool `json:"cardOnFile,omitempty"`
	// MIT marks a merchant-initiated payment (isCardOnFile true; no CVV, no 3-D Secure), MITType
	// its kind. InitialNetworkTransactionID is, on an MIT, the network transaction id of the
	// customer-initiated payment it follows; on a token, the one of the approval that saved the
	// card, so that an MIT with the token may omit it.
	MIT                         bool   `json:"mit,omitempty"`
	MITType                     string `json:"mitType,omitempty"`
	InitialNetworkTransactionID string `json:"initialNetworkTransactionId,omitempty"`
}

// ThreeDSDetails is a payment's 3-D Secure authentication (docs/wire.md §5.4 ThreeDSResult).
type ThreeDSDetails struct {
	Mode            string `json:"mode,omitempty"` // CHALLENGE, FRICTIONLESS or MPI; empty without 3DS
	Version         string `json:"version,omitempty"`
	ECI             string `json:"eci,omitempty"`
	CAVV            string `json:"cavv,omitempty"`
	DSTransactionID string `json:"dsTransactionId,omitempty"`
	Challenged      bool   `json:"challenged,omitempty"`
	Authenticated   bool   `json:"authenticated,omitempty"`
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
	// Route is the acquirers this payment may be authorized by, in order (decided once, when its
	// card is known); Attempt is the place in it of AcquirerName, the acquirer the authorization
	// went to last (1 for the first). Empty for payments from before routing.
	Route   []string `json:"route,omitempty"`
	Attempt int      `json:"attempt,omitempty"`
	// Chargeback is the chargeback the acquirer announced with its approval (the sandbox's
	// dispute test cards): it opens a dispute Chargeback.After the capture.
	Chargeback *acquirer.Chargeback `json:"chargeback,omitempty"`
}

// OrderDetails is what the merchant said about the order and where to reach it.
type OrderDetails struct {
	ReferenceOrderID string `json:"referenceOrderId"`
	Description      string `json:"description"`
	ReferenceBuyerID string `json:"referenceBuyerId,omitempty"`
	RedirectURL      string `json:"redirectUrl"`
	NotifyURL        string `json:"notifyUrl,omitempty"`
	TerminalType     string `json:"terminalType"`
	ClientIP         string `json:"clientIp,omitempty"`  // env.clientIp, which an upstream gateway asks for
	NormalURL        string `json:"normalUrl,omitempty"` // the 3-D Secure page, while a challenge is pending
	OrderCurrency    string `json:"orderCurrency,omitempty"`
	OrderMinor       int64  `json:"orderMinor,omitempty"`
	// Hosted marks a payment whose card the buyer enters on the gateway's card page (pay without
	// card data); NormalURL is that page until the card is in. TokenizeMode is the merchant's
	// paymentMethodMetaData.tokenizeMode (ASKFORCONSENT shows the save-card box).
	Hosted       bool   `json:"hosted,omitempty"`
	TokenizeMode string `json:"tokenizeMode,omitempty"`
	// CreditPayPlan is the installment plan the merchant chose, with the plan table's terms
	// (docs/installments.md); nil for a payment in one go.
	CreditPayPlan *protocol.CreditPayPlan `json:"creditPayPlan,omitempty"`
}

// Event is the audit row written with every transition.
type Event struct {
	PaymentID  string
	TxnID      string // the capture, refund or cancel it concerns, if any
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
	// Ref is what the message is about (the paymentId, captureId or refundId): one message per
	// result (invariant 5).
	Ref       string
	URL       string
	Body      []byte
	CreatedAt time.Time
}

// Change is one guarded transition: the store applies it only if the payment is still at
// FromVersion, and writes the payment, the transaction, the event and the optional outbox row
// atomically.
type Change struct {
	Payment     Payment // the new values; Version must be FromVersion+1
	FromVersion int
	// Prev is the payment as stored at FromVersion, when the writer has it: the store then writes
	// only the columns that differ from it and refuses the change (ErrConflict) if Prev is not
	// what is stored (sqlstore's paymentUpdate). Nil: every column is written.
	Prev  *Payment
	Event Event
	// Then is a second transition made by the same commit, recorded after Event: an approval
	// that reserves its automatic capture at once (AUTH_APPROVED, then CAPTURE).
	Then   *Event
	Outbox *OutboxMessage
	// NewTxn is inserted (ErrDuplicate if its request id is taken, or for an internal one, if the
	// payment already has one of its type); Txn is updated, guarded by
	// its being still PROCESSING (ErrConflict otherwise).
	NewTxn *Txn
	Txn    *Txn
	// NewToken is a card saved by this change (an approval with tokenization), inserted in the
	// same transaction; ErrConflict if the merchant's buyer already has a token of that card.
	NewToken *Token
}

// DueKind is a kind of time-driven work.
type DueKind string

const (
	DueExpire        DueKind = "EXPIRE"         // a payment in process reached paymentExpiryTime
	DueAutoVoid      DueKind = "AUTO_VOID"      // an uncaptured authorization reached authExpiryTime
	DueSettle        DueKind = "SETTLE"         // time to ask the acquirer about a Pending authorization
	DueCaptureStatus DueKind = "CAPTURE_STATUS" // time to ask the acquirer about a Processing capture
	DueRefundStatus  DueKind = "REFUND_STATUS"  // time to send a refund whose answer was lost again
	DueVoid          DueKind = "VOID"           // a void is owed to the acquirer
	DueAutoCapture   DueKind = "AUTO_CAPTURE"   // an AUTOMATIC payment approved but not captured (the process died in between)
	DueResolve       DueKind = "RESOLVE"        // an authorization's sender died before recording its answer (InFlightUntil passed)
)

// Due is one piece of time-driven work.
type Due struct {
	Kind       DueKind
	MerchantID string
	PaymentID  string
	TxnID      string
	At         time.Time
}

// Store persists payments. Implementations must make CreatePayment and Apply atomic with their
// event and outbox rows.
type Store interface {
	TokenStore
	// CreatePayment inserts a new payment with its creation event. It returns ErrDuplicate when
	// the merchant already has a payment with that request id.
	CreatePayment(ctx context.Context, p Payment, ev Event) error
	// Apply writes a guarded change; ErrConflict when the payment moved on meanwhile.
	Apply(ctx context.Context, c Change) error
	// PaymentByChallengeToken finds the payment whose 3-D Secure page has this key (any merchant:
	// the unguessable token is the buyer's only credential); ErrNotFound otherwise.
	PaymentByChallengeToken(ctx context.Context, token string) (Payment, error)
	// PaymentByID and PaymentByRequestID return ErrNotFound for unknown ids and for ids of another
	// merchant alike, so one merchant cannot learn about another's payments.
	PaymentByID(ctx context.Context, merchantID, paymentID string) (Payment, error)
	// PaymentForAcquirer finds a payment by its id alone (any merchant), for an acquirer's
	// verified notice, which names the gateway's payment id and no merchant; ErrNotFound otherwise.
	PaymentForAcquirer(ctx context.Context, paymentID string) (Payment, error)
	PaymentByRequestID(ctx context.Context, merchantID, requestID string) (Payment, error)
	// PaymentByNetworkTransactionID finds the merchant's authorized payment whose authorization
	// returned this network transaction id (the first payment an MIT names; the oldest, should
	// two share it). ErrNotFound for unknown ids, for payments never authorized and for another
	// merchant's alike.
	PaymentByNetworkTransactionID(ctx context.Context, merchantID, networkTransactionID string) (Payment, error)

	// TxnByRequestID finds a capture or refund by the merchant's request id (internal
	// transactions excluded); TxnByID by its id.
	// Both return ErrNotFound for unknown ids and for another merchant's.
	TxnByRequestID(ctx context.Context, merchantID string, typ TxnType, requestID string) (Txn, error)
	TxnByID(ctx context.Context, merchantID string, typ TxnType, txnID string) (Txn, error)
	// Txns lists a payment's transactions, oldest first.
	Txns(ctx context.Context, merchantID, paymentID string) ([]Txn, error)

	// Due lists work due at or before t, earliest first, leased or not.
	Due(ctx context.Context, t time.Time, limit int) ([]Due, error)
	// ClaimWork leases (until leaseUntil, by the wall clock) the payments of the work due at or
	// before t (the gateway clock) that no live lease holds, and returns that work: several
	// instances share it, and the work of one that dies returns when its lease runs out.
	ClaimWork(ctx context.Context, t, now, leaseUntil time.Time, limit int) ([]Due, error)
	// ReleaseWork ends a payment's work lease.
	ReleaseWork(ctx context.Context, paymentID string) error
}

// BatchStore is a Store that can write many changes in one commit (the automatic captures'
// results, internal/payments/captures.go). ApplyAll returns one error per change: nil when it was
// written, ErrConflict when its payment or transaction had moved on (nothing of that change is
// written, the others are). Any other failure rolls the whole batch back and is the second
// result; the caller then applies the changes one by one.
type BatchStore interface {
	ApplyAll(ctx context.Context, cs []Change) ([]error, error)
}

// Store errors.
var (
	ErrNotFound  = errors.New("payments: not found")
	ErrDuplicate = errors.New("payments: duplicate request id")
	ErrConflict  = errors.New("payments: concurrent change")
	// ErrInvalidText is a write of an id or text that holds a NUL or invalid UTF-8, which a store
	// refuses (PostgreSQL cannot keep it). It carries PARAM_ILLEGAL: should an unchecked field
	// ever reach a store, the merchant is told the request is wrong, not to retry it.
	ErrInvalidText error = protocol.Errorf(protocol.CodeParamIllegal, "the request holds a NUL character or invalid UTF-8 text")
)
