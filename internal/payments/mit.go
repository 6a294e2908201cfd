package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/protocol"
)

// The kinds of merchant-initiated payment (paymentMethodMetaData.mitType, cardgate's extension:
// seed 001 names "scheduled or unscheduled" MITs without a field; docs/wire.md §5.3).
const (
	MITScheduled   = "SCHEDULED"
	MITUnscheduled = "UNSCHEDULED"
	MITRecurring   = "RECURRING"
)

// maxNTI bounds networkTransactionId: the schemes' ids are 15 (Visa) to 22 characters; 64 leaves
// room for an upstream's own shape.
const maxNTI = 64

const (
	ntiPath     = metaPath + ".networkTransactionId"
	mitTypePath = metaPath + ".mitType"
)

// parseMIT reads a merchant-initiated payment: isCardOnFile true with a card or a saved card. No
// buyer is present, so it carries no CVV (seed 000: "do not pass in for COF scenarios") and no
// 3-D Secure; it names the customer-initiated payment it follows by that payment's
// networkTransactionId, which a token payment may leave to the token.
func parseMIT(pm *protocol.PaymentMethod, cmd *PayCommand) error {
	m := pm.PaymentMethodMetaData
	if m == nil {
		return nil
	}
	if !m.IsCardOnFile {
		switch {
		case m.MITType != "":
			return illegal(mitTypePath, "is only for a merchant-initiated payment (isCardOnFile true)")
		case m.NetworkTransactionID != "":
			return illegal(ntiPath, "is only for a merchant-initiated payment (isCardOnFile true)")
		}
		return nil
	}
	if pm.PaymentMethodID == "" && hostedRequest(m) {
		return illegal(metaPath+".isCardOnFile", "needs the card (cardNo) or a saved card (paymentMethod.paymentMethodId): a merchant-initiated payment has no buyer to enter one")
	}
	switch m.MITType {
	case "":
		cmd.MITType = MITUnscheduled
	case MITScheduled, MITUnscheduled, MITRecurring:
		cmd.MITType = m.MITType
	default:
		return illegal(mitTypePath, "must be SCHEDULED, UNSCHEDULED or RECURRING")
	}
	switch {
	case m.CVV != "":
		return illegal(metaPath+".cvv", "must not be sent with isCardOnFile true: a merchant-initiated payment carries no CVV")
	case m.Is3DSAuthentication:
		return illegal(metaPath+".is3DSAuthentication", "must not be true with isCardOnFile true: a merchant-initiated payment has no buyer to authenticate")
	case m.MPIData != nil:
		return illegal(metaPath+".mpiData", "must not be sent with isCardOnFile true: a merchant-initiated payment has no buyer to authenticate")
	case m.EnableAuthenticationUpgrade || m.EnableAuthenticationUpgrate:
		return illegal(metaPath+".enableAuthenticationUpgrade", "must not be true with isCardOnFile true: a merchant-initiated payment has no buyer to authenticate")
	}
	if m.NetworkTransactionID == "" && pm.PaymentMethodID == "" {
		return protocol.Errorf(protocol.CodeParamIllegal, "%s is required with isCardOnFile true and a card: the paymentResultInfo.networkTransactionId of the first payment", ntiPath)
	}
	if err := idField(ntiPath, m.NetworkTransactionID, maxNTI); err != nil {
		return err
	}
	cmd.MIT, cmd.CardOnFile, cmd.InitialNTI = true, true, m.NetworkTransactionID
	return nil
}

// unknownNTI is the one answer for a networkTransactionId that no successful payment of this
// merchant returned: unknown and another merchant's alike, so that neither can be told apart.
func unknownNTI() error {
	return illegal(ntiPath, "is not the networkTransactionId of a successful payment of this merchant")
}

// checkMIT checks, with the card known, that an MIT follows a successful payment of this
// merchant with the same card. A token's own id (the approval that saved it) stands in for an
// omitted networkTransactionId.
func (s *Service) checkMIT(ctx context.Context, m Merchant, cmd *PayCommand) error {
	if !cmd.MIT {
		return nil
	}
	if cmd.InitialNTI == "" {
		if cmd.tokenNTI == "" {
			return protocol.Errorf(protocol.CodeParamIllegal, "%s is required: this card token was saved before cardgate kept its first network transaction", ntiPath)
		}
		cmd.InitialNTI = cmd.tokenNTI
		return nil
	}
	first, err := s.store.PaymentByNetworkTransactionID(ctx, m.ID, cmd.InitialNTI)
	if errors.Is(err, ErrNotFound) {
		return unknownNTI()
	}
	if err != nil {
		return fmt.Errorf("pay: look up the first payment of an MIT: %w", err)
	}
	if first.Card.Fingerprint != card.Fingerprint(m.FingerprintKey, cmd.Card) {
		return illegal(ntiPath, "is the networkTransactionId of a payment with another card")
	}
	return nil
}
