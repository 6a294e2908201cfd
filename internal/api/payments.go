package api

import (
	"context"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

func decode(body []byte, v any) error {
	if err := protocol.Decode(body, v); err != nil {
		if fe, ok := err.(*protocol.FieldError); ok {
			return protocol.Errorf(protocol.CodeParamIllegal, "%s", fe.Error())
		}
		return err
	}
	return nil
}

// Payer is the merchant as the payments service knows it: its id, the key of its card
// fingerprints, its default notify URL and its contracted settlement currencies.
func Payer(m merchant.Merchant) payments.Merchant {
	return payments.Merchant{ID: m.ClientID, FingerprintKey: m.FingerprintKey, NotifyURL: m.NotifyURL, SettlementCurrencies: m.SettlementCurrencies}
}

func (s *Server) pay(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.PayRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	p, err := s.payments.Pay(ctx, Payer(m), &req)
	if err != nil {
		return nil, err
	}
	return payments.PayResponseOf(p), nil
}

func (s *Server) inquiryPayment(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.InquiryPaymentRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	p, err := s.payments.Inquire(ctx, Payer(m), &req)
	if err != nil {
		return nil, err
	}
	txns, err := s.payments.Transactions(ctx, p)
	if err != nil {
		return nil, err
	}
	return payments.InquiryResponseOf(p, txns), nil
}

func (s *Server) capture(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.CaptureRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	t, p, err := s.payments.Capture(ctx, Payer(m), &req)
	if err != nil {
		return nil, err
	}
	return payments.CaptureResponseOf(p, t), nil
}

func (s *Server) cancel(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.CancelRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	p, err := s.payments.Cancel(ctx, Payer(m), &req)
	if err != nil {
		return nil, err
	}
	return payments.CancelResponseOf(p), nil
}

func (s *Server) refund(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.RefundRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	t, p, err := s.payments.Refund(ctx, Payer(m), &req)
	if err != nil {
		return nil, err
	}
	return payments.RefundResponseOf(p, t), nil
}

func (s *Server) inquiryRefund(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.InquiryRefundRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	t, err := s.payments.InquireRefund(ctx, Payer(m), &req)
	if err != nil {
		return nil, err
	}
	return payments.InquiryRefundResponseOf(t), nil
}
