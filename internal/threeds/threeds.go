// Package threeds is the sandbox's 3-D Secure server: it decides, per test card, whether the
// issuer wants a challenge, checks the code typed on the challenge page, and produces the
// authentication values (ECI, CAVV, directory-server transaction id) an authenticated payment
// carries. Like the acquirer simulator, it stands in for a party cardgate cannot reach.
package threeds

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/card"
)

// Version is the 3-D Secure protocol version the simulated directory server speaks.
const Version = "2.2.0"

// Code is the one challenge code the simulated issuer accepts (docs/design.md "The sandbox test cards").
const Code = "1234"

// Simulator is the simulated 3-D Secure server.
type Simulator struct{}

// Challenge reports whether the issuer wants the buyer challenged when 3DS is requested: every
// card does (seed 000) except the frictionless test card.
func (Simulator) Challenge(pan card.Number) bool {
	return simulator.BehaviourOf(pan).ThreeDS != simulator.ThreeDSFrictionless
}

// CheckCode checks the code the buyer typed.
func (Simulator) CheckCode(code string) bool { return code == Code }

// Result is what a successful authentication yields: an ECI of full authentication (Mastercard
// spells it 02, the other schemes 05), a CAVV and a directory-server transaction id.
func (Simulator) Result(brand string) (version, eci, cavv, dsTransactionID string) {
	eci = "05"
	if brand == string(card.Mastercard) || brand == string(card.Maestro) {
		eci = "02"
	}
	raw := make([]byte, 20)
	_, _ = rand.Read(raw)
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	ds := fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:])
	return Version, eci, base64.StdEncoding.EncodeToString(raw), ds
}
