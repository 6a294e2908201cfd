// Package rows is how the SQL stores lay a payment and a transaction out in columns: one column
// list, one encoding and one decoding, shared by sqlite/ and postgres/ so the two stores cannot
// drift apart. Only the SQL dialects differ between them.
package rows

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// MS is how the stores keep times: Unix milliseconds, 0 for none, so due-work queries compare
// integers.
func MS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMS reads a stored time back (UTC).
func FromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// PaymentColumns lists the payments columns in the order of PaymentValues and PaymentScan.
const PaymentColumns = `payment_id, client_id, request_id, state, version, currency, amount_minor, capture_mode,
	result_code, result_message, acquirer_state, card, auth, order_details,
	created_at, updated_at, authorized_at, auth_expires_at, expires_at,
	capture_state, captured_minor, refunded_minor, captured_at, close_reason, closed_at, acquirer_due_at, void_state,
	threeds, challenge_token, challenge_attempts, sealed_card, inflight_until, network_transaction_id,
	disputed_minor, chargeback_at, settlement_currency, settlement_rate, fee_bps, fee_fixed_minor`

// PaymentColumnCount is the number of PaymentColumns.
const PaymentColumnCount = 39

// PaymentValues encodes a payment for PaymentColumns.
func PaymentValues(p payments.Payment) ([]any, error) {
	card, err := json.Marshal(p.Card)
	if err != nil {
		return nil, err
	}
	auth, err := json.Marshal(p.Auth)
	if err != nil {
		return nil, err
	}
	order, err := json.Marshal(p.Order)
	if err != nil {
		return nil, err
	}
	threeDS, err := ThreeDS(p.ThreeDS)
	if err != nil {
		return nil, err
	}
	return checked([]any{p.ID, p.MerchantID, p.RequestID, string(p.State), p.Version, p.Amount.Currency.Code, p.Amount.Minor,
		string(p.CaptureMode), string(p.ResultCode), p.ResultMsg, string(p.AcquirerState), string(card), string(auth), string(order),
		MS(p.CreatedAt), MS(p.UpdatedAt), MS(p.AuthorizedAt), MS(p.AuthExpiresAt), MS(p.ExpiresAt),
		string(p.Capture), p.CapturedMinor, p.RefundedMinor, MS(p.CapturedAt), string(p.CloseReason), MS(p.ClosedAt), MS(p.AcquirerDueAt), string(p.VoidState),
		threeDS, p.ChallengeToken, p.ChallengeAttempts, p.SealedCard, MS(p.InFlightUntil), p.Auth.NetworkTransactionID,
		p.DisputedMinor, MS(p.ChargebackAt), p.Settlement.Currency, p.Settlement.Rate, p.Settlement.FeeBPS, p.Settlement.FeeFixedMinor})
}

// ThreeDS encodes a payment's 3-D Secure details: nothing for a payment without 3-D Secure.
func ThreeDS(t payments.ThreeDSDetails) (string, error) {
	if t == (payments.ThreeDSDetails{}) {
		return "", nil
	}
	b, err := json.Marshal(t)
	return string(b), err
}

// PaymentScan receives a row of PaymentColumns.
type PaymentScan struct {
	p                                              payments.Payment
	state, captureMode, code, acqState             string
	currency, card, auth, order, threeDS           string
	minor                                          int64
	created, updated, authorized, authExp, expires int64
	captureState, closeReason, voidState           string
	capturedAt, closedAt, acqDue, inFlight         int64
	chargebackAt                                   int64
	// nti is network_transaction_id, a copy of auth's for the MIT lookup's index: auth wins.
	nti string
}

// Targets are the scan destinations, in PaymentColumns order.
func (s *PaymentScan) Targets() []any {
	p := &s.p
	return []any{&p.ID, &p.MerchantID, &p.RequestID, &s.state, &p.Version, &s.currency, &s.minor,
		&s.captureMode, &s.code, &p.ResultMsg, &s.acqState, &s.card, &s.auth, &s.order, &s.created, &s.updated, &s.authorized, &s.authExp, &s.expires,
		&s.captureState, &p.CapturedMinor, &p.RefundedMinor, &s.capturedAt, &s.closeReason, &s.closedAt, &s.acqDue, &s.voidState,
		&s.threeDS, &p.ChallengeToken, &p.ChallengeAttempts, &p.SealedCard, &s.inFlight, &s.nti,
		&p.DisputedMinor, &s.chargebackAt, &p.Settlement.Currency, &p.Settlement.Rate, &p.Settlement.FeeBPS, &p.Settlement.FeeFixedMinor}
}

