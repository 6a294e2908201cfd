package payments

import (
	"context"
	"unicode"
	"unicode/utf8"
)

// Id lengths on the wire (docs/wire.md §4): the merchant's request ids and referenceRefundId are
// at most 64 characters, Antom's own paymentId (and the captureId and refundId shaped like it)
// at most 64, a card token (paymentMethodId) at most 128 here, a buyer or order reference 64.
const (
	maxRequestID = 64
	maxGatewayID = 64
	maxTokenID   = 128
)

// idField checks an identifier before it reaches a store or a log: at most n bytes, valid UTF-8
// and no control characters. A NUL in an id is refused by PostgreSQL's TEXT (SQLSTATE 22021) and
// kept by SQLite, so without this check one request got U/UNKNOWN_EXCEPTION on one store and
// ORDER_NOT_EXIST on the other; a line break could forge lines in logs. Lone surrogates never get
// this far: protocol.Decode refuses them in the raw body.
func idField(path, v string, n int) error {
	if err := maxLen(path, v, n); err != nil {
		return err
	}
	if !utf8.ValidString(v) {
		return illegal(path, "is not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return illegal(path, "must not contain control characters")
		}
	}
	return nil
}

// ValidateID checks an id the way every payments call checks its own, for the gateway's other
// calls (notifications/list's paymentId).
func ValidateID(path, v string) error { return idField(path, v, maxGatewayID) }

// idFields checks several optional ids (empty ones pass) in order.
func idFields(fields ...idCheck) error {
	for _, f := range fields {
		if f.value == "" {
			continue
		}
		if err := idField(f.path, f.value, f.max); err != nil {
			return err
		}
	}
	return nil
}

type idCheck struct {
	path, value string
	max         int
}

// validPageToken reports whether token has the shape pageToken makes (base64url, no padding): the
// buyer's pages take it from the URL path, so it can hold anything a browser sends.
func validPageToken(token string) bool {
	if token == "" || len(token) > 64 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// paymentByPageToken finds the payment of a buyer page; a token that pageToken could not have
// made is simply not found, without asking the store.
func (s *Service) paymentByPageToken(ctx context.Context, token string) (Payment, error) {
	if !validPageToken(token) {
		return Payment{}, ErrNotFound
	}
	return s.store.PaymentByChallengeToken(ctx, token)
}
