package payments_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// errDied is what the store answers an instance that died between sending an authorization and
// recording its answer: the answer is never written.
var errDied = errors.New("the instance died")

// dieBeforeRecording makes the store refuse the write of any authorization answer, as if the
// instance that sent it died during the call; it returns the function that revives it.
func (h *harness) dieBeforeRecording() (revive func()) {
	h.store.failApply = func(c payments.Change) error {
		switch c.Event.Op {
		case payments.OpAuthApproved, payments.OpAuthDeclined, payments.OpAuthPending:
			return errDied
		}
		return nil
	}
	return func() { h.store.failApply = nil }
}

// TestResolveInFlight: an authorization whose sender died before recording its answer is
// resolved by the due work as soon as its in-flight lease has passed (not at the payment's
// 14-minute expiry): what the acquirer booked under the gateway's reference is recorded as the
// sender would have; an authorization the acquirer never received, or an inquiry it does not
// answer, fails the payment with PROCESS_FAIL and reverses it by the gateway's reference.
func TestResolveInFlight(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pan        string
		mode       payments.CaptureMode
		neverSent  bool  // the instance died before the request reached the acquirer
		inquireErr error // the acquirer does not answer the inquiry by reference
		stage      payments.Stage
		code       protocol.Code
		ops        []payments.Op
		reversals  int64
	}{
		{name: "approved, automatic capture", pan: "4242424242424242", mode: payments.CaptureAutomatic, stage: payments.StageCaptured, code: protocol.CodeSuccess,
			ops: []payments.Op{payments.OpCreate, payments.OpAuthApproved, payments.OpCapture, payments.OpCaptureSucceeded}},
		{name: "approved, manual", pan: "4242424242424242", mode: payments.CaptureManual, stage: payments.StageAuthorized, code: protocol.CodeSuccess,
			ops: []payments.Op{payments.OpCreate, payments.OpAuthApproved}},
		{name: "declined", pan: "4000000000000002", mode: payments.CaptureManual, stage: payments.StageDeclined, code: protocol.CodeDoNotHonor,
			ops: []payments.Op{payments.OpCreate, payments.OpAuthDeclined}},
		{name: "never reached the acquirer", pan: "4242424242424242", mode: payments.CaptureAutomatic, neverSent: true,
			stage: payments.StageDeclined, code: protocol.CodeProcessFail, ops: []payments.Op{payments.OpCreate, payments.OpAuthUnresolved, payments.OpVoidSent}, reversals: 1},
		{name: "inquiry unanswered", pan: "4242424242424242", mode: payments.CaptureManual, inquireErr: errors.New("acquirer unreachable"),
			stage: payments.StageDeclined, code: protocol.CodeProcessFail, ops: []payments.Op{payments.OpCreate, payments.OpAuthUnresolved, payments.OpVoidSent}, reversals: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			revive := h.dieBeforeRecording()
			if tc.neverSent {
				h.acq.err = errors.New("connection refused")
			}
			_, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, tc.pan, "dead", func(m jsonObj) {
				set(m, "paymentFactor.captureMode", string(tc.mode))
			}))
			if !errors.Is(err, errDied) {
				t.Fatalf("pay on the dying instance: %v, want %v", err, errDied)
			}
			revive()
			h.acq.err, h.acq.inquireErr = nil, tc.inquireErr
			p, err := h.store.PaymentByRequestID(context.Background(), merchantA.ID, "dead")
			if err != nil {
				t.Fatal(err)
			}
			if p.Stage() != payments.StageProcessing || !p.InFlightUntil.Equal(testNow.Add(payments.DefaultInFlightLease)) {
				t.Fatalf("left by the dead instance: %s, in flight until %v", p.Stage(), p.InFlightUntil)
			}
			// The lease is the sender's while it runs: nobody else touches the authorization.
			h.clock.Advance(payments.DefaultInFlightLease - 1)
			if due := h.due(t, p.ID); len(due) != 0 {
				t.Fatalf("due while the lease runs: %v", due)
			}
			h.clock.Advance(1)
			if due := h.due(t, p.ID); !slices.Equal(due, []payments.DueKind{payments.DueResolve}) {
				t.Fatalf("due once the lease passed: %v, want RESOLVE", due)
			}
			if errs := h.runDue(t); len(errs) != 0 {
				t.Fatal(errs)
			}
			got := h.reload(t, p)
			if got.Stage() != tc.stage || got.ResultCode != tc.code || !got.InFlightUntil.IsZero() {
				t.Errorf("resolved to %s %s (in flight until %v), want %s %s", got.Stage(), got.ResultCode, got.InFlightUntil, tc.stage, tc.code)
			}
			if ops := h.store.opsOf(p.ID); !slices.Equal(ops, tc.ops) {
				t.Errorf("events %v, want %v", ops, tc.ops)
			}
			if n := h.acq.reversals.Load(); n != tc.reversals {
				t.Errorf("%d reversals, want %d", n, tc.reversals)
			}
			if n := h.acq.byReference.Load(); n != 1 {
				t.Errorf("%d inquiries by reference, want 1", n)
			}
			rows := h.store.outboxOf(p.ID)
			if len(rows) == 0 || rows[0].NotifyType != protocol.NotifyTypePaymentResult {
				t.Errorf("notifications %+v, want the PAYMENT_RESULT first", rows)
			}
			if got.Stage() == payments.StageDeclined && got.VoidState != payments.VoidNone && got.VoidState != payments.VoidDone {
				t.Errorf("void %q after the resolution", got.VoidState)
			}
			if due := h.due(t, p.ID); len(due) != 0 {
				t.Errorf("still due: %v", due)
			}
		})
	}
}

