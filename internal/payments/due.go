package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/protocol"
)

var zeroTime time.Time

// RunDue does one piece of time-driven work. Work that is no longer due (the payment moved on
// since it was listed) is skipped, so a piece listed twice, or by two runners, is harmless.
func (s *Service) RunDue(ctx context.Context, d Due) error {
	p, err := s.store.PaymentByID(ctx, d.MerchantID, d.PaymentID)
	if err != nil {
		return fmt.Errorf("%s %s: %w", d.Kind, d.PaymentID, err)
	}
	now := s.clock.Now()
	switch d.Kind {
	case DueExpire:
		return s.expire(ctx, p, now)
	case DueAutoVoid:
		return s.autoVoid(ctx, p, now)
	case DueSettle:
		if p.Stage() != StageProcessing || p.AcquirerState != AcquirerPending || p.AcquirerDueAt.IsZero() || p.AcquirerDueAt.After(now) {
			return nil
		}
		return s.settle(ctx, p)
	case DueResolve:
		return s.resolve(ctx, p, now)
	case DueCaptureStatus, DueRefundStatus:
		return s.txnStatus(ctx, p, d.TxnID, now)
	case DueAutoCapture:
		if p.Stage() != StageAuthorized || p.CaptureMode != CaptureAutomatic || p.Capture != CaptureNone {
			return nil
		}
		_, _, err := s.capture(ctx, p, p.RequestID, p.Amount, true)
		var pe *protocol.Error
		if errors.As(err, &pe) || errors.Is(err, ErrDuplicate) {
			return nil // captured meanwhile by the pay that approved it
		}
		return err
	case DueVoid:
		if s.sendVoid(ctx, p).VoidState == VoidPending {
			return fmt.Errorf("void of payment %s not confirmed by the acquirer", p.ID)
		}
		return nil
	}
	return fmt.Errorf("unknown due work %q", d.Kind)
}

// expire closes a payment still in process at its paymentExpiryTime as failed (seed 002: 14
// minutes by default) and tells the merchant with ORDER_IS_CLOSED.
// settle asks the acquirer about an authorization whose answer is owed and records what it says
// (a pending answer sets when to ask again).
func (s *Service) settle(ctx context.Context, p Payment) error {
	res, err := s.acquirerOf(p).InquireAuthorization(ctx, p.Auth.AcquirerTransactionID)
	if err != nil {
		s.log.WarnContext(ctx, "acquirer inquiry failed", "paymentId", p.ID, "err", err)
		res = acquirer.AuthResult{Outcome: acquirer.Pending, RetryAfter: s.cfg.AcquirerRetry}
	}
	_, err = s.recordAuth(ctx, p, res, nil)
	return err
}

// AcquirerNoticed is told that an acquirer has news of a payment (an upstream's verified
// notification). An authorization still owed is asked about now rather than at its next check;
// the notice's own content is not taken, the gateway's signed inquiry gives the result, so a
// notice can hurry a payment but never decide it. Any other payment, or an unknown id, is left
// alone.
func (s *Service) AcquirerNoticed(ctx context.Context, paymentID string) error {
	p, err := s.store.PaymentForAcquirer(ctx, paymentID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("acquirer notice of %s: %w", paymentID, err)
	}
	if p.Stage() != StageProcessing || p.AcquirerState != AcquirerPending {
		return nil
	}
	return s.settle(context.WithoutCancel(ctx), p)
}

func (s *Service) expire(ctx context.Context, p Payment, now time.Time) error {
	done, st, err := s.commitFresh(ctx, p, func(p Payment) (step, error) {
		if p.Stage() != StageProcessing || p.ExpiresAt.After(now) {
			return step{}, nil
		}
		next := p
		next.ResultCode, next.ResultMsg = protocol.CodeOrderIsClosed, "The payment was not finished in time and is closed."
		next.ClosedAt, next.AcquirerDueAt, next.InFlightUntil = now, zeroTime, zeroTime
		next.SealedCard, next.Order.NormalURL = "", "" // no card data outlives the payment's chance to authorize
		if p.owesRelease() {
			next.VoidState = VoidPending // an approval may still come: release it
		}
		return step{op: OpExpire, next: next, notify: s.paymentNotice}, nil
	})
	if err == nil && st.op != "" {
		s.sendVoid(ctx, done)
	}
	return err
}

