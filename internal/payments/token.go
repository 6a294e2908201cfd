package payments

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/protocol"
)

// Token is a saved card: the cardToken a merchant sends back as paymentMethod.paymentMethodId.
// The card number, expiry and holder name are held only sealed by the vault; Card is the masked
// summary that may be shown.
type Token struct {
	ID         string
	MerchantID string
	// BuyerID is the order.buyer.referenceBuyerId of the payment that made the token; a token made
	// for a buyer serves only that buyer (docs/design.md "Tokens"). Empty: any buyer of the merchant.
	BuyerID   string
	Card      CardSummary
	Sealed    string // vault envelope of tokenCard, bound by tokenAAD
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TokenStore keeps tokens. A token is created in the transaction of the authorization that made
// it (Change.NewToken), so there is never a token of a card that was not approved.
type TokenStore interface {
	// TokenByID returns ErrNotFound for an unknown token and for another merchant's alike.
	TokenByID(ctx context.Context, merchantID, tokenID string) (Token, error)
	// TokenByFingerprint finds the merchant's token of a card for a buyer (ErrNotFound if none), so
	// that saving the same card twice gives the same cardToken.
	TokenByFingerprint(ctx context.Context, merchantID, buyerID, fingerprint string) (Token, error)
}

// SealedKind names a place where the stores keep vault envelopes, for key rotation.
type SealedKind string

const (
	SealedTokens   SealedKind = "card_tokens"          // Token.Sealed
	SealedPayments SealedKind = "payments.sealed_card" // Payment.SealedCard, only while a 3-D Secure challenge is pending
	// SealedDisputeEvidence is a dispute's defense document (internal/disputes), kept sealed
	// because it may carry the buyer's personal data.
	SealedDisputeEvidence SealedKind = "disputes.evidence_sealed"
)

// SealedRecord is one stored envelope.
type SealedRecord struct {
	ID     string // the token id or payment id
	Sealed string
}

// SealedStore lets `cardgate vault rotate` rewrap every stored envelope while the gateway runs.
type SealedStore interface {
	// SealedAfter lists the non-empty envelopes of a kind with ids after the given one, in id
	// order, at most limit.
	SealedAfter(ctx context.Context, kind SealedKind, afterID string, limit int) ([]SealedRecord, error)
	// ReplaceSealed swaps one envelope for another only if it is still old (false otherwise: it
	// changed or went meanwhile). Replacing a payment's sealed card also bumps its version, so a
	// transition computed from the old row cannot write the old envelope back.
	ReplaceSealed(ctx context.Context, kind SealedKind, id, old, new string) (bool, error)
}

// tokenCard is what a payment with a token needs of the card, sealed.
type tokenCard struct {
	PAN        string `json:"pan"`
	Month      int    `json:"month"`
	Year       int    `json:"year"`
	HolderName string `json:"holderName"`
}

// tokenAAD binds a token's envelope to its merchant and id: moved to another row or merchant, it
// cannot be opened.
func tokenAAD(merchantID, tokenID string) []byte {
	return []byte("token/" + merchantID + "/" + tokenID)
}

// Tokenize modes (paymentMethodMetaData.tokenizeMode).
const (
	TokenizeDisabled      = "DISABLED"
	TokenizeEnabled       = "ENABLED"
	TokenizeAskForConsent = "ASKFORCONSENT"
)

// newTokenID makes an unguessable cardToken: "ctk_" and 32 base-62 characters (190 bits).
func newTokenID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 32)
	n := big.NewInt(int64(len(alphabet)))
	for i := range b {
		d, err := rand.Int(rand.Reader, n)
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[d.Int64()]
	}
	return "ctk_" + string(b)
}

// unknownToken is the answer for a token that is not the caller's to use: unknown, another
// merchant's or another buyer's alike, so that none of them can be told apart.
func unknownToken() error {
	return illegal("paymentMethod.paymentMethodId", "is not a known card token")
}

// resolveToken fills a token payment's card from the vault. It refuses, the same way, tokens of
// other merchants, of other buyers and tokens that do not exist.
func (s *Service) resolveToken(ctx context.Context, m Merchant, cmd *PayCommand, now time.Time) error {
	if s.vault == nil {
		return unknownToken()
	}
	t, err := s.store.TokenByID(ctx, m.ID, cmd.TokenID)
	if errors.Is(err, ErrNotFound) {
		return unknownToken()
	}
	if err != nil {
		return fmt.Errorf("pay: look up card token: %w", err)
	}
	if t.BuyerID != "" && t.BuyerID != cmd.Order.ReferenceBuyerID {
		return unknownToken()
	}
	raw, err := s.vault.OpenText(t.Sealed, tokenAAD(t.MerchantID, t.ID))
	if err != nil {
		return fmt.Errorf("pay: open card token %s: %w", t.ID, err)
	}
	var c tokenCard
	err = json.Unmarshal(raw, &c)
	clear(raw)
	if err != nil {
		return fmt.Errorf("pay: decode card token %s: %w", t.ID, err)
	}
	pan, err := card.ParseNumber(c.PAN)
	c.PAN = ""
	if err != nil {
		return fmt.Errorf("pay: card token %s: %w", t.ID, err)
	}
	exp := card.Expiry{Month: c.Month, Year: c.Year}
	if exp.ExpiredAt(now) {
		return protocol.Errorf(protocol.CodeInvalidExpirationDate, "paymentMethod.paymentMethodId: the saved card expired")
	}
	cmd.Card, cmd.Expiry, cmd.HolderName = pan, exp, c.HolderName
	cmd.tokenNTI = t.Card.InitialNetworkTransactionID
	return nil
}

// newToken seals an approved card as a token for the payment's merchant and buyer, or returns the
// buyer's existing token of that card. The existing one is looked up again when a concurrent
// payment saves the same card first (the store refuses the second insert as a conflict, and
// commitFresh rebuilds).
func (s *Service) newToken(ctx context.Context, p Payment, cmd *PayCommand, now time.Time) (existing string, t *Token, err error) {
	old, err := s.store.TokenByFingerprint(ctx, p.MerchantID, p.Order.ReferenceBuyerID, p.Card.Fingerprint)
	if err == nil {
		return old.ID, nil, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return "", nil, fmt.Errorf("look up saved card: %w", err)
	}
	id := newTokenID()
	raw, err := json.Marshal(tokenCard{PAN: cmd.Card.Digits(), Month: cmd.Expiry.Month, Year: cmd.Expiry.Year, HolderName: cmd.HolderName})
	if err != nil {
		return "", nil, err
	}
	sealed, err := s.vault.SealText(raw, tokenAAD(p.MerchantID, id))
	clear(raw)
	if err != nil {
		return "", nil, fmt.Errorf("seal card token: %w", err)
	}
	summary := p.Card
	summary.Token, summary.Tokenize = "", false
	summary.MIT, summary.MITType, summary.InitialNetworkTransactionID = false, "", "" // recordAuth sets the last
	summary.Funding, summary.IssuingCountry, summary.IssuerName, summary.Category = "", "", "", ""
	return "", &Token{ID: id, MerchantID: p.MerchantID, BuyerID: p.Order.ReferenceBuyerID, Card: summary, Sealed: sealed,
		CreatedAt: now, UpdatedAt: now}, nil
}
