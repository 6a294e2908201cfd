package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardgate/cardgate/protocol"
)

// Cancel voids a payment that is in process or authorized but not captured (seed 000). A payment
// already cancelled or voided answers as the first cancel did; a captured one must be refunded.
// Cancel notifies nothing: Antom documents no notification for it.
func (s *Service) Cancel(ctx context.Context, m Merchant, req *protocol.CancelRequest) (Payment, error) {
	p, err := s.find(ctx, m, req.PaymentID, req.PaymentRequestID)
	if err != nil {
		return Payment{}, err
	}
	ctx = context.WithoutCancel(ctx)
	done, st, err := s.commitFresh(ctx, p, func(p Payment) (step, error) {
		switch p.Stage() {
		case StageCancelled, StageVoided:
			return step{}, nil // cancelled already: the same answer again
		}
		if _, err := Next(p.Stage(), OpCancel); err != nil {
			return step{}, Refusal(OpCancel, p.Stage())
		}
		now := s.clock.Now()
		next := p
		next.ResultCode, next.ResultMsg = protocol.CodeOrderIsCanceled, "The payment was cancelled by the merchant."
		next.ClosedAt, next.AcquirerDueAt, next.InFlightUntil = now, zeroTime, zeroTime
		next.SealedCard, next.Order.NormalURL = "", "" // no card data outlives the payment's chance to authorize
		if p.owesRelease() {
			// The acquirer holds (or may still grant) an authorization: release it.
			next.VoidState = VoidPending
		}
		t := Txn{ID: newTxnID(now), PaymentID: p.ID, MerchantID: p.MerchantID, Type: TxnCancel, RequestID: p.RequestID,
			Status: TxnSucceeded, Amount: p.Amount, ResultCode: protocol.CodeSuccess, ResultMsg: "success.", CreatedAt: now, Internal: true}
		return step{op: OpCancel, next: next, newTxn: &t}, nil
	})
	if err != nil {
		return Payment{}, err
	}
	if st.op == "" {
		return done, nil
	}
	return s.sendVoid(ctx, done), nil
}

// sendVoid releases the authorization at the acquirer for a closed payment that owes a void. A
// failure leaves the void owed; the due-work runner tries again.
func (s *Service) sendVoid(ctx context.Context, p Payment) Payment {
	if p.VoidState != VoidPending {
		return p
	}
	var err error
	if p.Auth.AcquirerTransactionID != "" {
		err = s.acquirerOf(p).Void(ctx, p.Auth.AcquirerTransactionID)
	} else {
		// The authorization's answer never arrived: release it by the gateway's own reference.
		err = s.acquirerOf(p).Reverse(ctx, p.ID)
	}
	if err != nil {
		s.log.WarnContext(ctx, "acquirer void failed; will retry", "paymentId", p.ID, "err", err)
		return p
	}
	next := p
	next.VoidState = VoidDone
	done, err := s.commit(ctx, p, step{op: OpVoidSent, next: next})
	if err != nil {
		// Someone else recorded it (or the runner will send it again: voids are idempotent).
		s.log.InfoContext(ctx, "void sent but not recorded", "paymentId", p.ID, "err", err)
		return p
	}
	return done
}

// owesRelease reports whether closing the payment must release an authorization at the acquirer:
// one it granted (its reference is known), or one that was sent and never answered (the request
// may have reached the issuer; only a reversal by the gateway's reference can release it).
func (p Payment) owesRelease() bool {
	return p.Auth.AcquirerTransactionID != "" || p.AcquirerState == AcquirerSent || p.AcquirerState == AcquirerPending
}

// find loads a payment by paymentId, or by paymentRequestId when no paymentId is given.
func (s *Service) find(ctx context.Context, m Merchant, paymentID, requestID string) (Payment, error) {
	if err := idFields(idCheck{"paymentId", paymentID, maxGatewayID}, idCheck{"paymentRequestId", requestID, maxRequestID}); err != nil {
		return Payment{}, err
	}
	var (
		p   Payment
		err error
	)
	switch {
	case paymentID != "":
		p, err = s.store.PaymentByID(ctx, m.ID, paymentID)
	case requestID != "":
		p, err = s.store.PaymentByRequestID(ctx, m.ID, requestID)
	default:
		return Payment{}, protocol.Errorf(protocol.CodeParamIllegal, "paymentId or paymentRequestId is required")
	}
	if errors.Is(err, ErrNotFound) {
		return Payment{}, protocol.Errorf(protocol.CodeOrderNotExist, "order not exist")
	}
	if err != nil {
		return Payment{}, fmt.Errorf("load payment: %w", err)
	}
	return s.afterAutoCapture(ctx, p)
}
