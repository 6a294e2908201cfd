package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// Refund returns part or all of a captured payment; refunds may repeat but never add up to more
// than was captured (invariant 3). It is idempotent on refundRequestId.
func (s *Service) Refund(ctx context.Context, m Merchant, req *protocol.RefundRequest) (Txn, Payment, error) {
	if req.RefundRequestID == "" {
		return Txn{}, Payment{}, required("refundRequestId")
	}
	if err := idField("refundRequestId", req.RefundRequestID, maxRequestID); err != nil {
		return Txn{}, Payment{}, err
	}
	if req.PaymentID == "" {
		return Txn{}, Payment{}, required("paymentId")
	}
	if err := idFields(idCheck{"paymentId", req.PaymentID, maxGatewayID}, idCheck{"referenceRefundId", req.ReferenceRefundID, maxRequestID}); err != nil {
		return Txn{}, Payment{}, err
	}
	amount, err := parseAmount("refundAmount", req.RefundAmount)
	if err != nil {
		return Txn{}, Payment{}, err
	}
	if err := maxLen("refundReason", req.RefundReason, 256); err != nil {
		return Txn{}, Payment{}, err
	}
	if req.RefundNotifyURL != "" {
		if err := notifyURL("refundNotifyUrl", req.RefundNotifyURL); err != nil {
			return Txn{}, Payment{}, err
		}
		if err := maxLen("refundNotifyUrl", req.RefundNotifyURL, 1024); err != nil {
			return Txn{}, Payment{}, err
		}
	}
	if t, p, err, found := s.replayTxn(ctx, m, TxnRefund, req.RefundRequestID, req.PaymentID, amount); found {
		return t, p, err
	}
	p, err := s.store.PaymentByID(ctx, m.ID, req.PaymentID)
	if errors.Is(err, ErrNotFound) {
		return Txn{}, Payment{}, protocol.Errorf(protocol.CodeOrderNotExist, "order not exist")
	}
	if err != nil {
		return Txn{}, Payment{}, fmt.Errorf("refund: %w", err)
	}
	if p, err = s.afterAutoCapture(ctx, p); err != nil {
		return Txn{}, Payment{}, fmt.Errorf("refund: %w", err)
	}
	ctx = context.WithoutCancel(ctx)
	now := s.clock.Now()
	t := Txn{
		ID: newTxnID(now), PaymentID: p.ID, MerchantID: m.ID, Type: TxnRefund, RequestID: req.RefundRequestID,
		Status: TxnProcessing, Amount: amount, ResultCode: protocol.CodeRefundInProcess, ResultMsg: "Refund is processing.",
		Details:   TxnDetails{Reason: req.RefundReason, NotifyURL: req.RefundNotifyURL, ReferenceRefundID: req.ReferenceRefundID},
		CreatedAt: now,
		// A crash between reservation and answer leaves it due: the runner sends it again.
		DueAt: now.Add(s.cfg.AcquirerRetry),
	}
	p, _, err = s.commitFresh(ctx, p, func(p Payment) (step, error) {
		if _, err := Next(p.Stage(), OpRefund); err != nil {
			return step{}, Refusal(OpRefund, p.Stage())
		}
		switch {
		case amount.Currency != p.Amount.Currency:
			return step{}, illegal("refundAmount.currency", "must be %s, the currency of the payment", p.Amount.Currency.Code)
		case now.After(p.CapturedAt.Add(s.cfg.RefundWindow)):
			return step{}, protocol.Errorf(protocol.CodeRefundWindowExceed,
				"the refund window of %d days after capture has passed", int(s.cfg.RefundWindow.Hours()/24))
		case amount.Minor > p.CapturedMinor-p.RefundedMinor-p.DisputedMinor:
			remainder := money.Amount{Currency: p.Amount.Currency, Minor: p.CapturedMinor - p.RefundedMinor - p.DisputedMinor}
			if p.DisputedMinor > 0 {
				disputed := money.Amount{Currency: p.Amount.Currency, Minor: p.DisputedMinor}
				return step{}, protocol.Errorf(protocol.CodeRefundAmountExceed,
					"refundAmount %s exceeds the refundable remainder %s of the %s captured: %s of it is disputed by the buyer, and the dispute returns it if it is lost",
					amount, remainder, p.Amount, disputed)
			}
			return step{}, protocol.Errorf(protocol.CodeRefundAmountExceed,
				"refundAmount %s exceeds the refundable remainder %s of the %s captured", amount, remainder, p.Amount)
		}
		// Reserve the amount first, so that concurrent refunds cannot together exceed the capture.
		next := p
		next.RefundedMinor += amount.Minor
		return step{op: OpRefund, next: next, newTxn: &t}, nil
	})
	if err != nil {
		return s.lostRace(ctx, m, TxnRefund, req.RefundRequestID, req.PaymentID, amount, err)
	}
	return s.sendRefund(ctx, p, t)
}

