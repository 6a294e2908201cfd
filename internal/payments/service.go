// Package payments is the domain: the Payment aggregate, its state machine and invariants, and the
// service that runs pay and inquiry. It does no I/O of its own: the store, the acquirer and the
// clock are injected.
package payments

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/protocol"
)

// Merchant is what the payments service needs to know about the caller.
type Merchant struct {
	ID             string
	FingerprintKey []byte
	// NotifyURL is the merchant's default notification address, used when a payment names none.
	NotifyURL string
}

// Config tunes the service.
type Config struct {
	// AcquirerTimeout bounds one authorization call; Java and Python SDKs give up after 15 s, so
	// the whole pay must answer well before that.
	AcquirerTimeout time.Duration
	// DuplicateWait bounds how long a concurrent duplicate pay waits for the first one's answer
	// before answering PAYMENT_IN_PROCESS.
	DuplicateWait time.Duration
}

// Service runs payments.
type Service struct {
	store    Store
	acquirer acquirer.Acquirer
	clock    clock.Clock
	log      *slog.Logger
	cfg      Config
}

// NewService wires a service.
func NewService(store Store, acq acquirer.Acquirer, clk clock.Clock, log *slog.Logger, cfg Config) *Service {
	if cfg.AcquirerTimeout == 0 {
		cfg.AcquirerTimeout = 8 * time.Second
	}
	if cfg.DuplicateWait == 0 {
		cfg.DuplicateWait = 5 * time.Second
	}
	return &Service{store: store, acquirer: acq, clock: clk, log: log, cfg: cfg}
}

// Pay validates and runs a pay request. On success it returns the payment in its current state
// (which may be a decline); a refusal is a *protocol.Error.
func (s *Service) Pay(ctx context.Context, m Merchant, req *protocol.PayRequest) (Payment, error) {
	now := s.clock.Now()
	// A replay is judged as of the original request: a paymentExpiryTime or card expiry that has
	// passed since must not turn the payment's answer into a validation error.
	if req.PaymentRequestID != "" {
		existing, err := s.store.PaymentByRequestID(ctx, m.ID, req.PaymentRequestID)
		if err == nil {
			cmd, err := ParsePayRequest(req, existing.CreatedAt)
			if err != nil {
				return Payment{}, err
			}
			return s.replay(ctx, existing, keyOf(m, cmd))
		}
		if !errors.Is(err, ErrNotFound) {
			return Payment{}, fmt.Errorf("pay: look up request id: %w", err)
		}
	}
	cmd, err := ParsePayRequest(req, now)
	if err != nil {
		return Payment{}, err
	}
	key := keyOf(m, cmd)

	p := Payment{
		ID:            newPaymentID(now),
		MerchantID:    m.ID,
		RequestID:     cmd.RequestID,
		State:         StateProcessing,
		Version:       1,
		Amount:        cmd.Amount,
		CaptureMode:   cmd.CaptureMode,
		ResultCode:    protocol.CodePaymentInProcess,
		ResultMsg:     "Payment is processing.",
		AcquirerState: AcquirerSent,
		Card: CardSummary{
			Brand:       string(cmd.Card.Brand()),
			Masked:      cmd.Card.Masked(),
			BIN:         cmd.Card.BIN(),
			LastFour:    cmd.Card.LastFour(),
			ExpiryMonth: fmt.Sprintf("%02d", cmd.Expiry.Month),
			ExpiryYear:  fmt.Sprintf("%02d", cmd.Expiry.Year%100), // YY, as the seed answers show it
			Fingerprint: key.fingerprint,
			HolderName:  cmd.HolderName,
		},
		Order:     cmd.Order,
		CreatedAt: now,
		UpdatedAt: now,
		ExpiresAt: cmd.ExpiresAt,
	}
	if p.Order.NotifyURL == "" {
		p.Order.NotifyURL = m.NotifyURL
	}
	err = s.store.CreatePayment(ctx, p, Event{PaymentID: p.ID, Op: OpCreate, To: StateProcessing, ResultCode: p.ResultCode, At: now})
	if errors.Is(err, ErrDuplicate) {
		// A concurrent pay with the same request id won the insert; only it talks to the acquirer.
		existing, lerr := s.store.PaymentByRequestID(ctx, m.ID, cmd.RequestID)
		if lerr != nil {
			return Payment{}, fmt.Errorf("pay: load concurrent duplicate: %w", lerr)
		}
		return s.replay(ctx, existing, key)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("pay: create payment: %w", err)
	}
	return s.authorize(ctx, p, cmd)
}

