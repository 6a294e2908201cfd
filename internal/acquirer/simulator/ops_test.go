package simulator_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

var (
	simCapID = regexp.MustCompile(`^simcap_(ok|cf|cd|to|na)_[0-9]+_[0-9]{16}$`)
	simRefID = regexp.MustCompile(`^simref_ok_0_[0-9]{16}$`)
	simStart = time.Date(2026, time.May, 15, 12, 0, 0, 0, time.UTC)
)

// authorize runs Authorize for pan on sim and returns the answer.
func authorize(t *testing.T, sim *simulator.Simulator, pan string) acquirer.AuthResult {
	t.Helper()
	res, err := sim.Authorize(context.Background(), authRequest(mustCard(t, pan), "123", false))
	if err != nil {
		t.Fatalf("Authorize(%s): %v", pan, err)
	}
	return res
}

// refParts splits a reference into its four parts.
func refParts(t *testing.T, ref string) (kind, scenario string, ready int64) {
	t.Helper()
	parts := strings.Split(ref, "_")
	if len(parts) != 4 {
		t.Fatalf("reference %q has %d parts, want 4", ref, len(parts))
	}
	ms, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		t.Fatalf("reference %q: ready time: %v", ref, err)
	}
	return parts[0], parts[1], ms
}

// TestReferenceScenarios: the scenario in each authorization reference is the card's, and only
// the timeout card carries a ready time (the request time + 5 s on the injected clock).
func TestReferenceScenarios(t *testing.T) {
	clk := clock.NewFixed(simStart)
	sim := simulator.New("SIMULATOR", clk)
	for _, c := range designCards {
		if c.outcome == acquirer.Unavailable || c.failFirst || c.loseFirst {
			continue // no reference from a technical failure; 0309's is an approval's at attempt 2
		}
		res := authorize(t, sim, c.pan)
		kind, scenario, ready := refParts(t, res.AcquirerTransactionID)
		want := "ok"
		switch {
		case c.outcome == acquirer.Pending:
			want = "to"
		case c.outcome == acquirer.NoAnswer:
			want = "na"
		case c.captureFails:
			want = "cf"
		case c.captureDelay > 0:
			want = "cd"
		}
		if kind != "simauth" || scenario != want {
			t.Errorf("%s: reference %q, want kind simauth, scenario %s", c.pan, res.AcquirerTransactionID, want)
		}
		wantReady := int64(0)
		if c.settleAfter > 0 {
			wantReady = simStart.Add(c.settleAfter).UnixMilli()
		}
		if ready != wantReady {
			t.Errorf("%s: ready %d, want %d", c.pan, ready, wantReady)
		}
		if c.outcome == acquirer.Pending && res.RetryAfter != 5*time.Second {
			t.Errorf("%s: RetryAfter %v, want 5s", c.pan, res.RetryAfter)
		}
		if c.outcome != acquirer.Pending && res.RetryAfter != 0 {
			t.Errorf("%s: RetryAfter %v, want 0", c.pan, res.RetryAfter)
		}
	}
}

