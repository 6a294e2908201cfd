package protocol

import (
	"encoding/json"
	"log/slog"
)

// The wire models. Field names and JSON types follow the official SDKs (docs/wire.md §4–§5): amounts
// are strings of minor units, booleans are JSON booleans, times are ISO 8601 strings with an offset.
// Requests are decoded with Decode (lenient); responses are encoded with encoding/json and omit
// empty fields. The same types serve the Go client in client/, so merchants and the gateway cannot
// drift apart.

// API paths under the /ams/api prefix (the sandbox prefix is /ams/sandbox/api).
const (
	PathPay            = "/v1/payments/pay"
	PathInquiryPayment = "/v1/payments/inquiryPayment"
	PathCapture        = "/v1/payments/capture"
	PathCancel         = "/v1/payments/cancel"
	PathRefund         = "/v1/payments/refund"
	PathInquiryRefund  = "/v1/payments/inquiryRefund"

	PrefixLive    = "/ams/api"
	PrefixSandbox = "/ams/sandbox/api"
)

// Amount is a money amount on the wire: currency (ISO 4217) and value in minor units, both strings.
type Amount struct {
	Currency string `json:"currency"`
	Value    string `json:"value"`
}

// PayRequest is the body of /v1/payments/pay.
type PayRequest struct {
	ProductCode        string              `json:"productCode,omitempty"`
	PaymentRequestID   string              `json:"paymentRequestId,omitempty"`
	PaymentAmount      *Amount             `json:"paymentAmount,omitempty"`
	PaymentMethod      *PaymentMethod      `json:"paymentMethod,omitempty"`
	PaymentRedirectURL string              `json:"paymentRedirectUrl,omitempty"`
	PaymentNotifyURL   string              `json:"paymentNotifyUrl,omitempty"`
	PaymentFactor      *PaymentFactor      `json:"paymentFactor,omitempty"`
	SettlementStrategy *SettlementStrategy `json:"settlementStrategy,omitempty"`
	Order              *Order              `json:"order,omitempty"`
	Env                *Env                `json:"env,omitempty"`
	PaymentExpiryTime  string              `json:"paymentExpiryTime,omitempty"`
	MerchantRegion     string              `json:"merchantRegion,omitempty"`
	UserRegion         string              `json:"userRegion,omitempty"`
	MerchantAccountID  string              `json:"merchantAccountId,omitempty"`
	// IsAuthorization is the legacy top-level twin of PaymentFactor.IsAuthorization.
	IsAuthorization bool   `json:"isAuthorization,omitempty"`
	ExtendInfo      string `json:"extendInfo,omitempty"`
	Metadata        string `json:"metadata,omitempty"`
	// CreditPayPlan asks for the payment in installments (docs/installments.md).
	CreditPayPlan *CreditPayPlan `json:"creditPayPlan,omitempty"`
}

// PaymentMethod says how the buyer pays. For cards, either PaymentMethodMetaData carries the card
// (server-to-server) or PaymentMethodID carries a cardToken (saved card).
type PaymentMethod struct {
	PaymentMethodType     string        `json:"paymentMethodType,omitempty"`
	PaymentMethodID       string        `json:"paymentMethodId,omitempty"`
	PaymentMethodMetaData *CardMetaData `json:"paymentMethodMetaData,omitempty"`
	CustomerID            string        `json:"customerId,omitempty"`
	ExtendInfo            string        `json:"extendInfo,omitempty"`
	// RequireIssuerAuthentication asks for the issuer-authentication flow of South Korean cards
	// (seed 002): the buyer authenticates on the issuer's page, no 3-D Secure, automatic capture.
	RequireIssuerAuthentication bool `json:"requireIssuerAuthentication,omitempty"`
}

