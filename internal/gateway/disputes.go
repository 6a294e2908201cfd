package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/protocol"
)

// disputePayments is what the dispute service sees of payments: the store's payment, its
// capture, and where its merchant hears about disputes.
type disputePayments struct{ st store.Store }

var _ disputes.Payments = disputePayments{}

// DisputablePayment implements disputes.Payments.
func (a disputePayments) DisputablePayment(ctx context.Context, merchantID, paymentID string) (disputes.Payment, error) {
	p, err := a.st.PaymentByID(ctx, merchantID, paymentID)
	if errors.Is(err, payments.ErrNotFound) {
		return disputes.Payment{}, disputes.ErrNotFound
	}
	if err != nil {
		return disputes.Payment{}, fmt.Errorf("payment %s: %w", paymentID, err)
	}
	out := disputes.Payment{ID: p.ID, RequestID: p.RequestID, MerchantID: p.MerchantID, Currency: p.Amount.Currency.Code,
		LeftMinor: p.CapturedMinor - p.RefundedMinor - p.DisputedMinor}
	if p.Capture == payments.CaptureSucceeded {
		txns, err := a.st.Txns(ctx, merchantID, paymentID)
		if err != nil {
			return disputes.Payment{}, fmt.Errorf("payment %s transactions: %w", paymentID, err)
		}
		for _, t := range txns {
			if t.Type == payments.TxnCapture && t.Status == payments.TxnSucceeded {
				out.CaptureID = t.ID
			}
		}
	}
	if p.Auth.AcquirerName != "" {
		out.AcquirerInfo = &protocol.AcquirerInfo{AcquirerName: p.Auth.AcquirerName, ReferenceRequestID: p.ID,
			AcquirerTransactionID: p.Auth.AcquirerTransactionID, AcquirerMerchantID: p.Auth.AcquirerMerchantID}
	}
	if cb := p.Auth.Chargeback; cb != nil && !p.ChargebackAt.IsZero() {
		out.Chargeback = &disputes.Announced{ReasonCode: cb.ReasonCode, ReasonMsg: cb.ReasonMsg, DefenseWins: cb.DefenseWins}
	}
	// Antom sends dispute notifications to the URL configured for the merchant; cardgate's
	// merchant settings hold it, and a merchant without one hears at the payment's notify URL.
	m, err := a.st.MerchantByClientID(ctx, merchantID)
	if err != nil {
		return disputes.Payment{}, fmt.Errorf("merchant %s: %w", merchantID, err)
	}
	out.NotifyURL = m.NotifyURL
	if out.NotifyURL == "" {
		out.NotifyURL = p.Order.NotifyURL
	}
	return out, nil
}

// noVault stands in for the vault in a gateway started without vault keys: a defense, which may
// carry personal data, is never kept unsealed.
type noVault struct{}

func (noVault) SealText([]byte, []byte) (string, error) {
	return "", protocol.Errorf(protocol.CodeProcessFail, "this gateway runs without vault keys (--vault-keys), and a defense document is kept only sealed")
}

func (noVault) OpenText(string, []byte) ([]byte, error) {
	return nil, protocol.Errorf(protocol.CodeProcessFail, "this gateway runs without vault keys (--vault-keys): the defense cannot be opened")
}
