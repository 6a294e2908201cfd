// Package disputes is the chargeback's own state machine (docs/design.md, issue 15): a dispute
// opened on a captured payment for all or part of it, the merchant's defense or acceptance, the
// issuer's judgement, and what each step owes the merchant (a notification) and moves in money
// (a lost dispute is a debit). Like the payment's, the machine is a table (transitions), walked
// cell by cell by the tests; the package does no I/O: the store writes a transition, its event and
// its notification in one transaction.
package disputes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// State is where a dispute stands.
type State string

const (
	// Open: the chargeback is in; the merchant may accept it or defend it until DefenseDue.
	Open State = "OPEN"
	// Defended: the merchant supplied a defense; the issuer judges it.
	Defended State = "DEFENDED"
	// Accepted: the merchant accepted the chargeback, or let the defense deadline pass; lost.
	Accepted State = "ACCEPTED"
	// Won and Lost: the issuer judged the defense.
	Won  State = "WON"
	Lost State = "LOST"
	// Cancelled: the buyer or the issuer withdrew the chargeback; nothing moves.
	Cancelled State = "CANCELLED"
)

// Final reports whether nothing can happen to a dispute any more.
func (s State) Final() bool { return s == Accepted || s == Won || s == Lost || s == Cancelled }

// Debited reports whether the dispute took its amount back from the merchant.
func (s State) Debited() bool { return s == Accepted || s == Lost }

// Event is what happens to a dispute.
type Event string

const (
	EvAccept  Event = "ACCEPT"  // acceptDispute
	EvDefend  Event = "DEFEND"  // supplyDefenseDocument
	EvAlert   Event = "ALERT"   // the clock: the defense deadline is near
	EvTimeout Event = "TIMEOUT" // the clock: the defense deadline passed undefended
	EvWin     Event = "JUDGE_WON"
	EvLose    Event = "JUDGE_LOST"
	EvCancel  Event = "CANCEL" // the buyer or the issuer withdrew it
)

// Notification types of Antom's notifyDispute (docs/wire.md §7.2).
const (
	NotifyCreated         = "DISPUTE_CREATED"
	NotifyJudged          = "DISPUTE_JUDGED"
	NotifyCancelled       = "DISPUTE_CANCELLED"
	NotifyDefenseSupplied = "DEFENSE_SUPPLIED"
	NotifyDefenseDueAlert = "DEFENSE_DUE_ALERT"
	NotifyAccepted        = "DISPUTE_ACCEPTED"
)

// Judged results (disputeJudgedResult) and accept reasons (disputeAcceptReason).
const (
	JudgedAcceptByMerchant = "ACCEPT_BY_MERCHANT"
	JudgedValidateSuccess  = "VALIDATE_SUCCESS"
	JudgedValidateFail     = "VALIDATE_FAIL"
	JudgedAcceptByCustomer = "ACCEPT_BY_CUSTOMER"

	AcceptMerchant = "MERCHANT_ACCEPTED"
	AcceptTimeout  = "TIMEOUT"
)

// transition is one cell of the machine: from a state, on an event, to a state, telling the
// merchant notify (empty: nothing), with judged as disputeJudgedResult where the outcome is known.
type transition struct {
	to     State
	notify string
	judged string
}

// transitions is the machine. A (state, event) pair missing here is refused.
var transitions = map[State]map[Event]transition{
	Open: {
		EvAccept:  {to: Accepted, notify: NotifyAccepted, judged: JudgedAcceptByMerchant},
		EvDefend:  {to: Defended, notify: NotifyDefenseSupplied},
		EvAlert:   {to: Open, notify: NotifyDefenseDueAlert},
		EvTimeout: {to: Accepted, notify: NotifyAccepted, judged: JudgedAcceptByMerchant},
		EvCancel:  {to: Cancelled, notify: NotifyCancelled, judged: JudgedAcceptByCustomer},
	},
	Defended: {
		EvWin:    {to: Won, notify: NotifyJudged, judged: JudgedValidateSuccess},
		EvLose:   {to: Lost, notify: NotifyJudged, judged: JudgedValidateFail},
		EvCancel: {to: Cancelled, notify: NotifyCancelled, judged: JudgedAcceptByCustomer},
	},
}

// Dispute is one chargeback.
type Dispute struct {
	ID         string
	MerchantID string
	PaymentID  string
	CaptureID  string
	// AmountMinor is what the buyer disputes, in the payment's currency.
	AmountMinor int64
	Currency    string
	ReasonCode  string
	ReasonMsg   string
	State       State
	// Outcome says how the buyer's issuer will judge a defense (the sandbox decides it when the
	// dispute opens, by test card): true, the defense wins.
	DefenseWins bool
	// Alerted records that DEFENSE_DUE_ALERT went out, so it goes out once.
	Alerted      bool
	AcceptReason string
	JudgedResult string
	// EvidenceSealed is the merchant's defense, sealed by the vault (it may carry personal data).
	EvidenceSealed string
	OpenedAt       time.Time
	DefenseDue     time.Time
	DefendedAt     time.Time // when the defense was supplied
	ResolvedAt     time.Time // when it became final
	Version        int
}

// Step is the result of applying an event: the dispute after it and the notification it owes.
type Step struct {
	Next   Dispute
	Notify string // a disputeNotificationType, or "" for none
}