// CardMetaData is paymentMethodMetaData for cards (docs/wire.md §5.3). It holds the plain card number
// and CVV, so it must never be logged; LogValue keeps slog from printing it by accident.
type CardMetaData struct {
	CardNo                      string    `json:"cardNo,omitempty"`
	ExpiryYear                  string    `json:"expiryYear,omitempty"`
	ExpiryMonth                 string    `json:"expiryMonth,omitempty"`
	CVV                         string    `json:"cvv,omitempty"`
	CardholderName              *UserName `json:"cardholderName,omitempty"`
	BillingAddress              *Address  `json:"billingAddress,omitempty"`
	Is3DSAuthentication         bool      `json:"is3DSAuthentication,omitempty"`
	EnableAuthenticationUpgrade bool      `json:"enableAuthenticationUpgrade,omitempty"`
	// EnableAuthenticationUpgrate is the misspelling Antom's own pages use; both are honoured.
	EnableAuthenticationUpgrate bool   `json:"enableAuthenticationUpgrate,omitempty"`
	TokenizeMode                string `json:"tokenizeMode,omitempty"`
	Tokenize                    bool   `json:"tokenize,omitempty"`
	IsCardOnFile                bool   `json:"isCardOnFile,omitempty"`
	NetworkTransactionID        string `json:"networkTransactionId,omitempty"`
	SelectedCardBrand           string `json:"selectedCardBrand,omitempty"`
	// MPIData is a 3-D Secure result the merchant obtained itself (an MPI): passed through, no
	// challenge.
	MPIData *MPIData `json:"mpiData,omitempty"`
	// MITType is cardgate's extension (docs/wire.md §5.3): the kind of a merchant-initiated
	// payment, SCHEDULED, UNSCHEDULED or RECURRING. Antom's pages name "scheduled or unscheduled"
	// MITs without a field for it.
	MITType string `json:"mitType,omitempty"`
	// Local card fields (seed 000 "Local cards", docs/wire.md §5.3): personal data, validated and
	// never logged; CardPasswordDigest is part of the card's PIN and never stored.
	DateOfBirth        string `json:"dateOfBirth,omitempty"`
	CardPasswordDigest string `json:"cardPasswordDigest,omitempty"`
	BusinessNo         string `json:"businessNo,omitempty"`
	CPF                string `json:"cpf,omitempty"`
	PayerEmail         string `json:"payerEmail,omitempty"`
}

// MPIData is a merchant-supplied 3-D Secure authentication.
type MPIData struct {
	ThreeDSVersion  string `json:"threeDSVersion,omitempty"`
	ECI             string `json:"eci,omitempty"`
	CAVV            string `json:"cavv,omitempty"`
	DSTransactionID string `json:"dsTransactionId,omitempty"`
	CredentialType  string `json:"credentialType,omitempty"`
}

// LogValue hides the card data from structured logs.
func (m CardMetaData) LogValue() slog.Value { return slog.StringValue("[card data redacted]") }

// PaymentFactor carries the authorization flags.
type PaymentFactor struct {
	IsAuthorization bool   `json:"isAuthorization,omitempty"`
	CaptureMode     string `json:"captureMode,omitempty"`
}

// SettlementStrategy names the settlement currency.
type SettlementStrategy struct {
	SettlementCurrency string `json:"settlementCurrency,omitempty"`
}

// Order describes what is bought.
type Order struct {
	ReferenceOrderID string    `json:"referenceOrderId,omitempty"`
	OrderDescription string    `json:"orderDescription,omitempty"`
	OrderAmount      *Amount   `json:"orderAmount,omitempty"`
	Buyer            *Buyer    `json:"buyer,omitempty"`
	Goods            []Goods   `json:"goods,omitempty"`
	Shipping         *Shipping `json:"shipping,omitempty"`
	Env              *Env      `json:"env,omitempty"`
	ExtendInfo       string    `json:"extendInfo,omitempty"`
}

// Buyer identifies the buyer; at least one of the three identifiers is required for cards.
type Buyer struct {
	ReferenceBuyerID      string    `json:"referenceBuyerId,omitempty"`
	BuyerName             *UserName `json:"buyerName,omitempty"`
	BuyerPhoneNo          string    `json:"buyerPhoneNo,omitempty"`
	BuyerEmail            string    `json:"buyerEmail,omitempty"`
	BuyerRegistrationTime string    `json:"buyerRegistrationTime,omitempty"`
}

// UserName is a person's name.
type UserName struct {
	FirstName  string `json:"firstName,omitempty"`
	MiddleName string `json:"middleName,omitempty"`
	LastName   string `json:"lastName,omitempty"`
	FullName   string `json:"fullName,omitempty"`
}

