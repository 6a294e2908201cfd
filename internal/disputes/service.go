package disputes

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/protocol"
)

// Payment is what a dispute needs of the payment it is about.
type Payment struct {
	ID, RequestID, MerchantID string
	CaptureID                 string // "" when not captured
	Currency                  string
	NotifyURL                 string // where the merchant hears about its disputes
	// LeftMinor is what a new dispute may take: captured, less refunds, less the disputes not
	// cancelled.
	LeftMinor int64
	// Chargeback is the chargeback the acquirer announced and that has not opened yet (nil: none).
	Chargeback *Announced
	// AcquirerInfo names the acquirer that authorized the payment, as its notifications do.
	AcquirerInfo *protocol.AcquirerInfo
}

// Announced is a chargeback the acquirer announced with the authorization (the sandbox's dispute
// cards): its reason, and how the issuer will judge a defense.
type Announced struct {
	ReasonCode, ReasonMsg string
	DefenseWins           bool
}

// Payments finds a merchant's payment (ErrNotFound for an unknown one or another merchant's).
type Payments interface {
	DisputablePayment(ctx context.Context, merchantID, paymentID string) (Payment, error)
}

// Vault seals a defense, which may carry personal data (receipts, addresses, correspondence).
type Vault interface {
	SealText(plaintext, aad []byte) (string, error)
	OpenText(sealed string, aad []byte) ([]byte, error)
}

// MaxEvidence bounds a defense document: Antom's evidence is one file, and a store row holding
// megabytes of it would slow every read of the dispute.
const MaxEvidence = 2 << 20

// Service runs disputes on a store.
type Service struct {
	store    Store
	payments Payments
	vault    Vault
	clock    clock.Clock
	wake     func()
}

// OnNotice sets what to call after a change owed the merchant a notification (the dispatcher's
// Wake, so it goes out at once rather than at the next poll).
func (s *Service) OnNotice(wake func()) *Service {
	s.wake = wake
	return s
}

func (s *Service) noticed(c Change) {
	if c.Notice != nil && s.wake != nil {
		s.wake()
	}
}

// NewService returns the dispute service.
func NewService(st Store, p Payments, v Vault, clk clock.Clock) *Service {
	return &Service{store: st, payments: p, vault: v, clock: clk}
}

// OpenRequest opens a chargeback (the sandbox's test cards and dispute call; an acquirer's
// chargeback feed in production).
type OpenRequest struct {
	MerchantID, PaymentID string
	AmountMinor           int64  // 0: all the payment has left to dispute
	Currency              string // "" or the payment's
	ReasonCode, ReasonMsg string
	DefenseWins           bool
}

// Open opens a dispute on a captured payment and owes the merchant DISPUTE_CREATED.
func (s *Service) Open(ctx context.Context, r OpenRequest) (Dispute, error) {
	p, err := s.payments.DisputablePayment(ctx, r.MerchantID, r.PaymentID)
	if errors.Is(err, ErrNotFound) {
		return Dispute{}, protocol.Errorf(protocol.CodeOrderNotExist, "payment %s does not exist", r.PaymentID)
	}
	if err != nil {
		return Dispute{}, fmt.Errorf("open dispute: %w", err)
	}
	if p.CaptureID == "" {
		return Dispute{}, protocol.Errorf(protocol.CodeOrderStatusInvalid, "payment %s is not captured: only a captured payment can be disputed", p.ID)
	}
	if r.Currency != "" && r.Currency != p.Currency {
		return Dispute{}, protocol.Errorf(protocol.CodeParamIllegal, "disputeAmount.currency must be %s, the currency of payment %s", p.Currency, p.ID)
	}
	if r.AmountMinor == 0 {
		r.AmountMinor = p.LeftMinor // the whole of what is left, as a chargeback usually is
		if r.AmountMinor <= 0 {
			return Dispute{}, protocol.Errorf(protocol.CodeParamIllegal, "payment %s has nothing left to dispute: it is refunded or disputed in full", p.ID)
		}
	}
	if r.AmountMinor < 0 {
		return Dispute{}, protocol.Errorf(protocol.CodeParamIllegal, "disputeAmount must be positive")
	}
	d, c, err := s.opening(p, r)
	if err != nil {
		return Dispute{}, err
	}
	switch err := s.store.OpenDispute(ctx, c); {
	case errors.Is(err, ErrTooMuch):
		return Dispute{}, protocol.Errorf(protocol.CodeParamIllegal, "disputeAmount %d exceeds what payment %s has left to dispute (captured, less refunds and other disputes)", r.AmountMinor, p.ID)
	case err != nil:
		return Dispute{}, fmt.Errorf("open dispute: %w", err)
	}
	s.noticed(c)
	return d, nil
}