// TestInquireAuthorizationTimeoutCard: the timeout card's late answer is ready exactly when its
// settle time has passed on the injected clock, not on the wall clock.
func TestInquireAuthorizationTimeoutCard(t *testing.T) {
	clk := clock.NewFixed(simStart)
	sim := simulator.New("SIMULATOR", clk)
	first := authorize(t, sim, "4000000000000119")
	if first.Outcome != acquirer.Pending {
		t.Fatalf("Authorize: %s, want pending", first.Outcome)
	}
	ref := first.AcquirerTransactionID
	for _, step := range []struct {
		advance   time.Duration
		want      acquirer.Outcome
		wantRetry time.Duration
	}{
		{0, acquirer.Pending, 5 * time.Second},
		{4 * time.Second, acquirer.Pending, time.Second},
		{999 * time.Millisecond, acquirer.Pending, time.Millisecond},
		{time.Millisecond, acquirer.Approved, 0}, // exactly +5 s
		{time.Hour, acquirer.Approved, 0},
	} {
		clk.Advance(step.advance)
		res, err := sim.InquireAuthorization(context.Background(), ref)
		if err != nil {
			t.Fatalf("at +%v: %v", clk.Now().Sub(simStart), err)
		}
		if res.Outcome != step.want || res.RetryAfter != step.wantRetry {
			t.Fatalf("at +%v: %s retry %v, want %s retry %v", clk.Now().Sub(simStart), res.Outcome, res.RetryAfter, step.want, step.wantRetry)
		}
		if res.AcquirerTransactionID != ref || res.AcquirerName != "SIMULATOR" || res.AcquirerMerchantID == "" {
			t.Errorf("answer names %q/%q/%q", res.AcquirerTransactionID, res.AcquirerName, res.AcquirerMerchantID)
		}
		if res.Outcome == acquirer.Approved {
			if !digits6.MatchString(res.AuthorizationCode) || !digits15.MatchString(res.NetworkTransactionID) || res.AcquirerResultCode != "SUCCESS" {
				t.Errorf("approval without codes: %+v", res)
			}
		} else if res.AuthorizationCode != "" || res.NetworkTransactionID != "" {
			t.Errorf("pending answer carries results: %+v", res)
		}
	}
	// The wall clock does not matter: a simulator on a clock that stands before the ready time
	// keeps answering pending, however long the test runs.
	stopped := simulator.New("SIMULATOR", clock.NewFixed(simStart))
	if res, err := stopped.InquireAuthorization(context.Background(), ref); err != nil || res.Outcome != acquirer.Pending {
		t.Errorf("on a clock before the ready time: %s, %v", res.Outcome, err)
	}
}

func TestInquireAuthorizationNeverAnsweringCard(t *testing.T) {
	clk := clock.NewFixed(simStart)
	sim := simulator.New("SIMULATOR", clk)
	first := authorize(t, sim, "4000000000000044")
	if first.Outcome != acquirer.NoAnswer {
		t.Fatalf("Authorize: %s, want no-answer", first.Outcome)
	}
	for _, d := range []time.Duration{0, 5 * time.Second, 15 * time.Minute, 8 * 24 * time.Hour, 400 * 24 * time.Hour} {
		clk.Advance(d)
		res, err := sim.InquireAuthorization(context.Background(), first.AcquirerTransactionID)
		if err != nil || res.Outcome != acquirer.NoAnswer || res.RetryAfter != 0 {
			t.Fatalf("at +%v: %s retry %v, %v; want no-answer forever", clk.Now().Sub(simStart), res.Outcome, res.RetryAfter, err)
		}
	}
}

func TestInquireAuthorizationOfAnsweredCard(t *testing.T) {
	sim := simulator.New("SIMULATOR", clock.NewFixed(simStart))
	res, err := sim.InquireAuthorization(context.Background(), authorize(t, sim, "4242424242424242").AcquirerTransactionID)
	if err != nil || res.Outcome != acquirer.Approved {
		t.Errorf("inquiry of an approved authorization: %s, %v", res.Outcome, err)
	}
}

func captureRequest(ref string) acquirer.CaptureRequest {
	return acquirer.CaptureRequest{PaymentID: "2026051500000000000000000000000001", AcquirerTransactionID: ref, Amount: money.Amount{Currency: sgd, Minor: 4200}}
}