// Payment decodes the scanned row.
func (s *PaymentScan) Payment() (payments.Payment, error) {
	p := s.p
	cur, ok := money.Lookup(s.currency)
	if !ok {
		return p, fmt.Errorf("payment %s: stored currency %q unknown", p.ID, s.currency)
	}
	p.Amount = money.Amount{Currency: cur, Minor: s.minor}
	p.State, p.CaptureMode, p.ResultCode, p.AcquirerState = payments.State(s.state), payments.CaptureMode(s.captureMode), protocol.Code(s.code), payments.AcquirerState(s.acqState)
	for _, f := range []struct {
		name string
		raw  string
		dst  any
	}{{"card", s.card, &p.Card}, {"auth", s.auth, &p.Auth}, {"order", s.order, &p.Order}, {"threeds", s.threeDS, &p.ThreeDS}} {
		if f.raw == "" {
			continue
		}
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return p, fmt.Errorf("payment %s %s: %w", p.ID, f.name, err)
		}
	}
	p.CreatedAt, p.UpdatedAt, p.AuthorizedAt, p.AuthExpiresAt, p.ExpiresAt = FromMS(s.created), FromMS(s.updated), FromMS(s.authorized), FromMS(s.authExp), FromMS(s.expires)
	p.Capture, p.CloseReason, p.VoidState = payments.CaptureState(s.captureState), payments.CloseReason(s.closeReason), payments.VoidState(s.voidState)
	p.CapturedAt, p.ClosedAt, p.AcquirerDueAt, p.InFlightUntil = FromMS(s.capturedAt), FromMS(s.closedAt), FromMS(s.acqDue), FromMS(s.inFlight)
	p.ChargebackAt = FromMS(s.chargebackAt)
	return p, nil
}

// PaymentChangeColumns are the columns a transition may change, in the order of
// PaymentChangeValues; identity, amount and capture mode, creation time and the settlement
// terms (what a report is computed from: docs/reports.md) never change, and disputed_minor is
// the dispute store's alone (it bumps the version when it writes it). The
// order details change only in normalUrl (the buyer's page moves from the card form to the
// challenge, and is gone once the authorization is sent).
var PaymentChangeColumns = []string{"state", "version", "result_code", "result_message", "acquirer_state", "card", "auth", "order_details",
	"updated_at", "authorized_at", "auth_expires_at", "expires_at",
	"capture_state", "captured_minor", "refunded_minor", "captured_at", "close_reason", "closed_at",
	"acquirer_due_at", "void_state", "threeds", "challenge_token", "challenge_attempts", "sealed_card", "inflight_until",
	"network_transaction_id", "chargeback_at"}

// PaymentChangeValues encodes a payment's changeable columns.
func PaymentChangeValues(p payments.Payment) ([]any, error) {
	card, err := json.Marshal(p.Card)
	if err != nil {
		return nil, err
	}
	auth, err := json.Marshal(p.Auth)
	if err != nil {
		return nil, err
	}
	order, err := json.Marshal(p.Order)
	if err != nil {
		return nil, err
	}
	threeDS, err := ThreeDS(p.ThreeDS)
	if err != nil {
		return nil, err
	}
	return checked([]any{string(p.State), p.Version, string(p.ResultCode), p.ResultMsg, string(p.AcquirerState), string(card), string(auth), string(order),
		MS(p.UpdatedAt), MS(p.AuthorizedAt), MS(p.AuthExpiresAt), MS(p.ExpiresAt),
		string(p.Capture), p.CapturedMinor, p.RefundedMinor, MS(p.CapturedAt), string(p.CloseReason), MS(p.ClosedAt),
		MS(p.AcquirerDueAt), string(p.VoidState), threeDS, p.ChallengeToken, p.ChallengeAttempts, p.SealedCard, MS(p.InFlightUntil),
		p.Auth.NetworkTransactionID, MS(p.ChargebackAt)})
}

// Storable reports whether every string among vals can be kept in a TEXT column of both stores.
// PostgreSQL refuses NUL and invalid UTF-8 (SQLSTATE 22021) where SQLite would keep them, so both
// stores refuse them alike: a lookup by such an id finds nothing, a write is ErrInvalidText. The
// service checks ids before any store call; this is the store's own guard.
func Storable(vals ...any) bool {
	for _, v := range vals {
		if s, ok := v.(string); ok && (strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)) {
			return false
		}
	}
	return true
}

// checked returns vals, or payments.ErrInvalidText when one of them cannot be stored.
func checked(vals []any) ([]any, error) {
	if !Storable(vals...) {
		return nil, payments.ErrInvalidText
	}
	return vals, nil
}
