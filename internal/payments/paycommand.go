package payments

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// DefaultPaymentExpiry is how long an unfinished payment stays open (seed 002: 14 minutes).
const DefaultPaymentExpiry = 14 * time.Minute

// MaxPaymentExpiry bounds paymentExpiryTime. Antom's longest default timeout for cards is 7 days
// ("Payment method default timeout", docs.antom.com/ac/pm/default_timeout), the same as an
// authorization's validity: a payment kept open longer could never be captured in time, and
// 9999-12-31 would keep its row and its buyer page alive forever.
const MaxPaymentExpiry = 7 * 24 * time.Hour

// AutoCaptureGrace is how long after approval an AUTOMATIC payment may stay uncaptured before the
// due-work runner captures it (the process that approved it died before capturing).
const AutoCaptureGrace = 30 * time.Second

// AuthValidity is how long an authorization can be captured (seed 000: 7 days, then auto-void).
const AuthValidity = 7 * 24 * time.Hour

// PayCommand is a validated server-to-server card pay request. It holds the plain card number and
// CVV only in memory, for the acquirer call.
type PayCommand struct {
	RequestID   string
	Amount      money.Amount
	CaptureMode CaptureMode
	Card        card.Number
	Expiry      card.Expiry
	CVV         string
	HolderName  string
	HasBilling  bool
	ExpiresAt   time.Time
	Order       OrderDetails
	// 3-D Secure: requested (is3DSAuthentication), allowed as an upgrade of a soft decline
	// (enableAuthenticationUpgrade, either spelling), or done by the merchant's own MPI.
	Want3DS bool
	Upgrade bool
	MPI     *protocol.MPIData

	// TokenID is a saved card's cardToken (paymentMethod.paymentMethodId): the service fills Card,
	// Expiry and HolderName from the vault. Hosted is a pay without card data: the buyer enters
	// the card on the gateway's page. Tokenize asks for the approved card to be saved;
	// TokenizeMode is the merchant's mode as sent.
	TokenID      string
	Hosted       bool
	Tokenize     bool
	TokenizeMode string
	CardOnFile   bool

	// Co-badged cards (cobadge.go): SelectedBrand is paymentMethodMetaData.selectedCardBrand as
	// sent; Brand is the brand the payment uses once the card is known.
	SelectedBrand card.Brand
	Brand         card.Brand
	// Merchant-initiated payments (mit.go): MIT is isCardOnFile true, MITType its kind and
	// InitialNTI the network transaction id of the customer-initiated payment it follows;
	// tokenNTI is the one the token's card was saved with.
	MIT        bool
	MITType    string
	InitialNTI string
	tokenNTI   string
	// IssuerAuth is a South Korean issuer-authentication payment (localcard.go); Local are the
	// local card fields sent for the card's country, passed on to the acquirer.
	IssuerAuth bool
	Local      acquirer.LocalCardFields
	// SettlementCurrency is settlementStrategy.settlementCurrency as sent ("" when absent); the
	// service applies the merchant's contract to it (settlement.go).
	SettlementCurrency string
}

// Key is what idempotency compares between a pay and its replay (docs/design.md invariant 1).
type payKey struct {
	currency    string
	minor       int64
	fingerprint string
	captureMode CaptureMode
}

var terminalTypes = map[string]bool{"WEB": true, "WAP": true, "APP": true, "MINI_APP": true}
var osTypes = map[string]bool{"IOS": true, "ANDROID": true}

func required(path string) error {
	return protocol.Errorf(protocol.CodeParamIllegal, "%s is required", path)
}

func illegal(path, format string, args ...any) error {
	return protocol.Errorf(protocol.CodeParamIllegal, path+" "+format, args...)
}

func maxLen(path, v string, n int) error {
	if len(v) > n {
		return illegal(path, "must be at most %d characters", n)
	}
	return nil
}

