package protocol

// Installments and consult (docs/wire.md §4.7, docs/installments.md). The types follow the Go
// SDK's models: CreditPayPlan's installmentNum and feePercentage are int32 there, so they go out
// as JSON numbers; a consult Plan's installmentNum is a string there, so it goes out as one.

// PathConsult is the consult API: the payment options for an amount, before the buyer chooses.
const PathConsult = "/v1/payments/consult"

// CreditPayPlan is a pay request's installment plan and, filled in, the answer's.
type CreditPayPlan struct {
	InstallmentNum   int32  `json:"installmentNum,omitempty"`
	Interval         string `json:"interval,omitempty"`
	CreditPayFeeType string `json:"creditPayFeeType,omitempty"`
	FeePercentage    int32  `json:"feePercentage"`
	InterestRate     string `json:"interestRate,omitempty"`
}

// ConsultRequest is the body of consult.
type ConsultRequest struct {
	ProductCode                 string              `json:"productCode,omitempty"`
	PaymentAmount               *Amount             `json:"paymentAmount,omitempty"`
	MerchantRegion              string              `json:"merchantRegion,omitempty"`
	UserRegion                  string              `json:"userRegion,omitempty"`
	AllowedPaymentMethodRegions []string            `json:"allowedPaymentMethodRegions,omitempty"`
	AllowedPaymentMethods       []string            `json:"allowedPaymentMethods,omitempty"`
	BlockedPaymentMethods       []string            `json:"blockedPaymentMethods,omitempty"`
	AllowedPspRegions           []string            `json:"allowedPspRegions,omitempty"`
	Region                      string              `json:"region,omitempty"`
	CustomerID                  string              `json:"customerId,omitempty"`
	ReferenceUserID             string              `json:"referenceUserId,omitempty"`
	Env                         *Env                `json:"env,omitempty"`
	PaymentFactor               *PaymentFactor      `json:"paymentFactor,omitempty"`
	SettlementStrategy          *SettlementStrategy `json:"settlementStrategy,omitempty"`
	Buyer                       *Buyer              `json:"buyer,omitempty"`
	MerchantAccountID           string              `json:"merchantAccountId,omitempty"`
	ExtendInfo                  string              `json:"extendInfo,omitempty"`
}

// ConsultResponse answers consult.
type ConsultResponse struct {
	Result         Result          `json:"result"`
	PaymentOptions []PaymentOption `json:"paymentOptions,omitempty"`
}

// PaymentOption is one way to pay. Enabled and Preferred are always written: a strict SDK reads
// an absent boolean as false, and an option that is offered must say so.
type PaymentOption struct {
	PaymentMethodType     string               `json:"paymentMethodType"`
	PaymentMethodCategory string               `json:"paymentMethodCategory"`
	PaymentMethodRegion   []string             `json:"paymentMethodRegion,omitempty"`
	Enabled               bool                 `json:"enabled"`
	Preferred             bool                 `json:"preferred"`
	DisableReason         string               `json:"disableReason,omitempty"`
	SupportedCurrencies   []string             `json:"supportedCurrencies,omitempty"`
	PaymentOptionDetail   *PaymentOptionDetail `json:"paymentOptionDetail,omitempty"`
	Logo                  *Logo                `json:"logo,omitempty"`
	Installment           *Installment         `json:"installment,omitempty"`
}

// PaymentOptionDetail is what a card option takes.
type PaymentOptionDetail struct {
	SupportCardBrands []SupportCardBrand `json:"supportCardBrands,omitempty"`
	Funding           []string           `json:"funding,omitempty"`
}

// SupportCardBrand is a card brand with its logo.
type SupportCardBrand struct {
	CardBrand string `json:"cardBrand"`
	Logo      *Logo  `json:"logo,omitempty"`
}

// Logo names an image.
type Logo struct {
	LogoName string `json:"logoName,omitempty"`
	LogoURL  string `json:"logoUrl,omitempty"`
}

// Installment is the installment plans an option offers for the consulted amount.
type Installment struct {
	SupportCardBrands []SupportCardBrand `json:"supportCardBrands,omitempty"`
	Plans             []Plan             `json:"plans,omitempty"`
}

// Plan is one installment count of a plan (the SDK's Plan: installmentNum is a string there).
type Plan struct {
	InterestRate         string  `json:"interestRate,omitempty"`
	MinInstallmentAmount *Amount `json:"minInstallmentAmount,omitempty"`
	InstallmentNum       string  `json:"installmentNum"`
	Interval             string  `json:"interval,omitempty"`
	Enabled              bool    `json:"enabled"`
}
