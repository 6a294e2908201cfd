package simulator_test

import (
	"context"
	"errors"
	"github.com/cardgate/cardgate/internal/bin"
	"regexp"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// designCard is one row of docs/design.md "The sandbox test cards", written out here independently of
// the simulator's own map so that a change to either is caught.
type designCard struct {
	pan     string
	brand   card.Brand
	outcome acquirer.Outcome // without 3-D Secure
	decline protocol.Code
	avs     string // forced raw AVS; "" = from the billing address
	cvv     string // forced raw CVV; "" = from the CVV presence

	threeDS      simulator.ThreeDSBehaviour
	settleAfter  time.Duration
	captureFails bool
	captureDelay time.Duration
	disputeAfter time.Duration // a chargeback this long after capture
	defenseWins  bool          // the chargeback's defense wins
	hold         time.Duration
	transit      time.Duration
	failFirst    bool // the route's first acquirer fails technically
	loseFirst    bool // the route's first acquirer books it and loses the answer
}

var designCards = []designCard{
	{pan: "4054695723100768", brand: card.Visa, outcome: acquirer.Approved},
	{pan: "4117347806156383", brand: card.Visa, outcome: acquirer.Approved},
	{pan: "4242424242424242", brand: card.Visa, outcome: acquirer.Approved},
	{pan: "5555555555554444", brand: card.Mastercard, outcome: acquirer.Approved},
	{pan: "378282246310005", brand: card.Amex, outcome: acquirer.Approved},
	{pan: "3566002020360505", brand: card.JCB, outcome: acquirer.Approved},
	{pan: "6011111111111117", brand: card.Discover, outcome: acquirer.Approved},
	{pan: "36227206271667", brand: card.Diners, outcome: acquirer.Approved},
	{pan: "6200000000000005", brand: card.CUP, outcome: acquirer.Approved},
	{pan: "4000000000000002", brand: card.Visa, outcome: acquirer.Declined, decline: protocol.CodeDoNotHonor},
	{pan: "4000000000009995", brand: card.Visa, outcome: acquirer.Declined, decline: protocol.CodeUserBalanceNotEnough},
	{pan: "4000000000000069", brand: card.Visa, outcome: acquirer.Declined, decline: protocol.CodeCardExpired},
	{pan: "4000000000000127", brand: card.Visa, outcome: acquirer.Declined, decline: protocol.CodeInvalidCVV, cvv: "N"},
	{pan: "4000000000009987", brand: card.Visa, outcome: acquirer.Declined, decline: protocol.CodeSuspectedCard},
	{pan: "4100000000000019", brand: card.Visa, outcome: acquirer.Declined, decline: protocol.CodeRiskReject},
	{pan: "4000000000000010", brand: card.Visa, outcome: acquirer.Approved, avs: "N"},
	{pan: "4000000000000119", brand: card.Visa, outcome: acquirer.Pending, settleAfter: 5 * time.Second},
	{pan: "4000002760003184", brand: card.Visa, outcome: acquirer.Approved, threeDS: simulator.ThreeDSChallenge},
	{pan: "4000000000003220", brand: card.Visa, outcome: acquirer.Approved, threeDS: simulator.ThreeDSFrictionless},
	{pan: "4000008400001629", brand: card.Visa, outcome: acquirer.Declined, decline: protocol.CodeDoNotHonor, threeDS: simulator.ThreeDSChallenge},
	{pan: "4000000000003063", brand: card.Visa, outcome: acquirer.Declined, decline: protocol.CodeAuthenticationRequired, threeDS: simulator.ThreeDSSoftDecline},
	{pan: "4000000000000259", brand: card.Visa, outcome: acquirer.Approved, disputeAfter: 24 * time.Hour, defenseWins: true},
	{pan: "4000000000000416", brand: card.Visa, outcome: acquirer.Approved, disputeAfter: 24 * time.Hour},
	{pan: "4000000000000036", brand: card.Visa, outcome: acquirer.Approved, captureFails: true},
	{pan: "4000000000000028", brand: card.Visa, outcome: acquirer.Approved, captureDelay: time.Minute},
	{pan: "4000000000000044", brand: card.Visa, outcome: acquirer.NoAnswer},
	{pan: "4000000000000077", brand: card.Visa, outcome: acquirer.Approved, hold: 2 * time.Second},
	{pan: "4000000000000085", brand: card.Visa, outcome: acquirer.Approved, transit: 2 * time.Second},
	{pan: "4000000000000309", brand: card.Visa, outcome: acquirer.Approved, failFirst: true},
	{pan: "4000000000000317", brand: card.Visa, outcome: acquirer.Unavailable},
	{pan: "4000000000000325", brand: card.Visa, outcome: acquirer.Approved, loseFirst: true},
}

var (
	digits6  = regexp.MustCompile(`^[0-9]{6}$`)
	digits15 = regexp.MustCompile(`^[0-9]{15}$`)
	// "sim<kind>_<scenario>_<ready unix ms>_<16 random digits>": the simulator keeps no state, so
	// its references carry what it needs to answer about them later.
	simTxnID  = regexp.MustCompile(`^simauth_(ok|cf|cd|to|na)_[0-9]+_[0-9]{16}$`)
	sgd, _    = money.Lookup("SGD")
	futureExp = card.Expiry{Year: time.Now().Year() + 3, Month: 12}
)

func mustCard(t *testing.T, pan string) card.Number {
	t.Helper()
	n, err := card.ParseNumber(pan)
	if err != nil {
		t.Fatalf("ParseNumber(%s): %v", pan, err)
	}
	return n
}

func authRequest(n card.Number, cvv string, billing bool) acquirer.AuthRequest {
	return acquirer.AuthRequest{
		PaymentID:  "2026051500000000000000000000000001",
		MerchantID: "m1",
		Amount:     money.Amount{Currency: sgd, Minor: 4200},
		Card:       n,
		Expiry:     futureExp,
		CVV:        cvv,
		HolderName: "Tom Jay",
		AVSPresent: billing,
	}
}

func TestDesignTableMatchesSimulator(t *testing.T) {
	listed := map[string]bool{}
	for _, c := range designCards {
		listed[c.pan] = true
		n := mustCard(t, c.pan)
		if n.Brand() != c.brand {
			t.Errorf("%s: brand %s, design says %s", c.pan, n.Brand(), c.brand)
		}
		got := simulator.BehaviourOf(n)
		want := simulator.Behaviour{
			Outcome: c.outcome, DeclineCode: c.decline, AVS: c.avs, CVV: c.cvv,
			SettleAfter: c.settleAfter, ThreeDS: c.threeDS,
			CaptureFails: c.captureFails, CaptureDelay: c.captureDelay,
			Hold: c.hold, Transit: c.transit, FailFirst: c.failFirst, LoseFirst: c.loseFirst,
		}
		// The chargeback's reason is the simulator's to word; its timing and outcome are the design's.
		if cb := got.Chargeback; cb != nil {
			if c.disputeAfter != cb.After || c.defenseWins != cb.DefenseWins || cb.ReasonCode == "" {
				t.Errorf("%s: chargeback %+v, design says after %s, defense wins %v", c.pan, *cb, c.disputeAfter, c.defenseWins)
			}
			got.Chargeback = nil
		} else if c.disputeAfter != 0 {
			t.Errorf("%s: no chargeback, design says one %s after capture", c.pan, c.disputeAfter)
		}
		if got != want {
			t.Errorf("%s: behaviour %+v, design says %+v", c.pan, got, want)
		}
	}
	for pan := range simulator.Cards {
		if !listed[pan] {
			t.Errorf("simulator card %s is not in docs/design.md's table", pan)
		}
	}
}

func TestAuthorizeDesignCards(t *testing.T) {
	sim := simulator.New("SIMULATOR", clock.Wall{})
	for _, c := range designCards {
		for _, withData := range []bool{true, false} {
			name := c.pan + "/without-cvv-and-address"
			if withData {
				name = c.pan + "/with-cvv-and-address"
			}
			t.Run(name, func(t *testing.T) {
				n := mustCard(t, c.pan)
				cvv := ""
				if withData {
					cvv = "123"
					if n.Brand() == card.Amex {
						cvv = "1234"
					}
				}
				req := authRequest(n, cvv, withData)
				if c.failFirst || c.loseFirst {
					req.Attempt = 2 // the card's outcome at the route's second acquirer
				}
				res, err := sim.Authorize(context.Background(), req)
				if err != nil {
					t.Fatalf("Authorize: %v", err)
				}
				if res.Outcome != c.outcome {
					t.Fatalf("Outcome = %s, want %s", res.Outcome, c.outcome)
				}
				if res.AcquirerName != "SIMULATOR" || res.AcquirerMerchantID == "" {
					t.Errorf("acquirer name %q, merchant %q", res.AcquirerName, res.AcquirerMerchantID)
				}
				if c.outcome == acquirer.Unavailable {
					// Refused before processing: no reference, no card facts, a technical code.
					if res.AcquirerTransactionID != "" || res.NetworkTransactionID != "" || res.DeclineCode != protocol.CodeProcessFail {
						t.Errorf("a technical failure reports a processed authorization: %+v", res)
					}
					return
				}
				if !simTxnID.MatchString(res.AcquirerTransactionID) {
					t.Errorf("AcquirerTransactionID = %q", res.AcquirerTransactionID)
				}
				// The card's facts are the BIN table's (internal/bin tests the table itself).
				if want := bin.Lookup(n); res.IssuingCountry != want.Country || res.IssuerName != want.Issuer ||
					res.Funding != want.Funding || res.Category != want.Category {
					t.Errorf("card facts %q %q %q %q, want the BIN table's %+v", res.IssuingCountry, res.IssuerName, res.Funding, res.Category, want)
				}

				if c.outcome == acquirer.Pending || c.outcome == acquirer.NoAnswer {
					// No answer yet: nothing about the checks or the network is known.
					if res.AVSResult != "" || res.CVVResult != "" || res.NetworkTransactionID != "" ||
						res.AuthorizationCode != "" || res.DeclineCode != "" || res.AcquirerResultCode != "" {
						t.Errorf("an unanswered authorization reports results: %+v", res)
					}
					return
				}

				wantAVS, wantCVV := "U", "U"
				if withData {
					wantAVS, wantCVV = "Y", "Y"
				}
				if c.avs != "" {
					wantAVS = c.avs
				}
				if c.cvv != "" {
					wantCVV = c.cvv
				}
				if res.AVSResult != wantAVS {
					t.Errorf("AVSResult = %q, want %q", res.AVSResult, wantAVS)
				}
				if res.CVVResult != wantCVV {
					t.Errorf("CVVResult = %q, want %q", res.CVVResult, wantCVV)
				}
				if !digits15.MatchString(res.NetworkTransactionID) {
					t.Errorf("NetworkTransactionID = %q", res.NetworkTransactionID)
				}

				switch c.outcome {
				case acquirer.Approved:
					if res.DeclineCode != "" || res.DeclineMsg != "" || res.RefusalCodeRaw != "" {
						t.Errorf("approved with decline data: %+v", res)
					}
					if !digits6.MatchString(res.AuthorizationCode) {
						t.Errorf("AuthorizationCode = %q", res.AuthorizationCode)
					}
					if res.AcquirerResultCode != "SUCCESS" {
						t.Errorf("AcquirerResultCode = %q", res.AcquirerResultCode)
					}
				case acquirer.Declined:
					if res.DeclineCode != c.decline {
						t.Errorf("DeclineCode = %q, want %q", res.DeclineCode, c.decline)
					}
					if res.DeclineCode.Status() != protocol.StatusFail {
						t.Errorf("decline code %s has status %s", res.DeclineCode, res.DeclineCode.Status())
					}
					if res.DeclineMsg == "" || res.RefusalReasonRaw != res.DeclineMsg {
						t.Errorf("DeclineMsg %q, RefusalReasonRaw %q", res.DeclineMsg, res.RefusalReasonRaw)
					}
					if res.RefusalCodeRaw != string(c.decline) || res.AcquirerResultCode != string(c.decline) {
						t.Errorf("RefusalCodeRaw %q, AcquirerResultCode %q", res.RefusalCodeRaw, res.AcquirerResultCode)
					}
					if res.AuthorizationCode != "" {
						t.Errorf("declined with an authorization code %q", res.AuthorizationCode)
					}
				}
			})
		}
	}
}

func TestAuthorizeUnlistedCardIsApproved(t *testing.T) {
	sim := simulator.New("SIMULATOR", clock.Wall{})
	for _, pan := range []string{"4111111111111111", "4012888888881881", "5105105105105100", "371449635398431", "2223003122003222"} {
		if _, listed := simulator.Cards[pan]; listed {
			t.Fatalf("%s is a listed card; pick another", pan)
		}
		n := mustCard(t, pan)
		if b := simulator.BehaviourOf(n); b != (simulator.Behaviour{Outcome: acquirer.Approved}) {
			t.Errorf("%s: BehaviourOf = %+v, want plain approval", pan, b)
		}
		res, err := sim.Authorize(context.Background(), authRequest(n, "", false))
		if err != nil {
			t.Fatalf("%s: %v", pan, err)
		}
		if res.Outcome != acquirer.Approved || res.AVSResult != "U" || res.CVVResult != "U" {
			t.Errorf("%s: %s, AVS %q, CVV %q; want approved, U, U", pan, res.Outcome, res.AVSResult, res.CVVResult)
		}
	}
}

func TestAuthorizeIdsAreFresh(t *testing.T) {
	sim := simulator.New("SIMULATOR", clock.Wall{})
	n := mustCard(t, "4242424242424242")
	seen := map[string]bool{}
	for range 50 {
		res, err := sim.Authorize(context.Background(), authRequest(n, "123", true))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{res.AcquirerTransactionID, res.NetworkTransactionID} {
			if seen[id] {
				t.Fatalf("id %s repeated", id)
			}
			seen[id] = true
		}
	}
}

func TestAuthorizeHonoursContext(t *testing.T) {
	sim := simulator.New("SIMULATOR", clock.Wall{})
	n := mustCard(t, "4242424242424242")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sim.Authorize(ctx, authRequest(n, "123", true)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := sim.Authorize(ctx, authRequest(n, "123", true)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired context: error = %v, want context.DeadlineExceeded", err)
	}
}

func TestName(t *testing.T) {
	var a acquirer.Acquirer = simulator.New("ACME", clock.Wall{})
	if a.Name() != "ACME" {
		t.Errorf("Name() = %q", a.Name())
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[acquirer.Outcome]string{
		acquirer.Approved: "approved", acquirer.Declined: "declined", acquirer.Pending: "pending",
		acquirer.NoAnswer: "no-answer", 0: "unknown",
	} {
		if o.String() != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), o.String(), want)
		}
	}
}
