package payments

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/installments"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// Consult answers consult (docs/wire.md §4.7): the payment options for an amount before the
// buyer chooses. cardgate has one option, CARD: the brands it takes, the funding it accepts and,
// when the currency has an installment plan whose minimum the amount meets, that plan. It reads
// no store: the answer depends on the request and the gateway's tables only. This form knows no
// merchant: a settlementCurrency is checked as a contract for every currency would take it, on
// the embedded rate table; the API calls Service.Consult.
func Consult(r *protocol.ConsultRequest) (protocol.ConsultResponse, error) {
	return consult(r, Merchant{}, SettlementConfig{})
}

// Consult is consult for merchant m: a settlementCurrency is judged as pay judges it, against m's
// contract and the gateway's rate table (SETTLE_CONTRACT_NOT_MATCH, CURRENCY_NOT_SUPPORT).
func (s *Service) Consult(m Merchant, r *protocol.ConsultRequest) (protocol.ConsultResponse, error) {
	return consult(r, m, s.cfg.Settlement)
}

func consult(r *protocol.ConsultRequest, m Merchant, settle SettlementConfig) (protocol.ConsultResponse, error) {
	if r.ProductCode == "" {
		return protocol.ConsultResponse{}, required("productCode")
	}
	if r.ProductCode != "CASHIER_PAYMENT" {
		return protocol.ConsultResponse{}, illegal("productCode", "%q is not supported; card payments use CASHIER_PAYMENT", r.ProductCode)
	}
	amount, err := parseAmount("paymentAmount", r.PaymentAmount)
	if err != nil {
		return protocol.ConsultResponse{}, err
	}
	for _, f := range []struct{ path, v string }{{"merchantRegion", r.MerchantRegion}, {"userRegion", r.UserRegion}, {"region", r.Region}} {
		if f.v != "" && !isRegion(f.v) {
			return protocol.ConsultResponse{}, illegal(f.path, "must be an ISO 3166 alpha-2 code such as SG")
		}
	}
	if env := r.Env; env != nil && env.TerminalType != "" && !terminalTypes[env.TerminalType] {
		return protocol.ConsultResponse{}, illegal("env.terminalType", "must be one of WEB, WAP, APP, MINI_APP")
	}
	if s := r.SettlementStrategy; s != nil && s.SettlementCurrency != "" {
		if _, ok := money.Lookup(s.SettlementCurrency); !ok {
			return protocol.ConsultResponse{}, protocol.Errorf(protocol.CodeCurrencyNotSupport, "settlementStrategy.settlementCurrency %q is not supported", s.SettlementCurrency)
		}
		if _, err := settle.settlementTerms(m, amount, s.SettlementCurrency); err != nil {
			return protocol.ConsultResponse{}, err
		}
	}
	for i, region := range r.AllowedPaymentMethodRegions {
		if region != "GLOBAL" && !isRegion(region) {
			return protocol.ConsultResponse{}, illegal(fmt.Sprintf("allowedPaymentMethodRegions[%d]", i), "must be GLOBAL or an ISO 3166 alpha-2 code")
		}
	}
	switch {
	case len(r.AllowedPaymentMethods) > 0 && !slices.Contains(r.AllowedPaymentMethods, "CARD"):
		return protocol.ConsultResponse{}, protocol.Errorf(protocol.CodeNoPayOptions, "allowedPaymentMethods does not include CARD, the only payment method cardgate offers")
	case slices.Contains(r.BlockedPaymentMethods, "CARD"):
		return protocol.ConsultResponse{}, protocol.Errorf(protocol.CodeNoPayOptions, "blockedPaymentMethods blocks CARD, the only payment method cardgate offers")
	case len(r.AllowedPaymentMethodRegions) > 0 && !slices.Contains(r.AllowedPaymentMethodRegions, "GLOBAL"):
		// Cards are a GLOBAL payment method; a merchant restricting itself to local methods of
		// some countries gets none from a card gateway.
		return protocol.ConsultResponse{}, protocol.Errorf(protocol.CodeNoPayOptions, "allowedPaymentMethodRegions does not include GLOBAL, the region of card payments")
	}

	brands := card.Brands()
	opt := protocol.PaymentOption{
		PaymentMethodType:     "CARD",
		PaymentMethodCategory: "CARD",
		PaymentMethodRegion:   []string{"GLOBAL"},
		Enabled:               true,
		Preferred:             true,
		// Every active ISO 4217 currency is accepted (docs/design.md "Currencies"); the answer
		// names the one consulted rather than listing some 150 codes.
		SupportedCurrencies: []string{amount.Currency.Code},
		PaymentOptionDetail: &protocol.PaymentOptionDetail{
			SupportCardBrands: supportBrands(brands),
			Funding:           []string{"CREDIT", "DEBIT", "PREPAID"},
		},
		Logo: &protocol.Logo{LogoName: "CARD", LogoURL: logoURL("CARD")},
	}
	if plan, ok := plans.ForCurrency(amount.Currency.Code); ok && amount.Minor >= plan.MinMinor {
		opt.Installment = installmentOf(plan, amount.Currency.Code)
	}
	return protocol.ConsultResponse{Result: protocol.SuccessResult(), PaymentOptions: []protocol.PaymentOption{opt}}, nil
}

func isRegion(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

func supportBrands(brands []card.Brand) []protocol.SupportCardBrand {
	out := make([]protocol.SupportCardBrand, len(brands))
	for i, b := range brands {
		out[i] = protocol.SupportCardBrand{CardBrand: string(b), Logo: &protocol.Logo{LogoName: string(b), LogoURL: logoURL(string(b))}}
	}
	return out
}

// installmentOf is a plan as consult shows it: one Plan per count, since the SDK's Plan carries
// one installmentNum.
func installmentOf(p installments.Plan, currency string) *protocol.Installment {
	in := &protocol.Installment{SupportCardBrands: supportBrands(p.Brands)}
	minAmt := &protocol.Amount{Currency: currency, Value: strconv.FormatInt(p.MinMinor, 10)}
	for _, n := range planCounts(p) {
		in.Plans = append(in.Plans, protocol.Plan{
			InstallmentNum:       n,
			Interval:             p.Interval,
			InterestRate:         p.InterestRate,
			MinInstallmentAmount: minAmt,
			Enabled:              true,
		})
	}
	return in
}

// logoURL is a brand's logo as a data: URL of a small SVG: a sandbox has no CDN and may run
// offline, and a data: URL shows in any <img> without one. The picture is the brand's name in a
// card outline, not the scheme's trademark artwork, which the gateway has no licence to ship.
func logoURL(name string) string {
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="40" viewBox="0 0 64 40">` +
		`<rect x="1" y="1" width="62" height="38" rx="5" fill="#fff" stroke="#333"/>` +
		`<text x="32" y="24" font-family="sans-serif" font-size="8" text-anchor="middle">` + name + `</text></svg>`
	return "data:image/svg+xml," + url.PathEscape(svg)
}
