package payments

import (
	"context"
	"slices"
	"strings"

	"github.com/cardgate/cardgate/internal/bin"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/protocol"
)

// parseCardFeatures reads the pay fields of the seeds' card features that need no store: the
// co-badged card's brand choice and the merchant-initiated payment's markers. What needs the
// card (a token's) or the store is checked by checkCardFeatures.
func parseCardFeatures(pm *protocol.PaymentMethod, cmd *PayCommand) error {
	if err := parseSelectedBrand(pm.PaymentMethodMetaData, cmd); err != nil {
		return err
	}
	return parseMIT(pm, cmd)
}

// checkCardFeatures checks, once the card is known (a token opened), the brand choice against
// the card and an MIT against the first payment it names. A hosted pay has no card yet: its
// buyer's card gets its domestic brand (paymentBrand).
func (s *Service) checkCardFeatures(ctx context.Context, m Merchant, cmd *PayCommand) error {
	if cmd.Hosted {
		return nil
	}
	if err := chooseBrand(cmd); err != nil {
		return err
	}
	return s.checkMIT(ctx, m, cmd)
}

const selectedBrandPath = metaPath + ".selectedCardBrand"

// parseSelectedBrand checks that selectedCardBrand names a brand at all; whether the card
// carries it is known only with the card (chooseBrand).
func parseSelectedBrand(m *protocol.CardMetaData, cmd *PayCommand) error {
	if m == nil || m.SelectedCardBrand == "" {
		return nil
	}
	b := card.Brand(m.SelectedCardBrand)
	if !slices.Contains(card.Brands(), b) {
		if err := idField(selectedBrandPath, m.SelectedCardBrand, 64); err != nil {
			return err // not echoed: it may be anything
		}
		return illegal(selectedBrandPath, "%q is not a card brand", m.SelectedCardBrand)
	}
	cmd.SelectedBrand = b
	return nil
}

// chooseBrand settles the brand the payment uses: the merchant's choice, which the card must
// carry (a co-badged card carries several, the BIN table knows which), or else the card's first
// brand, the domestic scheme of a co-badged card (seed 000's co-badged cards: the domestic
// network unless the buyer chooses).
func chooseBrand(cmd *PayCommand) error {
	info := bin.Lookup(cmd.Card)
	if cmd.SelectedBrand == "" {
		cmd.Brand = info.Brands[0]
		return nil
	}
	if !info.Carries(cmd.SelectedBrand) {
		names := make([]string, len(info.Brands))
		for i, b := range info.Brands {
			names[i] = string(b)
		}
		return illegal(selectedBrandPath, "%s is not a brand of this card, which carries %s", cmd.SelectedBrand, strings.Join(names, " and "))
	}
	cmd.Brand = cmd.SelectedBrand
	return nil
}

// paymentBrand is the brand a payment of cmd shows (cardBrand) and is routed by: the chosen one,
// or for a card entered on the hosted page its first brand in the BIN table.
func paymentBrand(cmd PayCommand) card.Brand {
	if cmd.Brand != "" {
		return cmd.Brand
	}
	if brands := bin.Lookup(cmd.Card).Brands; len(brands) > 0 {
		return brands[0]
	}
	return cmd.Card.Brand()
}
