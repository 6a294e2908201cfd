package payments_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/fx"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

const settleRates = "currency,rate\nUSD,1\nEUR,0.92\nSGD,1.35\nJPY,150\n"

// settleEnv is newEnv with a rate table and fees, and the merchant contracted for contract.
func settleEnv(t *testing.T, contract []string) *env {
	t.Helper()
	e := newEnv(t)
	rates, err := fx.Parse(strings.NewReader(settleRates))
	if err != nil {
		t.Fatal(err)
	}
	e.svc = payments.NewService(e.st, simulator.New("SIM", e.clk), e.clk, slog.New(slog.DiscardHandler), payments.Config{
		Settlement: payments.SettlementConfig{Rates: rates, FeeBPS: 150, FeeFixedMinor: 30},
	})
	e.m.SettlementCurrencies = contract
	return e
}

func (e *env) payments(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.raw.QueryRow(context.Background(), `SELECT count(*) FROM payments`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// settlePay is an approved card's pay of amount in currency, asking for settle ("" for none).
func settlePay(t *testing.T, requestID, currency, value, settle string) *protocol.PayRequest {
	t.Helper()
	req := samplePayRequest(t, "4242424242424242", requestID, payments.CaptureAutomatic)
	req.PaymentAmount = &protocol.Amount{Currency: currency, Value: value}
	req.Order.OrderAmount = req.PaymentAmount
	if settle != "" {
		req.SettlementStrategy = &protocol.SettlementStrategy{SettlementCurrency: settle}
	}
	return req
}

// TestSettlementTerms: a pay settles in the currency it asks for when the merchant's contract has
// it, else is refused SETTLE_CONTRACT_NOT_MATCH naming the currency and the contract with nothing
// stored; without one it settles in its own currency when contracted, else in the merchant's
// default; the cross rate and the fees in force are recorded with it.
func TestSettlementTerms(t *testing.T) {
	usdEUR := []string{"USD", "EUR"}
	for _, tc := range []struct {
		name     string
		contract []string
		currency string
		value    string
		settle   string
		want     payments.SettlementTerms
		code     protocol.Code
		message  string
	}{
		{name: "own currency contracted", contract: usdEUR, currency: "EUR", value: "1000",
			want: payments.SettlementTerms{Currency: "EUR", Rate: "1", FeeBPS: 150, FeeFixedMinor: 30}},
		{name: "not contracted: the default", contract: usdEUR, currency: "SGD", value: "4200",
			want: payments.SettlementTerms{Currency: "USD", Rate: "0.74074074074074074074", FeeBPS: 150, FeeFixedMinor: 30}},
		{name: "asked for and contracted", contract: usdEUR, currency: "JPY", value: "15000", settle: "EUR",
			want: payments.SettlementTerms{Currency: "EUR", Rate: "0.00613333333333333333", FeeBPS: 150, FeeFixedMinor: 30}},
		{name: "asked for its own currency", contract: usdEUR, currency: "USD", value: "100", settle: "USD",
			want: payments.SettlementTerms{Currency: "USD", Rate: "1", FeeBPS: 150, FeeFixedMinor: 30}},
		{name: "every currency contracted", contract: nil, currency: "MNT", value: "100",
			want: payments.SettlementTerms{Currency: "MNT", Rate: "1", FeeBPS: 150, FeeFixedMinor: 30}},
		{name: "asked for, not contracted", contract: usdEUR, currency: "USD", value: "100", settle: "GBP",
			code: protocol.CodeSettleContractNotMatch, message: "settlementStrategy.settlementCurrency GBP is not a settlement currency of the merchant's contract (USD, EUR)"},
		{name: "asked for, not contracted, same as paid", contract: []string{"EUR"}, currency: "USD", value: "100", settle: "USD",
			code: protocol.CodeSettleContractNotMatch, message: "(EUR)"},
		{name: "unknown code", contract: usdEUR, currency: "USD", value: "100", settle: "XAU",
			code: protocol.CodeCurrencyNotSupport, message: `"XAU" is not supported`},
		{name: "no rate for the payment's currency", contract: usdEUR, currency: "MNT", value: "100",
			code: protocol.CodeCurrencyNotSupport, message: "paymentAmount.currency: MNT cannot be settled in USD: no rate: the rate table has no MNT"},
		{name: "no rate for the asked currency", contract: nil, currency: "USD", value: "100", settle: "MNT",
			code: protocol.CodeCurrencyNotSupport, message: "settlementStrategy.settlementCurrency: USD cannot be settled in MNT"},
		{name: "the largest amount, converted down", contract: []string{"USD"}, currency: "JPY", value: "9999999999999999",
			want: payments.SettlementTerms{Currency: "USD", Rate: "0.00666666666666666667", FeeBPS: 150, FeeFixedMinor: 30}},
		{name: "too large once converted", contract: []string{"JPY"}, currency: "USD", value: "9999999999999999",
			code: protocol.CodeParamIllegal, message: "paymentAmount.value is too large to settle in JPY at 150"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := settleEnv(t, tc.contract)
			p, err := e.svc.Pay(context.Background(), e.m, settlePay(t, "settle-1", tc.currency, tc.value, tc.settle))
			if tc.code != "" {
				var pe *protocol.Error
				if !errors.As(err, &pe) || pe.Code != tc.code || !strings.Contains(pe.Message, tc.message) {
					t.Fatalf("pay: %v, want %s containing %q", err, tc.code, tc.message)
				}
				if n := e.payments(t); n != 0 {
					t.Fatalf("a refused pay stored %d payments", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Settlement != tc.want {
				t.Fatalf("terms %+v, want %+v", p.Settlement, tc.want)
			}
			stored, err := e.st.PaymentByID(context.Background(), e.m.ID, p.ID)
			if err != nil || stored.Settlement != tc.want {
				t.Fatalf("stored terms %+v (%v), want %+v", stored.Settlement, err, tc.want)
			}
		})
	}
}

// TestSettlementTermsAreKept: a replay answers the payment as it was made, with its terms, even
// after the merchant's contract and the gateway's fees changed: the terms are the payment's.
func TestSettlementTermsAreKept(t *testing.T) {
	e := settleEnv(t, []string{"USD"})
	req := settlePay(t, "settle-kept", "SGD", "4200", "")
	p, err := e.svc.Pay(context.Background(), e.m, req)
	if err != nil {
		t.Fatal(err)
	}
	e.m.SettlementCurrencies = []string{"EUR"}
	e.svc = payments.NewService(e.st, simulator.New("SIM", e.clk), e.clk, slog.New(slog.DiscardHandler), payments.Config{
		Settlement: payments.SettlementConfig{FeeBPS: 900},
	})
	again, err := e.svc.Pay(context.Background(), e.m, settlePay(t, "settle-kept", "SGD", "4200", ""))
	if err != nil || again.ID != p.ID || again.Settlement != p.Settlement {
		t.Fatalf("replay: %+v, %v; want payment %s with %+v", again.Settlement, err, p.ID, p.Settlement)
	}
	// The capture that followed the approval changed the payment; its terms stayed.
	stored, err := e.st.PaymentByID(context.Background(), e.m.ID, p.ID)
	if err != nil || stored.Stage() != payments.StageCaptured || stored.Settlement.Currency != "USD" {
		t.Fatalf("stored %s %+v, %v", stored.Stage(), stored.Settlement, err)
	}
}

// TestConsultSettlement: consult judges a settlementCurrency against the merchant's contract and
// the rate table as pay does; without a merchant (payments.Consult) every currency is contracted.
func TestConsultSettlement(t *testing.T) {
	e := settleEnv(t, []string{"USD", "EUR"})
	consult := func(currency, settle string) (protocol.ConsultResponse, error) {
		return e.svc.Consult(e.m, &protocol.ConsultRequest{ProductCode: "CASHIER_PAYMENT",
			PaymentAmount:      &protocol.Amount{Currency: currency, Value: "10000"},
			SettlementStrategy: &protocol.SettlementStrategy{SettlementCurrency: settle}})
	}
	if r, err := consult("SGD", "EUR"); err != nil || r.Result.ResultStatus != "S" {
		t.Fatalf("contracted: %+v, %v", r.Result, err)
	}
	for _, tc := range []struct {
		currency, settle string
		code             protocol.Code
	}{
		{"SGD", "GBP", protocol.CodeSettleContractNotMatch},
		{"MNT", "USD", protocol.CodeCurrencyNotSupport},
	} {
		_, err := consult(tc.currency, tc.settle)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != tc.code || !strings.Contains(pe.Message, tc.settle) {
			t.Errorf("consult %s settled in %s: %v, want %s naming %s", tc.currency, tc.settle, err, tc.code, tc.settle)
		}
	}
	if r, err := payments.Consult(&protocol.ConsultRequest{ProductCode: "CASHIER_PAYMENT",
		PaymentAmount:      &protocol.Amount{Currency: "SGD", Value: "10000"},
		SettlementStrategy: &protocol.SettlementStrategy{SettlementCurrency: "GBP"}}); err != nil || r.Result.ResultStatus != "S" {
		t.Fatalf("payments.Consult knows no contract: %+v, %v", r.Result, err)
	}
}
