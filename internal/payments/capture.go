package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// Capture captures an authorized payment for its full amount (seed 002: partial captures are not
// offered). It is idempotent on captureRequestId: a replay gets the capture's current answer.
func (s *Service) Capture(ctx context.Context, m Merchant, req *protocol.CaptureRequest) (Txn, Payment, error) {
	if req.CaptureRequestID == "" {
		return Txn{}, Payment{}, required("captureRequestId")
	}
	if err := idField("captureRequestId", req.CaptureRequestID, maxRequestID); err != nil {
		return Txn{}, Payment{}, err
	}
	if req.PaymentID == "" {
		return Txn{}, Payment{}, required("paymentId")
	}
	if err := idField("paymentId", req.PaymentID, maxGatewayID); err != nil {
		return Txn{}, Payment{}, err
	}
	amount, err := parseAmount("captureAmount", req.CaptureAmount)
	if err != nil {
		return Txn{}, Payment{}, err
	}
	if t, p, err, found := s.replayTxn(ctx, m, TxnCapture, req.CaptureRequestID, req.PaymentID, amount); found {
		return t, p, err
	}
	p, err := s.store.PaymentByID(ctx, m.ID, req.PaymentID)
	if errors.Is(err, ErrNotFound) {
		return Txn{}, Payment{}, protocol.Errorf(protocol.CodeOrderNotExist, "order not exist")
	}
	if err != nil {
		return Txn{}, Payment{}, fmt.Errorf("capture: %w", err)
	}
	if p, err = s.afterAutoCapture(ctx, p); err != nil {
		return Txn{}, Payment{}, fmt.Errorf("capture: %w", err)
	}
	if _, err := Next(p.Stage(), OpCapture); err != nil {
		// A concurrent request with this captureRequestId may have reserved the capture since
		// the replay lookup above: its answer is this request's too.
		return s.lostRace(ctx, m, TxnCapture, req.CaptureRequestID, req.PaymentID, amount, Refusal(OpCapture, p.Stage()))
	}
	switch {
	case amount.Currency != p.Amount.Currency:
		return Txn{}, Payment{}, illegal("captureAmount.currency", "must be %s, the currency of the payment", p.Amount.Currency.Code)
	case amount.Minor > p.Amount.Minor:
		return Txn{}, Payment{}, protocol.Errorf(protocol.CodeCaptureAmountExceedAuthLimit,
			"captureAmount %s exceeds the authorized %s", amount, p.Amount)
	case amount.Minor < p.Amount.Minor:
		return Txn{}, Payment{}, illegal("captureAmount.value", "must equal the authorized amount %s: partial capture is not supported", p.Amount.Value())
	}
	t, p, err := s.capture(ctx, p, req.CaptureRequestID, amount, false)
	if err != nil {
		return s.lostRace(ctx, m, TxnCapture, req.CaptureRequestID, req.PaymentID, amount, err)
	}
	return t, p, nil
}

// lostRace answers a capture or refund that failed to reserve: if a concurrent request with the
// same request id got in first (the refusal came from its reservation, or the insert hit its
// id), the answer is that request's, as for any replay; otherwise the error stands.
func (s *Service) lostRace(ctx context.Context, m Merchant, typ TxnType, requestID, paymentID string, amount money.Amount, err error) (Txn, Payment, error) {
	var refusal *protocol.Error
	if !errors.Is(err, ErrDuplicate) && !errors.As(err, &refusal) {
		return Txn{}, Payment{}, err
	}
	if t, p, rerr, found := s.replayTxn(ctx, m, typ, requestID, paymentID, amount); found {
		return t, p, rerr
	}
	return Txn{}, Payment{}, err
}

// replayTxn answers a capture or refund whose request id is known: its current state when the
// key fields match, REPEAT_REQ_INCONSISTENT when they do not. found is false for a new request id.
func (s *Service) replayTxn(ctx context.Context, m Merchant, typ TxnType, requestID, paymentID string, amount money.Amount) (Txn, Payment, error, bool) {
	t, err := s.store.TxnByRequestID(ctx, m.ID, typ, requestID)
	if errors.Is(err, ErrNotFound) {
		return Txn{}, Payment{}, nil, false
	}
	if err != nil {
		return Txn{}, Payment{}, fmt.Errorf("look up %s request: %w", typ, err), true
	}
	if t.PaymentID != paymentID || t.Amount != amount {
		return Txn{}, Payment{}, protocol.Errorf(protocol.CodeRepeatReqInconsistent,
			"%s request id %s was used before with a different paymentId or amount", typ, requestID), true
	}
	p, err := s.store.PaymentByID(ctx, m.ID, t.PaymentID)
	if err != nil {
		return Txn{}, Payment{}, fmt.Errorf("load payment of %s: %w", typ, err), true
	}
	return t, p, nil, true
}