// Address is a postal address; region is ISO 3166 alpha-2.
type Address struct {
	Region   string `json:"region,omitempty"`
	State    string `json:"state,omitempty"`
	City     string `json:"city,omitempty"`
	Address1 string `json:"address1,omitempty"`
	Address2 string `json:"address2,omitempty"`
	Address3 string `json:"address3,omitempty"`
	ZipCode  string `json:"zipCode,omitempty"`
}

// Goods is one order line.
type Goods struct {
	ReferenceGoodsID   string  `json:"referenceGoodsId,omitempty"`
	GoodsName          string  `json:"goodsName,omitempty"`
	GoodsCategory      string  `json:"goodsCategory,omitempty"`
	GoodsBrand         string  `json:"goodsBrand,omitempty"`
	GoodsUnitAmount    *Amount `json:"goodsUnitAmount,omitempty"`
	GoodsQuantity      string  `json:"goodsQuantity,omitempty"`
	GoodsURL           string  `json:"goodsUrl,omitempty"`
	DeliveryMethodType string  `json:"deliveryMethodType,omitempty"`
}

// Shipping is where the goods go.
type Shipping struct {
	ShippingName    *UserName `json:"shippingName,omitempty"`
	ShippingAddress *Address  `json:"shippingAddress,omitempty"`
	ShippingCarrier string    `json:"shippingCarrier,omitempty"`
	ShippingPhoneNo string    `json:"shippingPhoneNo,omitempty"`
	ShipToEmail     string    `json:"shipToEmail,omitempty"`
}

// Env describes the buyer's device. Numbers such as colorDepth are strings in the SDK models but
// arrive as JSON numbers from Antom's own samples; Decode accepts both.
type Env struct {
	TerminalType   string       `json:"terminalType,omitempty"`
	OSType         string       `json:"osType,omitempty"`
	UserAgent      string       `json:"userAgent,omitempty"`
	DeviceTokenID  string       `json:"deviceTokenId,omitempty"`
	ClientIP       string       `json:"clientIp,omitempty"`
	CookieID       string       `json:"cookieId,omitempty"`
	BrowserInfo    *BrowserInfo `json:"browserInfo,omitempty"`
	ColorDepth     string       `json:"colorDepth,omitempty"`
	ScreenHeight   string       `json:"screenHeight,omitempty"`
	ScreenWidth    string       `json:"screenWidth,omitempty"`
	TimeZoneOffset int          `json:"timeZoneOffset,omitempty"`
	DeviceBrand    string       `json:"deviceBrand,omitempty"`
	DeviceModel    string       `json:"deviceModel,omitempty"`
	DeviceLanguage string       `json:"deviceLanguage,omitempty"`
	DeviceID       string       `json:"deviceId,omitempty"`
	OSVersion      string       `json:"osVersion,omitempty"`
}

// BrowserInfo is what the buyer's browser told the merchant (used by 3-D Secure).
type BrowserInfo struct {
	AcceptHeader      string `json:"acceptHeader,omitempty"`
	JavaEnabled       bool   `json:"javaEnabled,omitempty"`
	JavaScriptEnabled bool   `json:"javaScriptEnabled,omitempty"`
	Language          string `json:"language,omitempty"`
	UserAgent         string `json:"userAgent,omitempty"`
}

// RedirectActionForm tells the merchant where to send the buyer.
type RedirectActionForm struct {
	Method         string `json:"method,omitempty"`
	Parameters     string `json:"parameters,omitempty"`
	RedirectURL    string `json:"redirectUrl,omitempty"`
	ActionFormType string `json:"actionFormType,omitempty"`
}

// ThreeDSResult is the 3-D Secure outcome. cavv and eci are always present (empty when there was
// no authentication), as in every seed sample.
type ThreeDSResult struct {
	ThreeDSVersion  string `json:"threeDSVersion,omitempty"`
	ECI             string `json:"eci"`
	CAVV            string `json:"cavv"`
	DSTransactionID string `json:"dsTransactionId,omitempty"`
	XID             string `json:"xid,omitempty"`
	Challenged      bool   `json:"challenged,omitempty"`
	ThreeDSType     string `json:"threeDSType,omitempty"`
}

