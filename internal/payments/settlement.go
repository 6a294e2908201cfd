package payments

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cardgate/cardgate/internal/fx"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// SettlementConfig is how the gateway settles payments (docs/reports.md): the rate table a
// payment in another currency than its settlement currency is converted with, and the fees each
// capture pays (`serve --fx-rates`, `--fee-bps`, `--fee-fixed`). A payment records what applied
// when it was created; a change here never changes a payment made before.
type SettlementConfig struct {
	// Rates is the rate table (default fx.Default(), the embedded sandbox table).
	Rates *fx.Table
	// FeeBPS is a percentage of each captured amount in basis points (0 to 10000); FeeFixedMinor
	// a fixed amount per capture in minor units of the settlement currency. Default 0: no fee.
	FeeBPS        int64
	FeeFixedMinor int64
}

// MaxFeeBPS is 100%: a fee never takes more than the capture, but for the fixed part.
const MaxFeeBPS = 10000

// Check refuses fees out of range, naming the flag.
func (c SettlementConfig) Check() error {
	switch {
	case c.FeeBPS < 0 || c.FeeBPS > MaxFeeBPS:
		return fmt.Errorf("--fee-bps %d: want 0 to %d basis points", c.FeeBPS, MaxFeeBPS)
	case c.FeeFixedMinor < 0 || c.FeeFixedMinor > maxSettleMinor:
		return fmt.Errorf("--fee-fixed %d: want 0 to %d minor units", c.FeeFixedMinor, int64(maxSettleMinor))
	}
	return nil
}

// maxSettleMinor bounds a settlement amount as money bounds a payment's (16 digits), so that a
// line's fee and net, and the sum of a day's lines, stay far inside 64 bits.
const maxSettleMinor = 9999999999999999

const settlementPath = "settlementStrategy.settlementCurrency"

// settlementTerms decides what a new payment of amount settles on: the currency the merchant
// asked for (asked), which must be one it is contracted for, else SETTLE_CONTRACT_NOT_MATCH;
// without one, the payment's own currency when contracted, else the merchant's default (its
// first); the cross rate of the gateway's table, and the gateway's fees. Nothing is stored for a
// refused pay, so every refusal here comes before the payment exists.
func (c SettlementConfig) settlementTerms(m Merchant, amount money.Amount, asked string) (SettlementTerms, error) {
	code, err := settlementCurrency(m, amount.Currency.Code, asked)
	if err != nil {
		return SettlementTerms{}, err
	}
	rates := c.Rates
	if rates == nil {
		rates = fx.Default()
	}
	rate, err := rates.Cross(amount.Currency.Code, code)
	if errors.Is(err, fx.ErrNoRate) {
		path := "paymentAmount.currency"
		if asked != "" {
			path = settlementPath
		}
		return SettlementTerms{}, protocol.Errorf(protocol.CodeCurrencyNotSupport,
			"%s: %s cannot be settled in %s: %v (docs/fx.md)", path, amount.Currency.Code, code, strings.TrimPrefix(err.Error(), "fx: "))
	}
	if err != nil {
		return SettlementTerms{}, fmt.Errorf("settlement rate %s to %s: %w", amount.Currency.Code, code, err)
	}
	to, _ := money.Lookup(code) // a contracted or requested code is a known one
	settled, err := fx.Convert(amount.Minor, amount.Currency, to, rate)
	if err != nil || settled > maxSettleMinor {
		return SettlementTerms{}, illegal("paymentAmount.value", "is too large to settle in %s at %s", code, rate)
	}
	return SettlementTerms{Currency: code, Rate: rate.String(), FeeBPS: c.FeeBPS, FeeFixedMinor: c.FeeFixedMinor}, nil
}

// settlementCurrency applies the merchant's contract to the currency asked for (docs/wire.md
// §4.1 settlementStrategy).
func settlementCurrency(m Merchant, paid, asked string) (string, error) {
	contracted := func(code string) bool {
		return m.SettlementCurrencies == nil || slices.Contains(m.SettlementCurrencies, code)
	}
	switch {
	case m.SettlementCurrencies != nil && len(m.SettlementCurrencies) == 0:
		// The store refuses such a merchant; one here is a fault, not the merchant's request.
		return "", fmt.Errorf("merchant %s has no settlement currency", m.ID)
	case asked != "" && !contracted(asked):
		return "", protocol.Errorf(protocol.CodeSettleContractNotMatch, "%s %s is not a settlement currency of the merchant's contract (%s)",
			settlementPath, asked, strings.Join(m.SettlementCurrencies, ", "))
	case asked != "":
		return asked, nil
	case contracted(paid):
		return paid, nil
	}
	return m.SettlementCurrencies[0], nil
}