// replay answers a pay whose request id is already known: the payment's current answer when the
// key fields match, REPEAT_REQ_INCONSISTENT otherwise.
func (s *Service) replay(ctx context.Context, p Payment, key payKey) (Payment, error) {
	if p.keyOf() != key {
		return Payment{}, protocol.Errorf(protocol.CodeRepeatReqInconsistent,
			"paymentRequestId %s was used before with a different paymentAmount, card or captureMode", p.RequestID)
	}
	if p.State != StateProcessing || p.AcquirerState != AcquirerSent {
		return p, nil
	}
	// The first request is still talking to the acquirer: wait a little for its outcome so that
	// a client retrying on a timeout gets the final answer rather than U.
	deadline := time.Now().Add(s.cfg.DuplicateWait)
	for wait := 5 * time.Millisecond; time.Now().Before(deadline); wait = min(wait*2, 100*time.Millisecond) {
		select {
		case <-ctx.Done():
			return p, nil
		case <-time.After(wait):
		}
		cur, err := s.store.PaymentByID(ctx, p.MerchantID, p.ID)
		if err != nil {
			return Payment{}, fmt.Errorf("pay: reload duplicate: %w", err)
		}
		if cur.State != StateProcessing || cur.AcquirerState != AcquirerSent {
			return cur, nil
		}
		p = cur
	}
	return p, nil
}

func keyOf(m Merchant, cmd PayCommand) payKey {
	return payKey{
		currency:    cmd.Amount.Currency.Code,
		minor:       cmd.Amount.Minor,
		fingerprint: card.Fingerprint(m.FingerprintKey, cmd.Card),
		captureMode: cmd.CaptureMode,
	}
}

func (p Payment) keyOf() payKey {
	return payKey{currency: p.Amount.Currency.Code, minor: p.Amount.Minor, fingerprint: p.Card.Fingerprint, captureMode: p.CaptureMode}
}

func (s *Service) authorize(ctx context.Context, p Payment, cmd PayCommand) (Payment, error) {
	// Once the payment exists, finish the authorization and record its outcome even if the
	// caller goes away (client timeout, closed connection): an approval that is never written
	// would leave a hold at the issuer that the gateway does not know about.
	ctx = context.WithoutCancel(ctx)
	actx, cancel := context.WithTimeout(ctx, s.cfg.AcquirerTimeout)
	res, err := s.acquirer.Authorize(actx, acquirer.AuthRequest{
		PaymentID:  p.ID,
		MerchantID: p.MerchantID,
		Amount:     cmd.Amount,
		Card:       cmd.Card,
		Expiry:     cmd.Expiry,
		CVV:        cmd.CVV,
		HolderName: cmd.HolderName,
		AVSPresent: cmd.HasBilling,
	})
	cancel()
	if err != nil {
		// The outcome is unknown: keep the payment in process for the acquirer's late answer or
		// the expiry, and tell the merchant to inquire.
		s.log.WarnContext(ctx, "acquirer call failed", "paymentId", p.ID, "acquirer", s.acquirer.Name(), "err", err)
		res = acquirer.AuthResult{Outcome: acquirer.Pending, AcquirerName: s.acquirer.Name()}
	}

	next := p
	next.Version = p.Version + 1
	next.UpdatedAt = s.clock.Now()
	next.Card.Funding, next.Card.IssuingCountry, next.Card.IssuerName, next.Card.Category = res.Funding, res.IssuingCountry, res.IssuerName, res.Category
	next.Auth = AuthDetails{
		AcquirerName:          res.AcquirerName,
		AcquirerMerchantID:    res.AcquirerMerchantID,
		AcquirerTransactionID: res.AcquirerTransactionID,
		AcquirerResultCode:    res.AcquirerResultCode,
		AcquirerResultMessage: res.AcquirerResultMessage,
		AVSResult:             res.AVSResult,
		CVVResult:             res.CVVResult,
		NetworkTransactionID:  res.NetworkTransactionID,
		AuthorizationCode:     res.AuthorizationCode,
		RefusalCodeRaw:        res.RefusalCodeRaw,
		RefusalReasonRaw:      res.RefusalReasonRaw,
	}
	var op Op
	switch res.Outcome {
	case acquirer.Approved:
		op = OpAuthApproved
		next.ResultCode, next.ResultMsg = protocol.CodeSuccess, "success."
		next.AuthorizedAt = next.UpdatedAt
		next.AuthExpiresAt = next.UpdatedAt.Add(AuthValidity)
		next.AcquirerState = AcquirerAnswered
	case acquirer.Declined:
		op = OpAuthDeclined
		next.ResultCode, next.ResultMsg = res.DeclineCode, res.DeclineMsg
		next.AcquirerState = AcquirerAnswered
	default:
		op = OpAuthPending
		next.AcquirerState = AcquirerPending
	}
	return s.apply(ctx, p, next, op)
}