// TestResolvedApprovalArrivesLate: the instance that sent the authorization was only slow, not
// dead; its answer arrives after another instance resolved the payment. An approval that was
// recorded already is recognised as the same one (no void of a payment that is SUCCESS); an
// approval arriving for a payment failed unresolved is voided and does not revive it.
func TestResolvedApprovalArrivesLate(t *testing.T) {
	t.Run("approval recorded already", func(t *testing.T) {
		h := newHarness(t)
		revive := h.dieBeforeRecording()
		if _, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "slow", func(m jsonObj) {
			set(m, "paymentFactor.captureMode", string(payments.CaptureManual))
		})); !errors.Is(err, errDied) {
			t.Fatal(err)
		}
		revive()
		sent, _ := h.store.PaymentByRequestID(context.Background(), merchantA.ID, "slow")
		answer, err := h.acq.next.InquireByReference(context.Background(), sent.ID)
		if err != nil || answer.Outcome != acquirer.Approved {
			t.Fatalf("the acquirer's books: %+v, %v", answer, err)
		}
		h.clock.Advance(payments.DefaultInFlightLease)
		if errs := h.runDue(t); len(errs) != 0 {
			t.Fatal(errs)
		}
		// The slow sender records the answer it got.
		p, err := h.svc.RecordAuth(context.Background(), sent, answer, nil)
		if err != nil {
			t.Fatalf("recording the approval a second time: %v", err)
		}
		if p.Stage() != payments.StageAuthorized || p.VoidState != payments.VoidNone {
			t.Errorf("after the second recording: %s, void %q", p.Stage(), p.VoidState)
		}
		if ops := h.store.opsOf(sent.ID); !slices.Equal(ops, []payments.Op{payments.OpCreate, payments.OpAuthApproved}) {
			t.Errorf("events %v", ops)
		}
		if n := h.acq.voids.Load() + h.acq.reversals.Load(); n != 0 {
			t.Errorf("%d voids or reversals of the approved payment", n)
		}
		if n := len(h.store.outboxOf(sent.ID)); n != 1 {
			t.Errorf("%d notifications, want the one PAYMENT_RESULT", n)
		}
	})
	t.Run("approval after the payment failed unresolved", func(t *testing.T) {
		h := newHarness(t)
		revive := h.dieBeforeRecording()
		h.acq.err = errors.New("connection refused")
		if _, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "slow", func(m jsonObj) {
			set(m, "paymentFactor.captureMode", string(payments.CaptureAutomatic))
		})); !errors.Is(err, errDied) {
			t.Fatal(err)
		}
		revive()
		h.acq.err = nil
		sent, _ := h.store.PaymentByRequestID(context.Background(), merchantA.ID, "slow")
		h.clock.Advance(payments.DefaultInFlightLease)
		if errs := h.runDue(t); len(errs) != 0 {
			t.Fatal(errs)
		}
		// The request reaches the acquirer after all, after the reversal, and is approved.
		answer, err := h.acq.next.Authorize(context.Background(), acquirer.AuthRequest{PaymentID: sent.ID, MerchantID: merchantA.ID,
			Amount: sent.Amount, Card: mustPAN(t, "4242424242424242")})
		if err != nil || answer.Outcome != acquirer.Approved {
			t.Fatalf("late authorization: %+v, %v", answer, err)
		}
		p, err := h.svc.RecordAuth(context.Background(), sent, answer, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Stage() != payments.StageDeclined || p.ResultCode != protocol.CodeProcessFail || p.VoidState != payments.VoidDone {
			t.Errorf("after the late approval: %s %s, void %q; want DECLINED PROCESS_FAIL, voided", p.Stage(), p.ResultCode, p.VoidState)
		}
		want := []payments.Op{payments.OpCreate, payments.OpAuthUnresolved, payments.OpVoidSent, payments.OpLateAuthVoided, payments.OpVoidSent}
		if ops := h.store.opsOf(sent.ID); !slices.Equal(ops, want) {
			t.Errorf("events %v, want %v", ops, want)
		}
		if v, r, c := h.acq.voids.Load(), h.acq.reversals.Load(), h.acq.captures.Load(); v != 1 || r != 1 || c != 0 {
			t.Errorf("%d voids, %d reversals, %d captures; want 1, 1, 0", v, r, c)
		}
	})
}

func mustPAN(t *testing.T, digits string) card.Number {
	t.Helper()
	n, err := card.ParseNumber(digits)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
