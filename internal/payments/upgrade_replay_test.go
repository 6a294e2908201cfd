package payments_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/threeds"
)

// xorVault stands in for the vault: these tests look at what the service stores and answers, not
// at the encryption.
type xorVault struct{}

func (xorVault) SealText(plaintext, aad []byte) (string, error) {
	return string(xor(plaintext)) + "|" + string(aad), nil
}

func (xorVault) OpenText(sealed string, aad []byte) ([]byte, error) {
	text, bound, ok := bytes.Cut([]byte(sealed), []byte("|"))
	if !ok || !bytes.Equal(bound, aad) {
		return nil, errors.New("xorVault: not sealed for this record")
	}
	return xor(text), nil
}

func xor(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ 0x5a
	}
	return out
}

// TestReplayOfAnUpgradedSoftDeclineKeepsItsPage: a soft decline that the merchant allowed to
// upgrade becomes a challenge after the payment exists; a replay of the pay must answer U with
// the same normalUrl (invariant 1), so the page's address must be stored with the change that
// opened it, and cleared with the authorization. Found by the simulation (internal/sim).
func TestReplayOfAnUpgradedSoftDeclineKeepsItsPage(t *testing.T) {
	h := newHarness(t)
	h.svc.With3DS(threeds.Simulator{}, xorVault{})
	ctx := context.Background()
	req := payRequest(t, "4000000000003063", "pay-upgrade", func(m jsonObj) { set(m, meta+".enableAuthenticationUpgrade", true) })
	first, err := h.svc.Pay(ctx, merchantA, req)
	if err != nil || !first.ChallengeOpen() || first.Order.NormalURL == "" {
		t.Fatalf("pay: %v, challenge open %v, normalUrl %q", err, first.ChallengeOpen(), first.Order.NormalURL)
	}
	again, err := h.svc.Pay(ctx, merchantA, req)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := payments.PayResponseOf(again).NormalURL, payments.PayResponseOf(first).NormalURL; got != want {
		t.Fatalf("the replay answered normalUrl %q, the pay %q", got, want)
	}

	done, err := h.svc.SubmitCode(ctx, first.ChallengeToken, threeds.Code)
	if err != nil || done.State != payments.StateSuccess {
		t.Fatalf("after the code: %v, %s", err, done.State)
	}
	stored, err := h.store.PaymentByID(ctx, merchantA.ID, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Order.NormalURL != "" || stored.SealedCard != "" {
		t.Fatalf("after the authorization the store keeps normalUrl %q, sealed card %q", stored.Order.NormalURL, stored.SealedCard)
	}
}