// apply moves p to next under op, with the event row and, for final results, the notification.
func (s *Service) apply(ctx context.Context, p, next Payment, op Op) (Payment, error) {
	to, err := Next(p.State, op)
	if err != nil {
		return Payment{}, err
	}
	next.State = to
	ch := Change{
		Payment:     next,
		FromVersion: p.Version,
		Event:       Event{PaymentID: p.ID, Op: op, From: p.State, To: to, ResultCode: next.ResultCode, At: next.UpdatedAt},
	}
	if to != p.State && next.Order.NotifyURL != "" {
		body, err := json.Marshal(NotifyPaymentOf(next))
		if err != nil {
			return Payment{}, fmt.Errorf("encode notification: %w", err)
		}
		ch.Outbox = &OutboxMessage{
			MerchantID: p.MerchantID,
			PaymentID:  p.ID,
			NotifyType: protocol.NotifyTypePaymentResult,
			URL:        next.Order.NotifyURL,
			Body:       body,
			CreatedAt:  next.UpdatedAt,
		}
	}
	if err := s.store.Apply(ctx, ch); err != nil {
		return Payment{}, fmt.Errorf("%s payment %s: %w", op, p.ID, err)
	}
	s.log.InfoContext(ctx, "payment transition", "paymentId", p.ID, "op", op, "from", p.State, "to", to, "resultCode", next.ResultCode)
	return next, nil
}

// Inquire finds a payment by paymentId or, when that is empty, by paymentRequestId.
func (s *Service) Inquire(ctx context.Context, m Merchant, req *protocol.InquiryPaymentRequest) (Payment, error) {
	var (
		p   Payment
		err error
	)
	switch {
	case req.PaymentID != "":
		p, err = s.store.PaymentByID(ctx, m.ID, req.PaymentID)
	case req.PaymentRequestID != "":
		p, err = s.store.PaymentByRequestID(ctx, m.ID, req.PaymentRequestID)
	default:
		return Payment{}, protocol.Errorf(protocol.CodeParamIllegal, "paymentId or paymentRequestId is required")
	}
	if errors.Is(err, ErrNotFound) {
		return Payment{}, protocol.Errorf(protocol.CodeOrderNotExist, "order not exist")
	}
	if err != nil {
		return Payment{}, fmt.Errorf("inquiry: %w", err)
	}
	return p, nil
}

// newPaymentID makes an Antom-shaped paymentId: the date, then random digits (35 in all, as in
// the seed samples), unguessable so ids cannot be enumerated.
func newPaymentID(now time.Time) string {
	const n = 27
	b := make([]byte, n)
	ten := big.NewInt(10)
	for i := range b {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			panic(err)
		}
		b[i] = byte('0' + d.Int64())
	}
	return now.UTC().Format("20060102") + string(b)
}
