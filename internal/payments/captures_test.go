package payments_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// gatedAcquirer holds every capture until its gate opens, so that a test decides when the
// background captures answer.
type gatedAcquirer struct {
	acquirer.Acquirer
	gate chan struct{}
}

func (a *gatedAcquirer) Capture(ctx context.Context, req acquirer.CaptureRequest) (acquirer.OpResult, error) {
	<-a.gate
	return a.Acquirer.Capture(ctx, req)
}

// batchCounter is the real store, counting the commits that record captures.
type batchCounter struct {
	payments.Store
	batch payments.BatchStore
	fail  error // ApplyAll fails with it, writing nothing

	mu      sync.Mutex
	batches []int // sizes of the ApplyAll calls
	applies int   // single changes of a capture's answer

	// beforeTxns, when set, runs (once) before a read of a payment's transactions.
	beforeTxns func()
}

func (s *batchCounter) Txns(ctx context.Context, merchantID, paymentID string) ([]payments.Txn, error) {
	s.mu.Lock()
	before := s.beforeTxns
	s.beforeTxns = nil
	s.mu.Unlock()
	if before != nil {
		before()
	}
	return s.Store.Txns(ctx, merchantID, paymentID)
}

func (s *batchCounter) ApplyAll(ctx context.Context, cs []payments.Change) ([]error, error) {
	s.mu.Lock()
	s.batches = append(s.batches, len(cs))
	s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	return s.batch.ApplyAll(ctx, cs)
}

func (s *batchCounter) Apply(ctx context.Context, c payments.Change) error {
	if c.Event.Op == payments.OpCaptureSucceeded {
		s.mu.Lock()
		s.applies++
		s.mu.Unlock()
	}
	return s.Store.Apply(ctx, c)
}

func backgroundEnv(t *testing.T, fail error) (*env, *gatedAcquirer, *batchCounter) {
	t.Helper()
	e := newEnv(t)
	acq := &gatedAcquirer{Acquirer: simulator.New("SIM", e.clk), gate: make(chan struct{})}
	st := &batchCounter{Store: e.st, batch: e.st, fail: fail}
	e.svc = payments.NewService(st, acq, e.clk, slog.New(slog.DiscardHandler), payments.Config{})
	return e, acq, st
}

// runCaptures runs the background captures until the test ends.
func runCaptures(t *testing.T, e *env) {
	ctx, stop := context.WithCancel(context.Background())
	wait := e.svc.StartCaptures(ctx)
	t.Cleanup(func() { stop(); wait() })
}

func (e *env) payAll(t *testing.T, n int) []payments.Payment {
	t.Helper()
	out := make([]payments.Payment, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out[i] = e.pay(t, "4242424242424242", "bg-"+string(rune('a'+i%26))+string(rune('a'+i/26)), payments.CaptureAutomatic)
		})
	}
	wg.Wait()
	return out
}

func TestBackgroundCapturesRecordInBatches(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      error
		wantAlone bool // every answer recorded by its own commit
	}{
		{name: "one commit per batch"},
		{name: "a batch that fails is recorded one by one", fail: errors.New("database went away"), wantAlone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, acq, st := backgroundEnv(t, tc.fail)
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			wait := e.svc.StartCaptures(ctx)

			const n = 40
			paid := e.payAll(t, n)
			for _, p := range paid {
				// The answer comes before the capture: approved, the capture reserved.
				if p.Stage() != payments.StageCapturing || p.ResultCode != protocol.CodeSuccess {
					t.Fatalf("pay answered %s/%s, want capturing/SUCCESS", p.Stage(), p.ResultCode)
				}
			}
			if got := e.svc.CapturesOwed(); got != n {
				t.Fatalf("%d captures owed, want %d", got, n)
			}
			close(acq.gate)
			idle, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := e.svc.CapturesIdle(idle); err != nil {
				t.Fatalf("captures never recorded: %v (%d owed)", err, e.svc.CapturesOwed())
			}
			for _, p := range paid {
				cur, err := e.st.PaymentByID(context.Background(), p.MerchantID, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				if cur.Stage() != payments.StageCaptured || cur.CapturedMinor != p.Amount.Minor || cur.Version != p.Version+1 {
					t.Errorf("%s: %s captured %d version %d, want captured %d version %d", p.ID, cur.Stage(), cur.CapturedMinor, cur.Version, p.Amount.Minor, p.Version+1)
				}
			}
			// The history is the one an inline capture writes: four events, the capture's result
			// owed to the merchant once per payment.
			if got := e.count(`SELECT count(*) FROM payment_events WHERE op = 'CAPTURE_SUCCEEDED'`); got != n {
				t.Errorf("%d CAPTURE_SUCCEEDED events, want %d", got, n)
			}
			if got := e.count(`SELECT count(*) FROM outbox WHERE notify_type = 'CAPTURE_RESULT'`); got != n {
				t.Errorf("%d CAPTURE_RESULT notifications, want %d", got, n)
			}
			st.mu.Lock()
			batches, applies := st.batches, st.applies
			st.mu.Unlock()
			sum := 0
			for _, b := range batches {
				sum += b
			}
			switch {
			case tc.wantAlone && applies != n:
				t.Errorf("%d answers recorded alone after the failed batches, want %d", applies, n)
			case !tc.wantAlone && (applies+sum != n || len(batches)+applies > n/2):
				// Forty answers arriving together make a few commits, not forty.
				t.Errorf("batches %v and %d single commits for %d answers", batches, applies, n)
			}
			stop()
			wait()
		})
	}
}