// opening is the new dispute r asks for on p, and the change that opens it.
func (s *Service) opening(p Payment, r OpenRequest) (Dispute, Change, error) {
	id, err := newID()
	if err != nil {
		return Dispute{}, Change{}, err
	}
	now := s.clock.Now()
	d := Dispute{ID: id, MerchantID: p.MerchantID, PaymentID: p.ID, CaptureID: p.CaptureID, AmountMinor: r.AmountMinor,
		Currency: p.Currency, ReasonCode: r.ReasonCode, ReasonMsg: r.ReasonMsg, State: Open, DefenseWins: r.DefenseWins,
		OpenedAt: now, DefenseDue: now.Add(DefenseWindow), Version: 1}
	return d, Change{Dispute: d, Event: "OPEN", At: now, Notice: s.notice(p, d, NotifyCreated, now)}, nil
}

// OpenChargeback opens the dispute of a payment's announced chargeback, for what the payment has
// left, once however many instances try; a payment refunded in full meanwhile drops it.
func (s *Service) OpenChargeback(ctx context.Context, merchantID, paymentID string) error {
	for range 8 {
		p, err := s.payments.DisputablePayment(ctx, merchantID, paymentID)
		if err != nil {
			return fmt.Errorf("chargeback of %s: %w", paymentID, err)
		}
		cb := p.Chargeback
		switch {
		case cb == nil:
			return nil // opened (or dropped) meanwhile
		case p.LeftMinor <= 0:
			return s.store.DropChargeback(ctx, merchantID, paymentID, s.clock.Now())
		}
		_, c, err := s.opening(p, OpenRequest{AmountMinor: p.LeftMinor, ReasonCode: cb.ReasonCode, ReasonMsg: cb.ReasonMsg, DefenseWins: cb.DefenseWins})
		if err != nil {
			return err
		}
		c.Chargeback = true
		switch err := s.store.OpenDispute(ctx, c); {
		case errors.Is(err, ErrDuplicate):
			continue // someone else opened it, or a refund moved the balance: look again
		case err != nil:
			return fmt.Errorf("chargeback of %s: %w", paymentID, err)
		}
		s.noticed(c)
		return nil
	}
	return fmt.Errorf("chargeback of %s: the payment kept changing", paymentID)
}

// Accept is acceptDispute: the merchant gives the money up.
func (s *Service) Accept(ctx context.Context, merchantID, disputeID string) (Dispute, error) {
	return s.move(ctx, merchantID, disputeID, EvAccept, nil)
}

// SupplyDefense is supplyDefenseDocument: the evidence (base64 of the document, as the wire
// carries it) is kept sealed until the judgement, and the issuer judges it JudgeAfter later.
func (s *Service) SupplyDefense(ctx context.Context, merchantID, disputeID, evidence string) (Dispute, error) {
	if evidence == "" {
		return Dispute{}, protocol.Errorf(protocol.CodeParamIllegal, "disputeEvidence is required")
	}
	raw, err := base64.StdEncoding.DecodeString(evidence)
	if err != nil {
		return Dispute{}, protocol.Errorf(protocol.CodeParamIllegal, "disputeEvidence must be the document in base64")
	}
	if len(raw) > MaxEvidence {
		return Dispute{}, protocol.Errorf(protocol.CodeParamIllegal, "disputeEvidence is %d bytes; at most %d", len(raw), MaxEvidence)
	}
	return s.move(ctx, merchantID, disputeID, EvDefend, func(d *Dispute) error {
		sealed, err := s.vault.SealText(raw, evidenceAAD(*d))
		if err != nil {
			return fmt.Errorf("seal evidence: %w", err)
		}
		d.EvidenceSealed = sealed
		return nil
	})
}

// OfPayment lists a payment's disputes, oldest first: ORDER_NOT_EXIST for an unknown payment or
// another merchant's.
func (s *Service) OfPayment(ctx context.Context, merchantID, paymentID string) ([]Dispute, error) {
	if paymentID == "" {
		return nil, protocol.Errorf(protocol.CodeParamIllegal, "paymentId is required")
	}
	if _, err := s.payments.DisputablePayment(ctx, merchantID, paymentID); errors.Is(err, ErrNotFound) {
		return nil, protocol.Errorf(protocol.CodeOrderNotExist, "payment %s does not exist", paymentID)
	} else if err != nil {
		return nil, fmt.Errorf("disputes of %s: %w", paymentID, err)
	}
	return s.store.DisputesOfPayment(ctx, merchantID, paymentID)
}