// ParsePayRequest validates a pay request for a server-to-server card payment and turns it into a
// command. The first problem found is returned as a *protocol.Error naming the field's JSON path.
// The order of checks puts the request's identity and payment method first, so that a request for
// another payment method is told so rather than about a field it would never need.
func ParsePayRequest(r *protocol.PayRequest, now time.Time) (PayCommand, error) {
	var cmd PayCommand
	if r.ProductCode == "" {
		return cmd, required("productCode")
	}
	if r.ProductCode != "CASHIER_PAYMENT" {
		return cmd, illegal("productCode", "%q is not supported; card payments use CASHIER_PAYMENT", r.ProductCode)
	}
	if r.PaymentRequestID == "" {
		return cmd, required("paymentRequestId")
	}
	if err := idField("paymentRequestId", r.PaymentRequestID, maxRequestID); err != nil {
		return cmd, err
	}
	cmd.RequestID = r.PaymentRequestID

	amount, err := parseAmount("paymentAmount", r.PaymentAmount)
	if err != nil {
		return cmd, err
	}
	cmd.Amount = amount

	if r.PaymentMethod == nil || r.PaymentMethod.PaymentMethodType == "" {
		return cmd, required("paymentMethod.paymentMethodType")
	}
	if r.PaymentMethod.PaymentMethodType != "CARD" {
		return cmd, illegal("paymentMethod.paymentMethodType", "%q is not supported; cardgate processes CARD payments", r.PaymentMethod.PaymentMethodType)
	}

	if r.PaymentRedirectURL == "" {
		return cmd, required("paymentRedirectUrl")
	}
	if err := absoluteURL("paymentRedirectUrl", r.PaymentRedirectURL, false); err != nil {
		return cmd, err
	}
	if r.PaymentNotifyURL != "" {
		if err := notifyURL("paymentNotifyUrl", r.PaymentNotifyURL); err != nil {
			return cmd, err
		}
	}

	if !r.IsAuthorization && (r.PaymentFactor == nil || !r.PaymentFactor.IsAuthorization) {
		if r.PaymentFactor == nil {
			return cmd, required("paymentFactor.isAuthorization")
		}
		return cmd, illegal("paymentFactor.isAuthorization", "must be true for card payments")
	}
	cmd.CaptureMode = CaptureAutomatic
	if r.PaymentFactor != nil && r.PaymentFactor.CaptureMode != "" {
		switch mode := CaptureMode(r.PaymentFactor.CaptureMode); mode {
		case CaptureAutomatic, CaptureManual:
			cmd.CaptureMode = mode
		default:
			return cmd, illegal("paymentFactor.captureMode", "must be AUTOMATIC or MANUAL")
		}
	}

	if r.SettlementStrategy != nil && r.SettlementStrategy.SettlementCurrency != "" {
		if _, ok := money.Lookup(r.SettlementStrategy.SettlementCurrency); !ok {
			return cmd, protocol.Errorf(protocol.CodeCurrencyNotSupport, "settlementStrategy.settlementCurrency %q is not supported", r.SettlementStrategy.SettlementCurrency)
		}
		cmd.SettlementCurrency = r.SettlementStrategy.SettlementCurrency
	}

	if err := parseOrder(r, &cmd); err != nil {
		return cmd, err
	}
	if err := parseEnv(r, &cmd); err != nil {
		return cmd, err
	}
	if err := parseCreditPayPlan(r, &cmd); err != nil {
		return cmd, err
	}

	cmd.ExpiresAt = now.Add(DefaultPaymentExpiry)
	if r.PaymentExpiryTime != "" {
		t, err := time.Parse(time.RFC3339, r.PaymentExpiryTime)
		if err != nil {
			return cmd, illegal("paymentExpiryTime", "must be an ISO 8601 time with an offset, such as 2024-01-20T08:51:06+08:00")
		}
		if !t.After(now) {
			return cmd, illegal("paymentExpiryTime", "must be in the future")
		}
		if t.Sub(now) > MaxPaymentExpiry {
			return cmd, illegal("paymentExpiryTime", "must be at most 7 days after the request")
		}
		cmd.ExpiresAt = t
	}

	meta := r.PaymentMethod.PaymentMethodMetaData
	if err := parseTokenize(meta, &cmd); err != nil {
		return cmd, err
	}
	if err := parseCardFeatures(r.PaymentMethod, &cmd); err != nil {
		return cmd, err
	}
	if r.PaymentMethod.PaymentMethodID != "" || hostedRequest(meta) {
		if err := issuerAuthNeedsCard(r); err != nil {
			return cmd, err
		}
	}
	switch {
	case r.PaymentMethod.PaymentMethodID != "":
		// A saved card: the service opens the token; the request carries no card number and
		// needs no CVV (isCardOnFile is optional, docs/design.md "Tokens").
		if err := idField("paymentMethod.paymentMethodId", r.PaymentMethod.PaymentMethodID, maxTokenID); err != nil {
			return cmd, err
		}
		if meta != nil && meta.CardNo != "" {
			return cmd, illegal(metaPath+".cardNo", "must not be sent with paymentMethod.paymentMethodId")
		}
		cmd.TokenID = r.PaymentMethod.PaymentMethodID
		cmd.CardOnFile = true
		cmd.Tokenize = false // already saved
		if meta != nil {
			cmd.CVV = meta.CVV // checked against the brand once the token is open
		}
		return cmd, parseAuthentication(meta, &cmd)
	case hostedRequest(meta):
		// No card data: the buyer enters the card on the gateway's hosted page (seeds 001-07,
		// 002-11, 002-23).
		cmd.Hosted = true
		return cmd, parseAuthentication(meta, &cmd)
	}
	if err := parseCard(meta, now, &cmd); err != nil {
		return cmd, err
	}
	if err := parseLocalCard(r, now, &cmd); err != nil {
		return cmd, err
	}
	return cmd, checkCardPlan(&cmd)
}