// PaymentResultInfo is what the acquirer said about the card (docs/wire.md §5.4, seed 003).
type PaymentResultInfo struct {
	CardNo               string         `json:"cardNo,omitempty"`
	CardBrand            string         `json:"cardBrand,omitempty"`
	CardToken            string         `json:"cardToken,omitempty"`
	IssuingCountry       string         `json:"issuingCountry,omitempty"`
	Funding              string         `json:"funding,omitempty"`
	PaymentMethodRegion  string         `json:"paymentMethodRegion,omitempty"`
	ThreeDSResult        *ThreeDSResult `json:"threeDSResult,omitempty"`
	AVSResultRaw         string         `json:"avsResultRaw"`
	CVVResultRaw         string         `json:"cvvResultRaw"`
	NetworkTransactionID string         `json:"networkTransactionId,omitempty"`
	CardBin              string         `json:"cardBin,omitempty"`
	LastFour             string         `json:"lastFour,omitempty"`
	ExpiryMonth          string         `json:"expiryMonth,omitempty"`
	ExpiryYear           string         `json:"expiryYear,omitempty"`
	CardCategory         string         `json:"cardCategory,omitempty"`
	IssuerName           string         `json:"issuerName,omitempty"`
	HoldName             string         `json:"holdName,omitempty"`
	Fingerprint          string         `json:"fingerprint,omitempty"`
	RefusalCodeRaw       string         `json:"refusalCodeRaw,omitempty"`
	RefusalReasonRaw     string         `json:"refusalReasonRaw,omitempty"`
	AuthorizationCode    string         `json:"authorizationCode,omitempty"`
	CredentialTypeUsed   string         `json:"credentialTypeUsed,omitempty"`
	// CreditPayPlan is the installment plan the payment was made with, filled from the plan table.
	CreditPayPlan *CreditPayPlan `json:"creditPayPlan,omitempty"`
}

// CardInfo is the card summary of inquiryPayment and notifyPayment. The seeds put more into it
// than the SDK models declare (AVS/CVV results, networkTransactionId); extra fields are harmless.
type CardInfo struct {
	CardNo               string         `json:"cardNo,omitempty"`
	CardBrand            string         `json:"cardBrand,omitempty"`
	CardToken            string         `json:"cardToken,omitempty"`
	IssuingCountry       string         `json:"issuingCountry,omitempty"`
	Funding              string         `json:"funding,omitempty"`
	PaymentMethodRegion  string         `json:"paymentMethodRegion,omitempty"`
	ThreeDSResult        *ThreeDSResult `json:"threeDSResult,omitempty"`
	AVSResultRaw         string         `json:"avsResultRaw"`
	CVVResultRaw         string         `json:"cvvResultRaw"`
	NetworkTransactionID string         `json:"networkTransactionId,omitempty"`
}

// AcquirerInfo says which acquirer processed a payment (Antom Payment Orchestration, seed 003).
type AcquirerInfo struct {
	AcquirerName          string `json:"acquirerName,omitempty"`
	ReferenceRequestID    string `json:"referenceRequestId,omitempty"`
	AcquirerTransactionID string `json:"acquirerTransactionId,omitempty"`
	AcquirerMerchantID    string `json:"acquirerMerchantId,omitempty"`
	AcquirerResultCode    string `json:"acquirerResultCode,omitempty"`
	AcquirerResultMessage string `json:"acquirerResultMessage,omitempty"`
}

// PayResponse is the answer to pay.
type PayResponse struct {
	Result             Result              `json:"result"`
	PaymentRequestID   string              `json:"paymentRequestId,omitempty"`
	PaymentID          string              `json:"paymentId,omitempty"`
	PaymentAmount      *Amount             `json:"paymentAmount,omitempty"`
	PaymentCreateTime  string              `json:"paymentCreateTime,omitempty"`
	PaymentTime        string              `json:"paymentTime,omitempty"`
	AuthExpiryTime     string              `json:"authExpiryTime,omitempty"`
	NormalURL          string              `json:"normalUrl,omitempty"`
	RedirectActionForm *RedirectActionForm `json:"redirectActionForm,omitempty"`
	PaymentActionForm  string              `json:"paymentActionForm,omitempty"`
	PaymentResultInfo  *PaymentResultInfo  `json:"paymentResultInfo,omitempty"`
	AcquirerInfo       *AcquirerInfo       `json:"acquirerInfo,omitempty"`
}