func TestBackgroundCaptureAndAnImmediateRefund(t *testing.T) {
	e, acq, _ := backgroundEnv(t, nil)
	runCaptures(t, e)
	p := e.pay(t, "4242424242424242", "bg-refund", payments.CaptureAutomatic)
	// The merchant refunds as soon as the pay answered, before the capture came back: the
	// refund waits for it, as if the capture had run in the pay's request.
	go func() { time.Sleep(30 * time.Millisecond); close(acq.gate) }()
	tx, after, err := e.refund(p, "r-1", p.Amount.Value())
	if err != nil {
		t.Fatalf("refund right after pay: %v", err)
	}
	if tx.Status != payments.TxnSucceeded || after.RefundedMinor != p.Amount.Minor {
		t.Fatalf("refund %s, refunded %d", tx.Status, after.RefundedMinor)
	}
	// A cancel after capture is refused as it always was.
	if _, err := e.cancel(p); protocol.ResultOf(err).ResultCode != string(protocol.CodeOrderStatusInvalid) {
		t.Fatalf("cancel of a captured payment: %v", err)
	}
}

// TestBackgroundCaptureRecordedWhileARefundLooks: the capture is recorded after a refund read the
// payment (capturing) and before it read the payment's transactions (nothing in flight): the
// refund goes by the captured payment, not by the capturing one it read first.
func TestBackgroundCaptureRecordedWhileARefundLooks(t *testing.T) {
	e, acq, st := backgroundEnv(t, nil)
	runCaptures(t, e)
	p := e.pay(t, "4242424242424242", "bg-refund-race", payments.CaptureAutomatic)
	st.beforeTxns = func() {
		close(acq.gate)
		if err := e.svc.CapturesIdle(context.Background()); err != nil {
			t.Error(err)
		}
	}
	tx, after, err := e.refund(p, "r-1", p.Amount.Value())
	if err != nil {
		t.Fatalf("refund as the capture is recorded: %v", err)
	}
	if tx.Status != payments.TxnSucceeded || after.RefundedMinor != p.Amount.Minor {
		t.Fatalf("refund %s, refunded %d", tx.Status, after.RefundedMinor)
	}
}

func TestBackgroundCaptureAndAnImmediateInquiry(t *testing.T) {
	e, acq, _ := backgroundEnv(t, nil)
	runCaptures(t, e)
	p := e.pay(t, "4242424242424242", "bg-inquiry", payments.CaptureAutomatic)
	if p.Stage() != payments.StageCapturing {
		t.Fatalf("pay answered %s, want the capture still at the acquirer", p.Stage())
	}
	// The merchant inquires as soon as the pay answered: the inquiry shows the capture, as when
	// it ran in the pay's request.
	go func() { time.Sleep(30 * time.Millisecond); close(acq.gate) }()
	got, err := e.svc.Inquire(context.Background(), e.m, &protocol.InquiryPaymentRequest{PaymentID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got.Stage() != payments.StageCaptured {
		t.Fatalf("inquiry right after pay: %s, want captured", got.Stage())
	}
}

func TestBackgroundCapturesFinishOnStop(t *testing.T) {
	e, acq, _ := backgroundEnv(t, nil)
	ctx, stop := context.WithCancel(context.Background())
	wait := e.svc.StartCaptures(ctx)
	paid := e.payAll(t, 8)
	stop() // the gateway stops with eight captures at the acquirer
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
		t.Fatal("the writer stopped before the captures in flight came back")
	case <-time.After(50 * time.Millisecond):
	}
	close(acq.gate)
	<-done
	for _, p := range paid {
		cur, err := e.st.PaymentByID(context.Background(), p.MerchantID, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Stage() != payments.StageCaptured {
			t.Errorf("%s is %s after a clean stop", p.ID, cur.Stage())
		}
	}
	// After the stop, a capture runs in its request.
	p := e.pay(t, "4242424242424242", "bg-late", payments.CaptureAutomatic)
	if p.Stage() != payments.StageCaptured {
		t.Fatalf("a pay after the stop answered %s", p.Stage())
	}
}

func (e *env) count(q string) int {
	var n int
	if err := e.raw.QueryRow(context.Background(), q).Scan(&n); err != nil {
		panic(err)
	}
	return n
}