// parseAuthentication reads the 3-D Secure wishes of a pay.
func parseAuthentication(m *protocol.CardMetaData, cmd *PayCommand) error {
	if m == nil {
		return nil
	}
	cmd.Want3DS = m.Is3DSAuthentication
	cmd.Upgrade = m.EnableAuthenticationUpgrade || m.EnableAuthenticationUpgrate
	if mpi := m.MPIData; mpi != nil {
		if mpi.ECI == "" || mpi.CAVV == "" {
			return illegal(metaPath+".mpiData", "must carry eci and cavv of the merchant's 3-D Secure authentication")
		}
		cmd.MPI = mpi
	}
	return nil
}

func parseAmount(path string, a *protocol.Amount) (money.Amount, error) {
	if a == nil {
		return money.Amount{}, required(path)
	}
	if a.Currency == "" {
		return money.Amount{}, required(path + ".currency")
	}
	if a.Value == "" {
		return money.Amount{}, required(path + ".value")
	}
	amt, err := money.Parse(a.Currency, a.Value)
	switch {
	case errors.Is(err, money.ErrCurrencyNotSupported):
		return amt, protocol.Errorf(protocol.CodeCurrencyNotSupport, "%s.currency %q is not a supported ISO 4217 currency", path, a.Currency)
	case err != nil && len(a.Value) > money.MaxDigits:
		return amt, illegal(path+".value", "must be at most %d digits (Antom's Amount.value is String(%d))", money.MaxDigits, money.MaxDigits)
	case err != nil:
		return amt, illegal(path+".value", "must be a whole number of minor units without sign or decimal point, such as \"4200\" for 42.00 %s", a.Currency)
	case amt.Minor == 0:
		return amt, illegal(path+".value", "must be greater than 0")
	}
	return amt, nil
}

func absoluteURL(path, raw string, httpOnly bool) error {
	if err := maxLen(path, raw, 2048); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return illegal(path, "must be an absolute URL")
	}
	if httpOnly && ((u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		return illegal(path, "must be an http or https URL")
	}
	return nil
}

func parseOrder(r *protocol.PayRequest, cmd *PayCommand) error {
	o := r.Order
	if o == nil {
		return required("order")
	}
	if o.ReferenceOrderID == "" {
		return required("order.referenceOrderId")
	}
	if err := idField("order.referenceOrderId", o.ReferenceOrderID, 64); err != nil {
		return err
	}
	if o.OrderDescription == "" {
		return required("order.orderDescription")
	}
	if err := maxLen("order.orderDescription", o.OrderDescription, 256); err != nil {
		return err
	}
	if o.OrderAmount != nil {
		amt, err := parseAmount("order.orderAmount", o.OrderAmount)
		if err != nil {
			return err
		}
		cmd.Order.OrderCurrency, cmd.Order.OrderMinor = amt.Currency.Code, amt.Minor
	}
	b := o.Buyer
	if b == nil {
		return required("order.buyer")
	}
	if b.ReferenceBuyerID == "" && b.BuyerPhoneNo == "" && b.BuyerEmail == "" {
		return illegal("order.buyer", "must carry one of referenceBuyerId, buyerPhoneNo or buyerEmail")
	}
	if err := idField("order.buyer.referenceBuyerId", b.ReferenceBuyerID, 64); err != nil {
		return err
	}
	cmd.Order.ReferenceOrderID = o.ReferenceOrderID
	cmd.Order.Description = o.OrderDescription
	cmd.Order.ReferenceBuyerID = b.ReferenceBuyerID
	cmd.Order.RedirectURL = r.PaymentRedirectURL
	cmd.Order.NotifyURL = r.PaymentNotifyURL
	return nil
}