func TestCapture(t *testing.T) {
	ctx := context.Background()
	t.Run("approved card succeeds", func(t *testing.T) {
		sim := simulator.New("SIMULATOR", clock.NewFixed(simStart))
		for _, pan := range []string{"4242424242424242", "4000000000000010", "4000000000000259"} {
			res, err := sim.Capture(ctx, captureRequest(authorize(t, sim, pan).AcquirerTransactionID))
			if err != nil || res.Status != acquirer.OpSucceeded || res.Code != "" || res.RetryAfter != 0 {
				t.Fatalf("%s: %+v, %v; want succeeded", pan, res, err)
			}
			if !simCapID.MatchString(res.Reference) {
				t.Errorf("%s: capture reference %q", pan, res.Reference)
			}
		}
	})
	t.Run("0036 fails PROCESS_FAIL", func(t *testing.T) {
		sim := simulator.New("SIMULATOR", clock.NewFixed(simStart))
		auth := authorize(t, sim, "4000000000000036")
		if auth.Outcome != acquirer.Approved {
			t.Fatalf("authorization %s, want approved", auth.Outcome)
		}
		for range 3 { // every capture fails
			res, err := sim.Capture(ctx, captureRequest(auth.AcquirerTransactionID))
			if err != nil || res.Status != acquirer.OpFailed || res.Code != protocol.CodeProcessFail || res.Message == "" {
				t.Fatalf("%+v, %v; want failed PROCESS_FAIL", res, err)
			}
			if res.Code.Status() != protocol.StatusFail || !simCapID.MatchString(res.Reference) {
				t.Errorf("code %s status %s, reference %q", res.Code, res.Code.Status(), res.Reference)
			}
			// Asking again about the failed capture says the same.
			again, err := sim.InquireCapture(ctx, res.Reference)
			if err != nil || again.Status != acquirer.OpFailed || again.Code != protocol.CodeProcessFail {
				t.Errorf("InquireCapture: %+v, %v", again, err)
			}
		}
	})
	t.Run("0028 pending until +1m", func(t *testing.T) {
		clk := clock.NewFixed(simStart)
		sim := simulator.New("SIMULATOR", clk)
		auth := authorize(t, sim, "4000000000000028")
		if auth.Outcome != acquirer.Approved {
			t.Fatalf("authorization %s, want approved", auth.Outcome)
		}
		res, err := sim.Capture(ctx, captureRequest(auth.AcquirerTransactionID))
		if err != nil || res.Status != acquirer.OpPending || res.RetryAfter != time.Minute {
			t.Fatalf("%+v, %v; want pending for 1m", res, err)
		}
		if _, _, ready := refParts(t, res.Reference); ready != simStart.Add(time.Minute).UnixMilli() || !simCapID.MatchString(res.Reference) {
			t.Fatalf("capture reference %q, want ready at +1m", res.Reference)
		}
		for _, step := range []struct {
			advance time.Duration
			want    acquirer.OpStatus
			retry   time.Duration
		}{
			{0, acquirer.OpPending, time.Minute},
			{59 * time.Second, acquirer.OpPending, time.Second},
			{999 * time.Millisecond, acquirer.OpPending, time.Millisecond},
			{time.Millisecond, acquirer.OpSucceeded, 0},
			{24 * time.Hour, acquirer.OpSucceeded, 0},
		} {
			clk.Advance(step.advance)
			got, err := sim.InquireCapture(ctx, res.Reference)
			if err != nil || got.Status != step.want || got.RetryAfter != step.retry || got.Reference != res.Reference {
				t.Fatalf("at +%v: %+v, %v; want status %d retry %v", clk.Now().Sub(simStart), got, err, step.want, step.retry)
			}
		}
	})
	t.Run("late answers capture", func(t *testing.T) {
		clk := clock.NewFixed(simStart)
		sim := simulator.New("SIMULATOR", clk)
		ref := authorize(t, sim, "4000000000000119").AcquirerTransactionID
		clk.Advance(5 * time.Second)
		if res, err := sim.Capture(ctx, captureRequest(ref)); err != nil || res.Status != acquirer.OpSucceeded {
			t.Errorf("capture after the timeout card settled: %+v, %v", res, err)
		}
	})
}

func TestRefund(t *testing.T) {
	ctx := context.Background()
	sim := simulator.New("SIMULATOR", clock.NewFixed(simStart))
	seen := map[string]bool{}
	for _, pan := range []string{"4242424242424242", "4000000000000028", "4000000000000119"} {
		ref := authorize(t, sim, pan).AcquirerTransactionID
		for range 2 { // partial and repeated refunds each get their own reference
			res, err := sim.Refund(ctx, acquirer.RefundRequest{RefundID: "r", AcquirerTransactionID: ref, Amount: money.Amount{Currency: sgd, Minor: 100}})
			if err != nil || res.Status != acquirer.OpSucceeded || res.Code != "" {
				t.Fatalf("%s: %+v, %v; want succeeded", pan, res, err)
			}
			if !simRefID.MatchString(res.Reference) || seen[res.Reference] {
				t.Errorf("%s: refund reference %q (fresh, simref_ok_0_…)", pan, res.Reference)
			}
			seen[res.Reference] = true
		}
	}
}