// capture reserves the capture (the payment becomes CAPTURING, so a concurrent cancel is
// refused), asks the acquirer, and records its answer.
func (s *Service) capture(ctx context.Context, p Payment, requestID string, amount money.Amount, internal bool) (Txn, Payment, error) {
	ctx = context.WithoutCancel(ctx) // once reserved, the answer must be recorded
	t := s.newCapture(p, requestID, amount, internal)
	p, _, err := s.commitFresh(ctx, p, func(p Payment) (step, error) {
		if _, err := Next(p.Stage(), OpCapture); err != nil {
			return step{}, Refusal(OpCapture, p.Stage())
		}
		return step{op: OpCapture, next: p, newTxn: &t}, nil
	})
	if err != nil {
		return Txn{}, Payment{}, err
	}
	return s.recordCapture(ctx, p, t, s.sendCapture(ctx, p, t))
}

// newCapture is a capture of p to reserve.
func (s *Service) newCapture(p Payment, requestID string, amount money.Amount, internal bool) Txn {
	now := s.clock.Now()
	return Txn{
		ID: newTxnID(now), PaymentID: p.ID, MerchantID: p.MerchantID, Type: TxnCapture, RequestID: requestID,
		Status: TxnProcessing, Amount: amount, ResultCode: protocol.CodeCaptureInProcess, ResultMsg: "Capture is processing.",
		CreatedAt: now, Internal: internal,
		// If the process dies between this reservation and the acquirer's answer, the runner
		// asks again then; a recorded answer clears it.
		DueAt: now.Add(s.cfg.AcquirerRetry),
	}
}

// sendCapture asks the acquirer to capture a reserved capture; a call that fails is an answer
// still owed (asked again at the transaction's due time).
func (s *Service) sendCapture(ctx context.Context, p Payment, t Txn) acquirer.OpResult {
	res, err := s.acquirerOf(p).Capture(ctx, acquirer.CaptureRequest{PaymentID: p.ID, AcquirerTransactionID: p.Auth.AcquirerTransactionID, Amount: t.Amount, MerchantID: p.MerchantID})
	if err != nil {
		s.log.WarnContext(ctx, "acquirer capture failed", "paymentId", p.ID, "err", err)
		return acquirer.OpResult{Status: acquirer.OpPending, RetryAfter: s.cfg.AcquirerRetry}
	}
	return res
}

// recordCapture writes the acquirer's answer about a capture.
func (s *Service) recordCapture(ctx context.Context, p Payment, t Txn, res acquirer.OpResult) (Txn, Payment, error) {
	return s.recordTxn(ctx, p, t, res, s.captureOutcome(t))
}

func (s *Service) captureOutcome(t Txn) txnOutcome {
	return txnOutcome{
		succeeded: OpCaptureSucceeded, failed: OpCaptureFailed, pending: OpCapturePending, notify: captureNotice,
		onSuccess: func(next *Payment) {
			next.CapturedMinor, next.CapturedAt = t.Amount.Minor, s.clock.Now()
			if cb := next.Auth.Chargeback; cb != nil {
				next.ChargebackAt = next.CapturedAt.Add(cb.After)
			}
		},
		onFailure: func(next *Payment) { next.Capture = CaptureFailed },
	}
}

// txnOutcome says what the answer about a capture or refund does to the payment.
type txnOutcome struct {
	succeeded, failed, pending Op
	notify                     func(Payment, *Txn) *OutboxMessage
	onSuccess, onFailure       func(next *Payment)
}

// recordTxn writes the acquirer's answer about a capture or refund: final answers end the
// transaction and owe the merchant a notification; a pending one sets when to ask again.
func (s *Service) recordTxn(ctx context.Context, p Payment, t Txn, res acquirer.OpResult, o txnOutcome) (Txn, Payment, error) {
	done, st, err := s.commitFresh(ctx, p, func(p Payment) (step, error) { return s.txnStep(p, t, res, o), nil })
	if err != nil {
		return Txn{}, Payment{}, err
	}
	return *st.txn, done, nil
}

// txnStep is the transition an acquirer's answer about transaction t makes of p.
func (s *Service) txnStep(p Payment, t Txn, res acquirer.OpResult, o txnOutcome) step {
	next, nt := p, t
	if res.Reference != "" {
		nt.Details.AcquirerReference, nt.Details.AcquirerReferenceNo = res.Reference, res.ReferenceNo
	}
	nt.DueAt = zeroTime
	st := step{next: next, txn: &nt, notify: o.notify}
	switch res.Status {
	case acquirer.OpSucceeded:
		st.op = o.succeeded
		nt.Status, nt.ResultCode, nt.ResultMsg = TxnSucceeded, protocol.CodeSuccess, "success."
		o.onSuccess(&st.next)
	case acquirer.OpFailed:
		st.op = o.failed
		nt.Status, nt.ResultCode, nt.ResultMsg = TxnFailed, res.Code, res.Message
		o.onFailure(&st.next)
	default:
		st.op, st.notify = o.pending, nil
		retry := res.RetryAfter
		if retry <= 0 {
			retry = s.cfg.AcquirerRetry
		}
		nt.DueAt = s.clock.Now().Add(retry)
	}
	return st
}

// captureNotice is CAPTURE_RESULT, owed when a capture ends (succeeded or failed).
func captureNotice(p Payment, t *Txn) *OutboxMessage {
	return notice(p, protocol.NotifyTypeCaptureResult, t.ID, p.Order.NotifyURL, NotifyCaptureOf(p, *t))
}
