package simulator_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/money"
)

// The shapes of seed 003's acquirerTransactionId samples, by acquirer.
var shapes = map[string]struct{ auth, op *regexp.Regexp }{
	"ALIPAY":   {regexp.MustCompile(`^20[0-9]{33}$`), regexp.MustCompile(`^20[0-9]{33}$`)},
	"ADYEN":    {regexp.MustCompile(`^[A-Z2-7]{16}$`), regexp.MustCompile(`^[A-Z2-7]{16}$`)},
	"CHECKOUT": {regexp.MustCompile(`^pay_[a-z2-7]{26}$`), regexp.MustCompile(`^act_[a-z2-7]{26}$`)},
}

func authReq(t *testing.T, pan string, attempt int) acquirer.AuthRequest {
	t.Helper()
	n, err := card.ParseNumber(pan)
	if err != nil {
		t.Fatal(err)
	}
	return acquirer.AuthRequest{PaymentID: "P-" + pan, MerchantID: "M", Amount: money.Amount{Currency: sgd, Minor: 4200},
		Card: n, CVV: "123", Attempt: attempt}
}

// TestProfilesIDsRoundTrip: every sandbox acquirer hands out ids of its own shape that still carry
// what it needs later: the timeout card settles, the delayed capture completes, the failing
// capture fails, on each of them.
func TestProfilesIDsRoundTrip(t *testing.T) {
	for _, p := range simulator.SandboxProfiles {
		t.Run(p.Name, func(t *testing.T) {
			ctx := context.Background()
			clk := clock.NewFixed(time.Date(2026, 5, 14, 11, 40, 0, 0, time.UTC))
			sim := simulator.NewProfile(p, clk)
			shape := shapes[p.Name]

			ok, err := sim.Authorize(ctx, authReq(t, "4054695723100768", 1))
			if err != nil || ok.Outcome != acquirer.Approved {
				t.Fatalf("approve: %+v %v", ok, err)
			}
			if ok.AcquirerName != p.Name || ok.AcquirerMerchantID != p.MerchantID || !shape.auth.MatchString(ok.AcquirerTransactionID) {
				t.Fatalf("approval names %s %s %q", ok.AcquirerName, ok.AcquirerMerchantID, ok.AcquirerTransactionID)
			}
			capt, err := sim.Capture(ctx, acquirer.CaptureRequest{PaymentID: "P", AcquirerTransactionID: ok.AcquirerTransactionID})
			if err != nil || capt.Status != acquirer.OpSucceeded || !shape.op.MatchString(capt.Reference) {
				t.Fatalf("capture: %+v %v", capt, err)
			}
			ref, err := sim.Refund(ctx, acquirer.RefundRequest{RefundID: "R", AcquirerTransactionID: ok.AcquirerTransactionID})
			if err != nil || ref.Status != acquirer.OpSucceeded || !shape.op.MatchString(ref.Reference) {
				t.Fatalf("refund: %+v %v", ref, err)
			}

			late, err := sim.Authorize(ctx, authReq(t, "4000000000000119", 1))
			if err != nil || late.Outcome != acquirer.Pending {
				t.Fatalf("timeout card: %+v %v", late, err)
			}
			if got, _ := sim.InquireAuthorization(ctx, late.AcquirerTransactionID); got.Outcome != acquirer.Pending {
				t.Fatalf("settled early: %+v", got)
			}
			clk.Advance(6 * time.Second)
			if got, err := sim.InquireAuthorization(ctx, late.AcquirerTransactionID); err != nil || got.Outcome != acquirer.Approved {
				t.Fatalf("did not settle: %+v %v", got, err)
			}

			for pan, want := range map[string]acquirer.OpStatus{"4000000000000036": acquirer.OpFailed, "4000000000000028": acquirer.OpPending} {
				a, err := sim.Authorize(ctx, authReq(t, pan, 1))
				if err != nil {
					t.Fatal(err)
				}
				c, err := sim.Capture(ctx, acquirer.CaptureRequest{PaymentID: "P", AcquirerTransactionID: a.AcquirerTransactionID})
				if err != nil || c.Status != want {
					t.Fatalf("%s capture: %+v %v, want %v", pan, c, err, want)
				}
				if want == acquirer.OpPending {
					clk.Advance(2 * time.Minute)
					if c, err := sim.InquireCapture(ctx, c.Reference); err != nil || c.Status != acquirer.OpSucceeded {
						t.Fatalf("delayed capture: %+v %v", c, err)
					}
				}
			}
			if _, err := sim.InquireAuthorization(ctx, "simauth_ok_0_1234567890123456"); err == nil {
				t.Error("another acquirer's id was understood")
			}
		})
	}
}

// TestFailoverCards: 0309 fails technically at the route's first acquirer only; 0317 everywhere;
// neither books an authorization when it fails (nothing is held).
func TestFailoverCards(t *testing.T) {
	ctx := context.Background()
	sim := simulator.NewProfile(simulator.Adyen, clock.NewFixed(time.Now()))
	for _, tc := range []struct {
		pan     string
		attempt int
		want    acquirer.Outcome
	}{
		{"4000000000000309", 1, acquirer.Unavailable},
		{"4000000000000309", 2, acquirer.Approved},
		{"4000000000000317", 1, acquirer.Unavailable},
		{"4000000000000317", 3, acquirer.Unavailable},
	} {
		req := authReq(t, tc.pan, tc.attempt)
		req.PaymentID += "-" + string(rune('0'+tc.attempt))
		res, err := sim.Authorize(ctx, req)
		if err != nil || res.Outcome != tc.want {
			t.Fatalf("%s attempt %d: %v %v, want %v", tc.pan, tc.attempt, res.Outcome, err, tc.want)
		}
		_, err = sim.InquireByReference(ctx, req.PaymentID)
		if booked := !errors.Is(err, acquirer.ErrNotFound); booked != (tc.want == acquirer.Approved) {
			t.Errorf("%s attempt %d: booked %v (%v)", tc.pan, tc.attempt, booked, err)
		}
	}
}

// FuzzProfileIDs: no id, however mangled, makes a sandbox acquirer panic or answer about a
// reference it never issued as if it had.
func FuzzProfileIDs(f *testing.F) {
	for _, s := range []string{"pay_aaaaaaaaaaaaaaaaaaaaaaaaaa", "act_77777777777777777777777777", "AAAAAAAAAAAAAAAA", "ZZZZZZZZZZZZZZZZ",
		"20260514999999999999999999999999999", "20260514059" + "0000000000000" + "00000000000", "pay_", ""} {
		f.Add(s)
	}
	clk := clock.NewFixed(time.Date(2026, 5, 14, 0, 0, 0, 0, time.UTC))
	sims := []*simulator.Simulator{}
	for _, p := range simulator.SandboxProfiles {
		sims = append(sims, simulator.NewProfile(p, clk))
	}
	f.Fuzz(func(t *testing.T, id string) {
		ctx := context.Background()
		for _, sim := range sims {
			res, err := sim.InquireAuthorization(ctx, id)
			if err == nil && res.AcquirerTransactionID != id {
				t.Fatalf("%s answered about %q as %q", sim.Name(), id, res.AcquirerTransactionID)
			}
			_, _ = sim.InquireCapture(ctx, id)
			_, _ = sim.Capture(ctx, acquirer.CaptureRequest{PaymentID: "P", AcquirerTransactionID: id})
		}
	})
}