// InquiryPaymentRequest asks for a payment by paymentId or paymentRequestId (paymentId wins).
type InquiryPaymentRequest struct {
	PaymentRequestID  string `json:"paymentRequestId,omitempty"`
	PaymentID         string `json:"paymentId,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
}

// Transaction is one capture, refund or cancel attached to a payment.
type Transaction struct {
	TransactionResult    *Result       `json:"transactionResult,omitempty"`
	TransactionID        string        `json:"transactionId,omitempty"`
	TransactionType      string        `json:"transactionType,omitempty"`
	TransactionStatus    string        `json:"transactionStatus,omitempty"`
	TransactionAmount    *Amount       `json:"transactionAmount,omitempty"`
	TransactionRequestID string        `json:"transactionRequestId,omitempty"`
	TransactionTime      string        `json:"transactionTime,omitempty"`
	AcquirerInfo         *AcquirerInfo `json:"acquirerInfo,omitempty"`
}

// InquiryPaymentResponse is the answer to inquiryPayment. Result says whether the query worked;
// the payment's own outcome is in PaymentStatus and PaymentResultCode.
type InquiryPaymentResponse struct {
	Result               Result              `json:"result"`
	PaymentStatus        string              `json:"paymentStatus,omitempty"`
	PaymentResultCode    string              `json:"paymentResultCode,omitempty"`
	PaymentResultMessage string              `json:"paymentResultMessage,omitempty"`
	PaymentRequestID     string              `json:"paymentRequestId,omitempty"`
	PaymentID            string              `json:"paymentId,omitempty"`
	PaymentAmount        *Amount             `json:"paymentAmount,omitempty"`
	ActualPaymentAmount  *Amount             `json:"actualPaymentAmount,omitempty"`
	PaymentCreateTime    string              `json:"paymentCreateTime,omitempty"`
	PaymentTime          string              `json:"paymentTime,omitempty"`
	AuthExpiryTime       string              `json:"authExpiryTime,omitempty"`
	PaymentMethodType    string              `json:"paymentMethodType,omitempty"`
	PaymentRedirectURL   string              `json:"paymentRedirectUrl,omitempty"`
	CardInfo             *CardInfo           `json:"cardInfo,omitempty"`
	PaymentResultInfo    *PaymentResultInfo  `json:"paymentResultInfo,omitempty"`
	Transactions         []Transaction       `json:"transactions,omitempty"`
	AcquirerInfo         *AcquirerInfo       `json:"acquirerInfo,omitempty"`
	AcquirerReferenceNo  string              `json:"acquirerReferenceNo,omitempty"`
	RedirectActionForm   *RedirectActionForm `json:"redirectActionForm,omitempty"`
}

// NotifyPayment is the body of a PAYMENT_RESULT notification.
type NotifyPayment struct {
	NotifyType          string             `json:"notifyType"`
	Result              Result             `json:"result"`
	PaymentRequestID    string             `json:"paymentRequestId"`
	PaymentID           string             `json:"paymentId"`
	PaymentAmount       *Amount            `json:"paymentAmount"`
	ActualPaymentAmount *Amount            `json:"actualPaymentAmount,omitempty"`
	PaymentCreateTime   string             `json:"paymentCreateTime"`
	PaymentTime         string             `json:"paymentTime,omitempty"`
	AuthExpiryTime      string             `json:"authExpiryTime,omitempty"`
	PaymentMethodType   string             `json:"paymentMethodType,omitempty"`
	CardInfo            *CardInfo          `json:"cardInfo,omitempty"`
	PaymentResultInfo   *PaymentResultInfo `json:"paymentResultInfo,omitempty"`
	AcquirerInfo        *AcquirerInfo      `json:"acquirerInfo,omitempty"`
	AcquirerReferenceNo string             `json:"acquirerReferenceNo,omitempty"`
}

// NotifyTypePaymentResult is notifyType of a payment's final result.
const NotifyTypePaymentResult = "PAYMENT_RESULT"

// ErrorResponse is the body of every answer that carries nothing but its result.
type ErrorResponse struct {
	Result Result `json:"result"`
}

// CaptureRequest captures an authorized payment (full amount only, seed 002).
type CaptureRequest struct {
	CaptureRequestID string  `json:"captureRequestId,omitempty"`
	PaymentID        string  `json:"paymentId,omitempty"`
	CaptureAmount    *Amount `json:"captureAmount,omitempty"`
	IsLastCapture    bool    `json:"isLastCapture,omitempty"`
}

// CaptureResponse answers capture.
type CaptureResponse struct {
	Result              Result        `json:"result"`
	CaptureRequestID    string        `json:"captureRequestId,omitempty"`
	CaptureID           string        `json:"captureId,omitempty"`
	PaymentID           string        `json:"paymentId,omitempty"`
	CaptureAmount       *Amount       `json:"captureAmount,omitempty"`
	CaptureTime         string        `json:"captureTime,omitempty"`
	AcquirerReferenceNo string        `json:"acquirerReferenceNo,omitempty"`
	AcquirerInfo        *AcquirerInfo `json:"acquirerInfo,omitempty"`
}

// CancelRequest voids a payment by paymentId or paymentRequestId (paymentId wins).
type CancelRequest struct {
	PaymentID         string `json:"paymentId,omitempty"`
	PaymentRequestID  string `json:"paymentRequestId,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
}