// Evidence kinds of downloadDisputeEvidence.
const (
	EvidenceTemplate = "DISPUTE_EVIDENCE_TEMPLATE"
	EvidenceFile     = "DISPUTE_EVIDENCE_FILE"
)

// DownloadEvidence is downloadDisputeEvidence: the template a defense is written on, or the
// defense the merchant supplied, as base64, with its format.
func (s *Service) DownloadEvidence(ctx context.Context, merchantID, disputeID, kind string) (evidence, format string, err error) {
	d, err := s.byID(ctx, merchantID, disputeID)
	if err != nil {
		return "", "", err
	}
	switch kind {
	case EvidenceTemplate:
		return base64.StdEncoding.EncodeToString(template(d)), "WORD", nil
	case EvidenceFile:
		if d.EvidenceSealed == "" {
			return "", "", protocol.Errorf(protocol.CodeOrderStatusInvalid, "dispute %s has no defense supplied", d.ID)
		}
		raw, err := s.vault.OpenText(d.EvidenceSealed, evidenceAAD(d))
		if err != nil {
			return "", "", fmt.Errorf("open evidence: %w", err)
		}
		return base64.StdEncoding.EncodeToString(raw), evidenceFormat(raw), nil
	case "":
		return "", "", protocol.Errorf(protocol.CodeParamIllegal, "disputeEvidenceType is required")
	}
	return "", "", protocol.Errorf(protocol.CodeParamIllegal, "disputeEvidenceType %q is not DISPUTE_EVIDENCE_TEMPLATE or DISPUTE_EVIDENCE_FILE", kind)
}

// Due is a piece of the clock's dispute work: a dispute's alert, deadline or judgement
// (DisputeID set), or a payment's announced chargeback to open.
type Due struct {
	At                               time.Time
	MerchantID, PaymentID, DisputeID string
}

// DueWork lists the dispute work due at or before t, earliest first.
func (s *Service) DueWork(ctx context.Context, t time.Time, limit int) ([]Due, error) {
	ds, err := s.store.DueDisputes(ctx, t, limit)
	if err != nil {
		return nil, err
	}
	cbs, err := s.store.DueChargebacks(ctx, t, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Due, 0, len(ds)+len(cbs))
	for _, d := range ds {
		if at, _, ok := d.Due(); ok {
			out = append(out, Due{At: at, MerchantID: d.MerchantID, PaymentID: d.PaymentID, DisputeID: d.ID})
		}
	}
	for _, c := range cbs {
		out = append(out, Due{At: c.At, MerchantID: c.MerchantID, PaymentID: c.PaymentID})
	}
	slices.SortStableFunc(out, func(a, b Due) int { return a.At.Compare(b.At) })
	return out, nil
}

// RunDueWork does one piece of due work, if it is still due: another instance, or the merchant,
// may have moved the dispute meanwhile.
func (s *Service) RunDueWork(ctx context.Context, w Due) error {
	if w.DisputeID == "" {
		return s.OpenChargeback(ctx, w.MerchantID, w.PaymentID)
	}
	d, err := s.byID(ctx, w.MerchantID, w.DisputeID)
	if err != nil {
		return err
	}
	at, ev, ok := d.Due()
	if !ok || at.After(s.clock.Now()) {
		return nil
	}
	if _, err := s.move(ctx, d.MerchantID, d.ID, ev, nil); err != nil && !isStatusError(err) {
		return err
	}
	return nil
}

// RunDue does all the dispute work due by now and reports how many pieces it did.
func (s *Service) RunDue(ctx context.Context, limit int) (int, error) {
	due, err := s.DueWork(ctx, s.clock.Now(), limit)
	if err != nil {
		return 0, err
	}
	for i, w := range due {
		if err := s.RunDueWork(ctx, w); err != nil {
			return i, err
		}
	}
	return len(due), nil
}

func isStatusError(err error) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Code == protocol.CodeOrderStatusInvalid
}

func (s *Service) byID(ctx context.Context, merchantID, disputeID string) (Dispute, error) {
	if disputeID == "" {
		return Dispute{}, protocol.Errorf(protocol.CodeParamIllegal, "disputeId is required")
	}
	d, err := s.store.DisputeByID(ctx, merchantID, disputeID)
	if errors.Is(err, ErrNotFound) {
		return Dispute{}, protocol.Errorf(protocol.CodeOrderNotExist, "dispute %s does not exist", disputeID)
	}
	return d, err
}

