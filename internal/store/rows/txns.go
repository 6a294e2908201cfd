package rows

import (
	"encoding/json"
	"fmt"

	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// TxnColumns lists the transactions columns in the order of TxnScan.
const TxnColumns = `txn_id, payment_id, client_id, txn_type, request_id, status, currency, amount_minor,
	result_code, result_message, details, created_at, updated_at, due_at, internal`

// TxnScan receives a row of TxnColumns.
type TxnScan struct {
	t                                    payments.Txn
	typ, status, currency, code, details string
	minor, created, updated, due         int64
	internal                             int
}

// Targets are the scan destinations, in TxnColumns order.
func (s *TxnScan) Targets() []any {
	t := &s.t
	return []any{&t.ID, &t.PaymentID, &t.MerchantID, &s.typ, &t.RequestID, &s.status, &s.currency, &s.minor, &s.code, &t.ResultMsg,
		&s.details, &s.created, &s.updated, &s.due, &s.internal}
}

// Txn decodes the scanned row.
func (s *TxnScan) Txn() (payments.Txn, error) {
	t := s.t
	cur, ok := money.Lookup(s.currency)
	if !ok {
		return t, fmt.Errorf("transaction %s: stored currency %q unknown", t.ID, s.currency)
	}
	t.Type, t.Status, t.ResultCode = payments.TxnType(s.typ), payments.TxnStatus(s.status), protocol.Code(s.code)
	t.Amount = money.Amount{Currency: cur, Minor: s.minor}
	t.CreatedAt, t.UpdatedAt, t.DueAt = FromMS(s.created), FromMS(s.updated), FromMS(s.due)
	t.Internal = s.internal == 1
	if err := json.Unmarshal([]byte(s.details), &t.Details); err != nil {
		return t, fmt.Errorf("transaction %s details: %w", t.ID, err)
	}
	return t, nil
}

// TxnValues encodes a new transaction for TxnColumns.
func TxnValues(t payments.Txn) ([]any, error) {
	details, err := json.Marshal(t.Details)
	if err != nil {
		return nil, err
	}
	internal := 0
	if t.Internal {
		internal = 1
	}
	return checked([]any{t.ID, t.PaymentID, t.MerchantID, string(t.Type), t.RequestID, string(t.Status), t.Amount.Currency.Code, t.Amount.Minor,
		string(t.ResultCode), t.ResultMsg, string(details), MS(t.CreatedAt), MS(t.UpdatedAt), MS(t.DueAt), internal})
}
