package api

import (
	"context"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/protocol"
)

// consult serves /v1/payments/consult: the payment options for an amount (docs/wire.md §4.7).
func (s *Server) consult(_ context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.ConsultRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	return s.payments.Consult(Payer(m), &req)
}