// Apply moves d by ev at now. A refused event is a *protocol.Error the merchant can be shown:
// ORDER_STATUS_INVALID naming the dispute's state, so accepting twice, or after the judgement,
// changes nothing.
func Apply(d Dispute, ev Event, now time.Time) (Step, error) {
	t, ok := transitions[d.State][ev]
	if !ok {
		return Step{}, protocol.Errorf(protocol.CodeOrderStatusInvalid, "dispute %s is %s: %s is not possible", d.ID, d.State, verb(ev))
	}
	if ev == EvAlert && d.Alerted {
		return Step{}, protocol.Errorf(protocol.CodeOrderStatusInvalid, "dispute %s: the defense due alert was sent", d.ID)
	}
	next := d
	next.State, next.Version = t.to, d.Version+1
	if t.judged != "" {
		next.JudgedResult = t.judged
	}
	switch ev {
	case EvAccept:
		next.AcceptReason = AcceptMerchant
	case EvTimeout:
		next.AcceptReason = AcceptTimeout
	case EvAlert:
		next.Alerted = true
	case EvDefend:
		next.DefendedAt = now
	}
	if next.State.Final() {
		next.ResolvedAt = now
	}
	return Step{Next: next, Notify: t.notify}, nil
}

func verb(ev Event) string {
	switch ev {
	case EvAccept:
		return "acceptDispute"
	case EvDefend:
		return "supplyDefenseDocument"
	}
	return fmt.Sprintf("event %s", ev)
}

// Judgement is the issuer's decision on a defended dispute.
func (d Dispute) Judgement() Event {
	if d.DefenseWins {
		return EvWin
	}
	return EvLose
}

// Disputable is what a payment still has that a new dispute may take: captured, less refunded,
// less what its other disputes already claim (those not cancelled; a won dispute still counted,
// since the buyer's issuer may not claim the same money twice).
func Disputable(capturedMinor, refundedMinor int64, others []Dispute) int64 {
	left := capturedMinor - refundedMinor
	for _, o := range others {
		if o.State != Cancelled {
			left -= o.AmountMinor
		}
	}
	return max(left, 0)
}

// CheckAmount refuses a dispute amount that is not positive or exceeds what the payment still
// has (Disputable): the sum of disputes and refunds never exceeds the capture.
func CheckAmount(amountMinor, disputable int64) error {
	switch {
	case amountMinor <= 0:
		return protocol.Errorf(protocol.CodeParamIllegal, "disputeAmount must be positive")
	case amountMinor > disputable:
		return protocol.Errorf(protocol.CodeParamIllegal, "disputeAmount %d exceeds what the payment has left to dispute (%d: captured, less refunds and other disputes)", amountMinor, disputable)
	}
	return nil
}

// DefenseWindow is how long a merchant has to defend, and AlertBefore how long before the end
// the DEFENSE_DUE_ALERT goes out. Sandbox values, on the gateway clock: a day's chargeback life
// takes seconds with the clock moved forward.
const (
	DefenseWindow = 7 * 24 * time.Hour
	AlertBefore   = 24 * time.Hour
	// JudgeAfter is how long the issuer takes to judge a defense.
	JudgeAfter = 3 * 24 * time.Hour
)

// Due is when the clock next acts on d, and what it does then; ok false when nothing is due.
func (d Dispute) Due() (at time.Time, ev Event, ok bool) {
	switch d.State {
	case Open:
		if !d.Alerted {
			return d.DefenseDue.Add(-AlertBefore), EvAlert, true
		}
		return d.DefenseDue, EvTimeout, true
	case Defended:
		return d.DefendedAt.Add(JudgeAfter), d.Judgement(), true
	}
	return time.Time{}, "", false
}

// Errors of a Store.
var (
	ErrNotFound  = errors.New("disputes: no such dispute")
	ErrConflict  = errors.New("disputes: the dispute changed meanwhile")
	ErrDuplicate = errors.New("disputes: a dispute with this id exists")
	// ErrTooMuch: the payment has less left to dispute than asked (Disputable), or is not captured.
	ErrTooMuch = errors.New("disputes: more than the payment has left to dispute")
)

// Notice is the notification a change owes the merchant: notifyDispute's body, posted to URL.
type Notice struct {
	Type      string // disputeNotificationType
	URL       string
	Body      []byte
	CreatedAt time.Time
}

// Change is one transition as the store writes it, in one transaction: the dispute (its Version
// FromVersion+1; a new dispute has FromVersion 0), its event and the notification it owes.
type Change struct {
	Dispute     Dispute
	FromVersion int
	Event       Event
	From        State // "" for a new dispute
	At          time.Time
	Notice      *Notice
	// Chargeback marks the opening of a payment's announced chargeback, which opens once.
	Chargeback bool
}

// DueChargeback is a payment whose announced chargeback is due to open a dispute.
type DueChargeback struct {
	MerchantID, PaymentID string
	At                    time.Time
}

// Store keeps disputes. Lookups by merchant return ErrNotFound for another merchant's dispute
// as for an unknown one.
type Store interface {
	// OpenDispute inserts a new dispute, refusing with ErrTooMuch an amount above what its payment
	// has left (captured, less refunded, less its other disputes not cancelled).
	OpenDispute(ctx context.Context, c Change) error
	// ApplyDispute writes a transition, guarded by the dispute's version (ErrConflict).
	ApplyDispute(ctx context.Context, c Change) error
	DisputeByID(ctx context.Context, merchantID, disputeID string) (Dispute, error)
	DisputesOfPayment(ctx context.Context, merchantID, paymentID string) ([]Dispute, error)
	// DueDisputes lists disputes the clock acts on at or before t, earliest first.
	DueDisputes(ctx context.Context, t time.Time, limit int) ([]Dispute, error)
	// DueChargebacks lists payments whose announced chargeback is due at or before t.
	DueChargebacks(ctx context.Context, t time.Time, limit int) ([]DueChargeback, error)
	// DropChargeback forgets a payment's announced chargeback without opening a dispute.
	DropChargeback(ctx context.Context, merchantID, paymentID string, at time.Time) error
}