// CancelResponse answers cancel.
type CancelResponse struct {
	Result           Result `json:"result"`
	PaymentID        string `json:"paymentId,omitempty"`
	PaymentRequestID string `json:"paymentRequestId,omitempty"`
	CancelTime       string `json:"cancelTime,omitempty"`
}

// RefundRequest refunds part or all of a captured payment.
type RefundRequest struct {
	RefundRequestID   string  `json:"refundRequestId,omitempty"`
	PaymentID         string  `json:"paymentId,omitempty"`
	RefundAmount      *Amount `json:"refundAmount,omitempty"`
	ReferenceRefundID string  `json:"referenceRefundId,omitempty"`
	RefundReason      string  `json:"refundReason,omitempty"`
	RefundNotifyURL   string  `json:"refundNotifyUrl,omitempty"`
	CaptureID         string  `json:"captureId,omitempty"`
	Metadata          string  `json:"metadata,omitempty"`
}

// RefundResponse answers refund.
type RefundResponse struct {
	Result              Result        `json:"result"`
	RefundRequestID     string        `json:"refundRequestId,omitempty"`
	RefundID            string        `json:"refundId,omitempty"`
	PaymentID           string        `json:"paymentId,omitempty"`
	RefundAmount        *Amount       `json:"refundAmount,omitempty"`
	RefundTime          string        `json:"refundTime,omitempty"`
	ActualRefundAmount  *Amount       `json:"actualRefundAmount,omitempty"`
	AcquirerReferenceNo string        `json:"acquirerReferenceNo,omitempty"`
	AcquirerInfo        *AcquirerInfo `json:"acquirerInfo,omitempty"`
}