// move applies ev to the dispute, retrying when a concurrent change got there first.
func (s *Service) move(ctx context.Context, merchantID, disputeID string, ev Event, edit func(*Dispute) error) (Dispute, error) {
	for range 8 {
		d, err := s.byID(ctx, merchantID, disputeID)
		if err != nil {
			return Dispute{}, err
		}
		now := s.clock.Now()
		st, err := Apply(d, ev, now)
		if err != nil {
			return Dispute{}, err
		}
		if edit != nil {
			if err := edit(&st.Next); err != nil {
				return Dispute{}, err
			}
		}
		c := Change{Dispute: st.Next, FromVersion: d.Version, Event: ev, From: d.State, At: now}
		if st.Notify != "" {
			p, err := s.payments.DisputablePayment(ctx, d.MerchantID, d.PaymentID)
			if err != nil {
				return Dispute{}, fmt.Errorf("dispute %s: its payment: %w", d.ID, err)
			}
			c.Notice = s.notice(p, st.Next, st.Notify, now)
		}
		switch err := s.store.ApplyDispute(ctx, c); {
		case errors.Is(err, ErrConflict):
			continue
		case err != nil:
			return Dispute{}, err
		}
		s.noticed(c)
		return st.Next, nil
	}
	return Dispute{}, protocol.Errorf(protocol.CodeUnknownException, "dispute %s kept changing; try again", disputeID)
}

// NotifyDispute is notifyDispute's body (docs/wire.md §7.2).
type NotifyDispute struct {
	PaymentRequestID        string                 `json:"paymentRequestId"`
	DisputeID               string                 `json:"disputeId"`
	PaymentID               string                 `json:"paymentId"`
	DisputeTime             string                 `json:"disputeTime"`
	DisputeAmount           *protocol.Amount       `json:"disputeAmount"`
	DisputeNotificationType string                 `json:"disputeNotificationType"`
	DisputeReasonCode       string                 `json:"disputeReasonCode,omitempty"`
	DisputeReasonMsg        string                 `json:"disputeReasonMsg,omitempty"`
	DefenseDueTime          string                 `json:"defenseDueTime,omitempty"`
	DisputeJudgedTime       string                 `json:"disputeJudgedTime,omitempty"`
	DisputeJudgedAmount     *protocol.Amount       `json:"disputeJudgedAmount,omitempty"`
	DisputeJudgedResult     string                 `json:"disputeJudgedResult,omitempty"`
	DisputeAcceptReason     string                 `json:"disputeAcceptReason,omitempty"`
	DisputeAcceptTime       string                 `json:"disputeAcceptTime,omitempty"`
	DisputeType             string                 `json:"disputeType"`
	Defendable              bool                   `json:"defendable"`
	CaptureID               string                 `json:"captureId,omitempty"`
	AcquirerInfo            *protocol.AcquirerInfo `json:"acquirerInfo,omitempty"`
}

// NotifyOf renders a dispute's notification of type typ.
func NotifyOf(p Payment, d Dispute, typ string) NotifyDispute {
	amt := &protocol.Amount{Currency: d.Currency, Value: fmt.Sprint(d.AmountMinor)}
	n := NotifyDispute{PaymentRequestID: p.RequestID, DisputeID: d.ID, PaymentID: d.PaymentID, DisputeTime: protocol.FormatTime(d.OpenedAt),
		DisputeAmount: amt, DisputeNotificationType: typ, DisputeReasonCode: d.ReasonCode, DisputeReasonMsg: d.ReasonMsg,
		DisputeType: "CHARGEBACK", Defendable: d.State == Open, CaptureID: d.CaptureID, AcquirerInfo: p.AcquirerInfo}
	if typ == NotifyCreated || typ == NotifyDefenseDueAlert {
		n.DefenseDueTime = protocol.FormatTime(d.DefenseDue)
	}
	if d.State.Final() && d.JudgedResult != "" {
		n.DisputeJudgedTime, n.DisputeJudgedResult = protocol.FormatTime(d.ResolvedAt), d.JudgedResult
		judged := *amt
		if !d.State.Debited() {
			judged.Value = "0"
		}
		n.DisputeJudgedAmount = &judged
	}
	if d.AcceptReason != "" {
		n.DisputeAcceptReason, n.DisputeAcceptTime = d.AcceptReason, protocol.FormatTime(d.ResolvedAt)
	}
	return n
}

func (s *Service) notice(p Payment, d Dispute, typ string, now time.Time) *Notice {
	if p.NotifyURL == "" {
		return nil // a merchant without a notify URL is told nothing, as for payments
	}
	body, _ := json.Marshal(NotifyOf(p, d, typ)) // plain strings and numbers: cannot fail
	return &Notice{Type: typ, URL: p.NotifyURL, Body: body, CreatedAt: now}
}

func evidenceAAD(d Dispute) []byte { return []byte("dispute-evidence/" + d.MerchantID + "/" + d.ID) }

func newID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "dsp_" + base64.RawURLEncoding.EncodeToString(b), nil
}