func TestVoid(t *testing.T) {
	sim := simulator.New("SIMULATOR", clock.NewFixed(simStart))
	for _, pan := range []string{"4242424242424242", "4000000000000036", "4000000000000028", "4000000000000119", "4000000000000044"} {
		ref := authorize(t, sim, pan).AcquirerTransactionID
		for range 2 { // voids are idempotent
			if err := sim.Void(context.Background(), ref); err != nil {
				t.Errorf("%s: Void: %v", pan, err)
			}
		}
	}
}

// badReferences are ids the simulator never handed out.
var badReferences = []string{
	"",
	"sim_123456789012345678901234", // the old, stateful format
	"nope",
	"simauth_ok_0",
	"simauth_ok_0_1_2",
	"simauth_ok_soon_1234567890123456",
	"simauth_ok_1.5_1234567890123456",
	"xauth_ok_0_1234567890123456",
	"SIMAUTH_ok_0_1234567890123456",
	"simauth_ok__1234567890123456",
}

func TestBadReferences(t *testing.T) {
	ctx := context.Background()
	sim := simulator.New("SIMULATOR", clock.NewFixed(simStart))
	for _, ref := range badReferences {
		if _, err := sim.InquireAuthorization(ctx, ref); err == nil {
			t.Errorf("InquireAuthorization(%q) succeeded", ref)
		}
		if _, err := sim.Capture(ctx, captureRequest(ref)); err == nil {
			t.Errorf("Capture(%q) succeeded", ref)
		}
		if _, err := sim.InquireCapture(ctx, ref); err == nil {
			t.Errorf("InquireCapture(%q) succeeded", ref)
		}
		if _, err := sim.Refund(ctx, acquirer.RefundRequest{AcquirerTransactionID: ref}); err == nil {
			t.Errorf("Refund(%q) succeeded", ref)
		}
		if err := sim.Void(ctx, ref); err == nil {
			t.Errorf("Void(%q) succeeded", ref)
		}
	}
}

// TestOpsHonourContext: every call fails with the context's error once it is done, before doing
// anything.
func TestOpsHonourContext(t *testing.T) {
	sim := simulator.New("SIMULATOR", clock.NewFixed(simStart))
	ref := authorize(t, sim, "4242424242424242").AcquirerTransactionID
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{}
	_, checks["InquireAuthorization"] = sim.InquireAuthorization(ctx, ref)
	_, checks["Capture"] = sim.Capture(ctx, captureRequest(ref))
	_, checks["InquireCapture"] = sim.InquireCapture(ctx, ref)
	_, checks["Refund"] = sim.Refund(ctx, acquirer.RefundRequest{AcquirerTransactionID: ref})
	checks["Void"] = sim.Void(ctx, ref)
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
}

// FuzzReferences: whatever string arrives as a reference, the simulator answers or refuses
// without panicking, and a reference it accepted for inquiry it also accepts for void.
func FuzzReferences(f *testing.F) {
	sim := simulator.New("SIMULATOR", clock.NewFixed(simStart))
	for _, pan := range []string{"4242424242424242", "4000000000000119", "4000000000000044", "4000000000000028"} {
		res, _ := sim.Authorize(context.Background(), authRequest(mustCardF(pan), "", false))
		f.Add(res.AcquirerTransactionID)
	}
	for _, ref := range badReferences {
		f.Add(ref)
	}
	f.Add("simauth_to_-5_x")
	f.Add("simauth_to_99999999999999999999_1")
	f.Fuzz(func(t *testing.T, ref string) {
		ctx := context.Background()
		_, ierr := sim.InquireAuthorization(ctx, ref)
		_, _ = sim.Capture(ctx, captureRequest(ref))
		_, _ = sim.InquireCapture(ctx, ref)
		_, _ = sim.Refund(ctx, acquirer.RefundRequest{AcquirerTransactionID: ref})
		verr := sim.Void(ctx, ref)
		if (ierr == nil) != (verr == nil) {
			t.Fatalf("%q: inquiry error %v, void error %v", ref, ierr, verr)
		}
	})
}

func mustCardF(pan string) card.Number {
	n, err := card.ParseNumber(pan)
	if err != nil {
		panic(err)
	}
	return n
}