// InquiryRefundRequest asks for a refund by refundId or refundRequestId (refundId wins).
type InquiryRefundRequest struct {
	RefundRequestID   string `json:"refundRequestId,omitempty"`
	RefundID          string `json:"refundId,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
}

// InquiryRefundResponse answers inquiryRefund.
type InquiryRefundResponse struct {
	Result             Result        `json:"result"`
	RefundID           string        `json:"refundId,omitempty"`
	RefundRequestID    string        `json:"refundRequestId,omitempty"`
	RefundAmount       *Amount       `json:"refundAmount,omitempty"`
	RefundStatus       string        `json:"refundStatus,omitempty"`
	RefundTime         string        `json:"refundTime,omitempty"`
	ActualRefundAmount *Amount       `json:"actualRefundAmount,omitempty"`
	AcquirerInfo       *AcquirerInfo `json:"acquirerInfo,omitempty"`
}

// NotifyCapture is the body of a CAPTURE_RESULT notification (seed 002).
type NotifyCapture struct {
	NotifyType          string        `json:"notifyType"`
	Result              Result        `json:"result"`
	CaptureRequestID    string        `json:"captureRequestId"`
	PaymentID           string        `json:"paymentId"`
	CaptureID           string        `json:"captureId"`
	CaptureAmount       *Amount       `json:"captureAmount"`
	CaptureTime         string        `json:"captureTime,omitempty"`
	AcquirerReferenceNo string        `json:"acquirerReferenceNo,omitempty"`
	AcquirerInfo        *AcquirerInfo `json:"acquirerInfo,omitempty"`
}

// NotifyRefund is the body of a REFUND_RESULT notification.
type NotifyRefund struct {
	NotifyType         string  `json:"notifyType"`
	Result             Result  `json:"result"`
	RefundStatus       string  `json:"refundStatus"`
	RefundRequestID    string  `json:"refundRequestId"`
	RefundID           string  `json:"refundId"`
	PaymentID          string  `json:"paymentId"`
	RefundAmount       *Amount `json:"refundAmount"`
	RefundTime         string  `json:"refundTime,omitempty"`
	ActualRefundAmount *Amount `json:"actualRefundAmount,omitempty"`
}

// Notification types besides PAYMENT_RESULT.
const (
	NotifyTypeCaptureResult = "CAPTURE_RESULT"
	NotifyTypeRefundResult  = "REFUND_RESULT"
)

// Paths of cardgate's own calls, signed like API calls but not Antom APIs.
const (
	PathSandboxClockAdvance = "/sandbox/v1/clock/advance"
	PathSandboxForce        = "/sandbox/v1/force"
	PathSandboxReset        = "/sandbox/v1/reset"
)

// ForceRequest makes the merchant's next Count calls of Operation (pay, capture, refund) answer
// ResultCode whatever the card; Count absent is 1, 0 clears the operation's force. An empty
// Operation only lists the forces in effect.
type ForceRequest struct {
	Operation  string `json:"operation,omitempty"`
	ResultCode string `json:"resultCode,omitempty"`
	Count      *int   `json:"count,omitempty"`
}

// ForceResponse lists the merchant's forces in effect after the request.
type ForceResponse struct {
	Result Result  `json:"result"`
	Forces []Force `json:"forces"`
}

// Force is one forced result in effect.
type Force struct {
	Operation  string `json:"operation"`
	ResultCode string `json:"resultCode"`
	Remaining  int    `json:"remaining"`
}

// ResetRequest clears the merchant's test data; KeepClock leaves the sandbox clock where it is
// (it is shared by every merchant of the gateway).
type ResetRequest struct {
	KeepClock bool `json:"keepClock,omitempty"`
}

// ResetResponse says how many rows went from each table, and the sandbox time after the reset.
type ResetResponse struct {
	Result  Result           `json:"result"`
	Deleted map[string]int64 `json:"deleted"`
	Now     string           `json:"now"`
}

// ClockAdvanceRequest moves the sandbox clock: Go duration syntax plus a "d" suffix ("15m", "7d1m").
type ClockAdvanceRequest struct {
	Duration string `json:"duration"`
}

// ClockAdvanceResponse reports the sandbox clock after everything that became due has run.
type ClockAdvanceResponse struct {
	Result Result `json:"result"`
	Now    string `json:"now,omitempty"`
}

// cardgate's own calls (not Antom APIs), signed like API calls.
const (
	PathMerchantSettings    = "/cardgate/v1/merchant/settings"
	PathNotificationsList   = "/cardgate/v1/notifications/list"
	PathNotificationsResend = "/cardgate/v1/notifications/resend"
	PathRoutingGet          = "/cardgate/v1/routing/get"
	PathRoutingSet          = "/cardgate/v1/routing/set"
	PathReportTransactions  = "/cardgate/v1/reports/transactions"
	PathReportSettlement    = "/cardgate/v1/reports/settlement"
)

// ReportRequest asks for a day's report (docs/reports.md): Date is a UTC day of the gateway
// clock, YYYY-MM-DD, or "today"; Format is csv (the default) or json. The answer is the report
// itself, signed like every answer: CSV (text/csv) or a JSON object with the result first; a
// refusal is the usual {"result":…} (docs/design.md "Interfaces other tools rely on").
type ReportRequest struct {
	Date   string `json:"date,omitempty"`
	Format string `json:"format,omitempty"`
}

// MerchantSettingsRequest reads the merchant's settings, or changes those it names.
type MerchantSettingsRequest struct {
	// NotifyURL, when present, becomes the default notification URL ("" clears it).
	NotifyURL *string `json:"notifyUrl,omitempty"`
}

// MerchantSettingsResponse is the merchant's settings after the call.
type MerchantSettingsResponse struct {
	Result    Result `json:"result"`
	ClientID  string `json:"clientId,omitempty"`
	NotifyURL string `json:"notifyUrl"`
}

// RoutingRulesResponse answers routing/get and routing/set: the merchant's routing document in
// its canonical form (docs/design.md "Interfaces other tools rely on"), its fields beside the
// result. The document's own types live with the rules (internal/routing); here they stay raw
// JSON so the wire package needs nothing but the standard library.
type RoutingRulesResponse struct {
	Result  Result          `json:"result"`
	Rules   json.RawMessage `json:"rules,omitempty"`
	Default json.RawMessage `json:"default,omitempty"`
	// UpdatedAt is when the document was set; absent when the merchant never set one.
	UpdatedAt string `json:"updatedAt,omitempty"`
}

// NotificationsListRequest lists a payment's notifications.
type NotificationsListRequest struct {
	PaymentID string `json:"paymentId,omitempty"`
}

// NotificationAttempt is one delivery attempt.
type NotificationAttempt struct {
	Attempt    int    `json:"attempt"`
	Manual     bool   `json:"manual,omitempty"`
	Time       string `json:"time"`
	HTTPStatus int    `json:"httpStatus"`
	LatencyMS  int64  `json:"latencyMs"`
	Response   string `json:"response,omitempty"`
	Error      string `json:"error,omitempty"`
	Delivered  bool   `json:"delivered"`
}

// Notification is one notification with its delivery log.
type Notification struct {
	NotificationID string `json:"notificationId"`
	NotifyType     string `json:"notifyType"`
	URL            string `json:"url"`
	Status         string `json:"status"`
	// Attempts counts every attempt made, manual resends included; ScheduledAttempts those of
	// the retry schedule (at most 8: the notification fails after the 8th).
	Attempts          int                   `json:"attempts"`
	ScheduledAttempts int                   `json:"scheduledAttempts"`
	NextAttemptTime   string                `json:"nextAttemptTime,omitempty"`
	DeliveredTime     string                `json:"deliveredTime,omitempty"`
	CreatedTime       string                `json:"createdTime"`
	Body              string                `json:"body"`
	AttemptLog        []NotificationAttempt `json:"attemptLog"`
}

// NotificationsListResponse answers notifications/list.
type NotificationsListResponse struct {
	Result        Result         `json:"result"`
	Notifications []Notification `json:"notifications"`
}

// NotificationsResendRequest asks for one extra attempt of a notification.
type NotificationsResendRequest struct {
	NotificationID string `json:"notificationId,omitempty"`
}

// NotificationsResendResponse reports the extra attempt.
type NotificationsResendResponse struct {
	Result  Result               `json:"result"`
	Attempt *NotificationAttempt `json:"attempt,omitempty"`
}

// PathLogsTail lists the merchant's recent API calls (cardgate's own call).
const PathLogsTail = "/cardgate/v1/logs/tail"

// LogsTailRequest asks for the calls after a cursor ("" or "0": the last Limit calls).
type LogsTailRequest struct {
	After string `json:"after,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// LogsTailResponse lists calls oldest first; Next is the cursor of the following request.
type LogsTailResponse struct {
	Result Result    `json:"result"`
	Calls  []APICall `json:"calls"`
	Next   string    `json:"next"`
}

// APICall is one call of the merchant's.
type APICall struct {
	ID           string `json:"id"`
	Time         string `json:"time"`
	RequestID    string `json:"requestId"`
	Path         string `json:"path"`
	ResultCode   string `json:"resultCode"`
	ResultStatus string `json:"resultStatus"`
	LatencyMS    int64  `json:"latencyMs"`
}