// resolve settles an authorization whose sender died before recording its answer, once its
// in-flight lease has passed: the acquirer is asked by the gateway's reference, and its answer is
// recorded as the sender would have (an approval is notified, and captured when automatic). When
// the acquirer knows of no authorization, or does not answer, the payment fails with PROCESS_FAIL
// and the authorization is reversed by the gateway's reference, so that one still on its way
// cannot leave money held (it is voided when it arrives, as any late approval).
func (s *Service) resolve(ctx context.Context, p Payment, now time.Time) error {
	if p.Stage() != StageProcessing || p.InFlightUntil.IsZero() || p.InFlightUntil.After(now) {
		return nil
	}
	res, err := s.acquirerOf(p).InquireByReference(ctx, p.ID)
	if err == nil {
		s.log.InfoContext(ctx, "in-flight authorization resolved at the acquirer", "paymentId", p.ID, "outcome", res.Outcome)
		_, err = s.recordAuth(ctx, p, res, nil)
		return err
	}
	if !errors.Is(err, acquirer.ErrNotFound) {
		s.log.WarnContext(ctx, "acquirer inquiry by reference failed; failing the payment", "paymentId", p.ID, "err", err)
	}
	done, st, err := s.commitFresh(ctx, p, func(p Payment) (step, error) {
		if p.Stage() != StageProcessing || p.InFlightUntil.IsZero() || p.InFlightUntil.After(now) {
			return step{}, nil // the answer was recorded meanwhile
		}
		next := p
		next.ResultCode, next.ResultMsg = protocol.CodeProcessFail, "The authorization's outcome was lost and it was reversed."
		next.ClosedAt, next.AcquirerDueAt, next.InFlightUntil = now, zeroTime, zeroTime
		next.SealedCard, next.Order.NormalURL = "", ""
		next.VoidState = VoidPending
		return step{op: OpAuthUnresolved, next: next, notify: s.paymentNotice}, nil
	})
	if err == nil && st.op != "" {
		s.sendVoid(ctx, done)
	}
	return err
}

// autoVoid releases an authorization not captured by its authExpiryTime (seed 000: 7 days). It
// notifies nothing, as Antom documents no notification for voids.
func (s *Service) autoVoid(ctx context.Context, p Payment, now time.Time) error {
	done, st, err := s.commitFresh(ctx, p, func(p Payment) (step, error) {
		if p.Stage() != StageAuthorized || p.AuthExpiresAt.After(now) {
			return step{}, nil
		}
		next := p
		next.ResultCode, next.ResultMsg = protocol.CodeOrderIsCanceled, "The authorization was not captured within 7 days and was voided."
		next.ClosedAt, next.VoidState = now, VoidPending
		t := Txn{ID: newTxnID(now), PaymentID: p.ID, MerchantID: p.MerchantID, Type: TxnVoid, RequestID: p.RequestID,
			Status: TxnSucceeded, Amount: p.Amount, ResultCode: protocol.CodeSuccess, ResultMsg: "success.", CreatedAt: now, Internal: true}
		return step{op: OpAutoVoid, next: next, newTxn: &t}, nil
	})
	if err == nil && st.op != "" {
		s.sendVoid(ctx, done)
	}
	return err
}

// txnStatus asks the acquirer again about a capture or refund whose answer was not in.
func (s *Service) txnStatus(ctx context.Context, p Payment, txnID string, now time.Time) error {
	t, err := s.txnOf(ctx, p, txnID)
	if err != nil {
		return err
	}
	if t.Status != TxnProcessing || t.DueAt.IsZero() || t.DueAt.After(now) {
		return nil
	}
	var res acquirer.OpResult
	switch {
	case t.Type == TxnCapture && t.Details.AcquirerReference != "":
		res, err = s.acquirerOf(p).InquireCapture(ctx, t.Details.AcquirerReference)
	case t.Type == TxnCapture:
		// The capture never reached the acquirer (or its answer was lost): send it again.
		res, err = s.acquirerOf(p).Capture(ctx, acquirer.CaptureRequest{PaymentID: p.ID, AcquirerTransactionID: p.Auth.AcquirerTransactionID, Amount: t.Amount, MerchantID: p.MerchantID})
	default:
		_, _, err = s.sendRefund(ctx, p, t)
		return err
	}
	if err != nil {
		s.log.WarnContext(ctx, "acquirer capture inquiry failed", "paymentId", p.ID, "err", err)
		res = acquirer.OpResult{Status: acquirer.OpPending, RetryAfter: s.cfg.AcquirerRetry}
	}
	_, _, err = s.recordCapture(ctx, p, t, res)
	return err
}

func (s *Service) txnOf(ctx context.Context, p Payment, txnID string) (Txn, error) {
	for _, typ := range []TxnType{TxnCapture, TxnRefund} {
		t, err := s.store.TxnByID(ctx, p.MerchantID, typ, txnID)
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Txn{}, err
		}
	}
	return Txn{}, fmt.Errorf("transaction %s of payment %s: %w", txnID, p.ID, ErrNotFound)
}

// WorkLease is how long a claim on a payment's due work lasts: far longer than one piece of work
// takes (its acquirer call is bounded by AcquirerTimeout), short enough that the work of an
// instance that died is taken up soon.
const WorkLease = time.Minute

// DueWork lists work due at or before t, earliest first, whoever holds it.
func (s *Service) DueWork(ctx context.Context, t time.Time, limit int) ([]Due, error) {
	return s.store.Due(ctx, t, limit)
}

// ClaimWork leases up to limit pieces of work due at or before t (the gateway clock) to this
// caller. Leases run on the wall clock (Config.Wall), which every instance shares.
func (s *Service) ClaimWork(ctx context.Context, t time.Time, limit int) ([]Due, error) {
	now := s.cfg.Wall.Now()
	return s.store.ClaimWork(ctx, t, now, now.Add(WorkLease), limit)
}

// ReleaseWork gives up the lease on a payment's work.
func (s *Service) ReleaseWork(ctx context.Context, d Due) error {
	return s.store.ReleaseWork(ctx, d.PaymentID)
}

// Transactions lists a payment's captures, refunds and cancels.
func (s *Service) Transactions(ctx context.Context, p Payment) ([]Txn, error) {
	return s.store.Txns(ctx, p.MerchantID, p.ID)
}
