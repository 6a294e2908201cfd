package rows

import (
	"encoding/json"
	"fmt"

	"github.com/cardgate/cardgate/internal/payments"
)

// TokenColumns lists the card_tokens columns in the order of TokenValues and TokenScan.
const TokenColumns = `token_id, client_id, buyer_id, fingerprint, card, sealed, created_at, updated_at`

// TokenValues encodes a new token for TokenColumns. The fingerprint gets a column of its own
// (besides being in the card summary) because the unique key that saves a buyer's card once is
// built on it.
func TokenValues(t payments.Token) ([]any, error) {
	card, err := json.Marshal(t.Card)
	if err != nil {
		return nil, fmt.Errorf("encode token %s card: %w", t.ID, err)
	}
	return checked([]any{t.ID, t.MerchantID, t.BuyerID, t.Card.Fingerprint, string(card), t.Sealed, MS(t.CreatedAt), MS(t.UpdatedAt)})
}

// TokenScan receives a row of TokenColumns.
type TokenScan struct {
	t                 payments.Token
	fingerprint, card string
	created, updated  int64
}

// Targets are the scan destinations, in TokenColumns order.
func (s *TokenScan) Targets() []any {
	t := &s.t
	return []any{&t.ID, &t.MerchantID, &t.BuyerID, &s.fingerprint, &s.card, &t.Sealed, &s.created, &s.updated}
}

// Token decodes the scanned row.
func (s *TokenScan) Token() (payments.Token, error) {
	t := s.t
	if err := json.Unmarshal([]byte(s.card), &t.Card); err != nil {
		return t, fmt.Errorf("token %s card: %w", t.ID, err)
	}
	t.CreatedAt, t.UpdatedAt = FromMS(s.created), FromMS(s.updated)
	return t, nil
}