// sendRefund asks the acquirer to refund and records its answer.
func (s *Service) sendRefund(ctx context.Context, p Payment, t Txn) (Txn, Payment, error) {
	res, err := s.acquirerOf(p).Refund(ctx, acquirer.RefundRequest{RefundID: t.ID, AcquirerTransactionID: p.Auth.AcquirerTransactionID, Amount: t.Amount, MerchantID: p.MerchantID})
	if err != nil {
		s.log.WarnContext(ctx, "acquirer refund failed; will retry", "paymentId", p.ID, "refundId", t.ID, "err", err)
		res = acquirer.OpResult{Status: acquirer.OpPending, RetryAfter: s.cfg.AcquirerRetry}
	}
	return s.recordRefund(ctx, p, t, res)
}

// recordRefund writes the acquirer's answer about a refund; a failed refund gives its amount back
// to the refundable remainder.
func (s *Service) recordRefund(ctx context.Context, p Payment, t Txn, res acquirer.OpResult) (Txn, Payment, error) {
	return s.recordTxn(ctx, p, t, res, txnOutcome{
		succeeded: OpRefundSucceeded, failed: OpRefundFailed, pending: OpRefundPending, notify: refundNotice,
		onSuccess: func(*Payment) {},
		onFailure: func(next *Payment) { next.RefundedMinor -= t.Amount.Minor },
	})
}

// refundNotice is REFUND_RESULT, sent to the refund's own notify URL or else the payment's.
func refundNotice(p Payment, t *Txn) *OutboxMessage {
	return notice(p, protocol.NotifyTypeRefundResult, t.ID, firstNonEmpty(t.Details.NotifyURL, p.Order.NotifyURL), NotifyRefundOf(p, *t))
}

// InquireRefund finds a refund by refundId or, when that is empty, by refundRequestId.
func (s *Service) InquireRefund(ctx context.Context, m Merchant, req *protocol.InquiryRefundRequest) (Txn, error) {
	if err := idFields(idCheck{"refundId", req.RefundID, maxGatewayID}, idCheck{"refundRequestId", req.RefundRequestID, maxRequestID}); err != nil {
		return Txn{}, err
	}
	var (
		t   Txn
		err error
	)
	switch {
	case req.RefundID != "":
		t, err = s.store.TxnByID(ctx, m.ID, TxnRefund, req.RefundID)
	case req.RefundRequestID != "":
		t, err = s.store.TxnByRequestID(ctx, m.ID, TxnRefund, req.RefundRequestID)
	default:
		return Txn{}, protocol.Errorf(protocol.CodeParamIllegal, "refundId or refundRequestId is required")
	}
	if errors.Is(err, ErrNotFound) {
		return Txn{}, protocol.Errorf(protocol.CodeOrderNotExist, "refund not exist")
	}
	if err != nil {
		return Txn{}, fmt.Errorf("inquiry refund: %w", err)
	}
	return t, nil
}