func parseEnv(r *protocol.PayRequest, cmd *PayCommand) error {
	env := r.Env
	if env == nil && r.Order != nil {
		env = r.Order.Env // docs/wire.md §4.1: env is also accepted inside order
	}
	if env == nil || env.TerminalType == "" {
		return required("env.terminalType")
	}
	if !terminalTypes[env.TerminalType] {
		return illegal("env.terminalType", "must be one of WEB, WAP, APP, MINI_APP")
	}
	if env.OSType != "" && !osTypes[env.OSType] {
		return illegal("env.osType", "must be IOS or ANDROID")
	}
	if env.OSType == "" && (env.TerminalType == "WAP" || env.TerminalType == "APP") {
		return illegal("env.osType", "is required when env.terminalType is %s", env.TerminalType)
	}
	if env.ClientIP == "" {
		return required("env.clientIp")
	}
	if err := maxLen("env.clientIp", env.ClientIP, 64); err != nil {
		return err
	}
	cmd.Order.TerminalType, cmd.Order.ClientIP = env.TerminalType, env.ClientIP
	return nil
}

const metaPath = "paymentMethod.paymentMethodMetaData"

func parseCard(m *protocol.CardMetaData, now time.Time, cmd *PayCommand) error {
	if m == nil {
		return required(metaPath + ".cardNo")
	}
	if m.CardNo == "" {
		return required(metaPath + ".cardNo")
	}
	pan, err := card.ParseNumber(m.CardNo)
	switch {
	case errors.Is(err, card.ErrUnsupportedBrand):
		return protocol.Errorf(protocol.CodeCardNotSupported, "%s.cardNo is not a card brand cardgate supports", metaPath)
	case err != nil:
		return protocol.Errorf(protocol.CodeInvalidCardNumber, "%s.cardNo is not a valid card number", metaPath)
	}
	cmd.Card = pan
	if m.ExpiryYear == "" {
		return required(metaPath + ".expiryYear")
	}
	if m.ExpiryMonth == "" {
		return required(metaPath + ".expiryMonth")
	}
	exp, err := card.ParseExpiry(m.ExpiryMonth, m.ExpiryYear)
	if err != nil {
		// Name the field itself (PARAM_ILLEGAL-style path), not just its parent object.
		field, reason := metaPath+".expiryYear", strings.TrimPrefix(err.Error(), "card: ")
		var ee *card.ExpiryError
		if errors.As(err, &ee) {
			reason = ee.Reason
			if ee.Part == "month" {
				field = metaPath + ".expiryMonth"
			}
		}
		return protocol.Errorf(protocol.CodeInvalidExpirationDate, "%s is invalid: %s", field, reason)
	}
	if exp.ExpiredAt(now) {
		return protocol.Errorf(protocol.CodeInvalidExpirationDate, "%s.expiryYear/expiryMonth: the card expired", metaPath)
	}
	cmd.Expiry = exp
	if m.CVV != "" {
		if !cvvShape(m.CVV, pan.Brand()) {
			return illegal(metaPath+".cvv", "must be %d digits for this card", cvvLen(pan.Brand()))
		}
		cmd.CVV = m.CVV
	}
	h := m.CardholderName
	if h == nil && !holderNameRequired(pan) {
		h = &protocol.UserName{} // optional under the card's local rules (localcard.go)
	}
	if h == nil {
		return required(metaPath + ".cardholderName")
	}
	name := strings.TrimSpace(h.FullName)
	if name == "" {
		name = strings.TrimSpace(strings.Join(strings.Fields(h.FirstName+" "+h.MiddleName+" "+h.LastName), " "))
	}
	if name == "" && holderNameRequired(pan) {
		return illegal(metaPath+".cardholderName", "must have a firstName and lastName")
	}
	if err := maxLen(metaPath+".cardholderName", name, 128); err != nil {
		return err
	}
	cmd.HolderName = name
	cmd.HasBilling = m.BillingAddress != nil && (m.BillingAddress.Address1 != "" || m.BillingAddress.ZipCode != "")
	return parseAuthentication(m, cmd)
}

func cvvLen(b card.Brand) int {
	if b == card.Amex {
		return 4
	}
	return 3
}

func cvvShape(cvv string, b card.Brand) bool {
	if len(cvv) != cvvLen(b) {
		return false
	}
	for _, c := range cvv {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
