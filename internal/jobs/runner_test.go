package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/jobs"
	"github.com/cardgate/cardgate/internal/payments"
)

// item is one piece of fake due work and what running it does.
type item struct {
	due payments.Due
	// fail makes RunDue return an error (the item stays due); stuck makes RunDue succeed without
	// the item ceasing to be due (a void the acquirer keeps refusing).
	fail, stuck bool
	// then is work that running this item makes due (a capture that finishes a minute later).
	then *item
}

// ran is one RunDue call: which item, and what the clock said while it ran.
type ran struct {
	id  string
	now time.Time
}

// fakeWork is the Work interface over a list, with the ordering the store gives: due at or before
// t, earliest first, ties by payment id.
type fakeWork struct {
	mu      sync.Mutex
	clk     clock.Clock
	pending []*item
	runs    []ran
	lists   int
	listErr error
}

func (w *fakeWork) add(it *item) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, it)
}

// ClaimWork lists the due items; one runner at a time uses a fakeWork, so no lease is needed.
func (w *fakeWork) ClaimWork(_ context.Context, t time.Time, limit int) ([]payments.Due, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lists++
	if w.listErr != nil {
		return nil, w.listErr
	}
	var out []payments.Due
	for _, it := range w.pending {
		if !it.due.At.After(t) {
			out = append(out, it.due)
		}
	}
	slices.SortFunc(out, func(a, b payments.Due) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return compareStrings(a.PaymentID, b.PaymentID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (w *fakeWork) ReleaseWork(context.Context, payments.Due) error { return nil }

func (w *fakeWork) RunDue(_ context.Context, d payments.Due) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.runs = append(w.runs, ran{id: d.PaymentID, now: w.clk.Now()})
	for i, it := range w.pending {
		if it.due != d {
			continue
		}
		if it.fail {
			return fmt.Errorf("payment %s: acquirer unreachable", d.PaymentID)
		}
		if it.stuck {
			return nil
		}
		w.pending = slices.Delete(w.pending, i, i+1)
		if it.then != nil {
			w.pending = append(w.pending, it.then)
		}
		return nil
	}
	return errors.New("RunDue of work that was never listed")
}

func (w *fakeWork) ranIDs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, r := range w.runs {
		out = append(out, r.id)
	}
	return out
}

// memClock is the ClockStore: the offset shared by every instance.
type memClock struct {
	mu     sync.Mutex
	offset time.Duration
	epoch  int64
}

func (s *memClock) ClockOffset(context.Context) (time.Duration, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset, s.epoch, nil
}

func (s *memClock) SetClockOffset(_ context.Context, d time.Duration, epoch int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if epoch == s.epoch {
		s.offset = max(s.offset, d)
	}
	return nil
}

func (s *memClock) ResetClock(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset, s.epoch = 0, s.epoch+1
	return s.epoch, nil
}

var log = slog.New(slog.DiscardHandler)

// sandbox returns a sandbox runner over fresh fake work, its clock and its clock store. The clock
// runs on the wall clock plus an offset, as in `cardgate serve --mode sandbox`.
func sandbox() (*jobs.Runner, *fakeWork, *clock.Offset, *memClock) {
	clk := clock.NewOffset(clock.Wall{}, 0)
	w := &fakeWork{clk: clk}
	st := &memClock{}
	return jobs.NewSandbox(w, clk, st, log), w, clk, st
}

func due(id string, at time.Time) *item {
	return &item{due: payments.Due{Kind: payments.DueExpire, MerchantID: "m", PaymentID: id, At: at}}
}

// slack is how long the wall clock may run between the runner stepping the clock and the work
// reading it.
const slack = 2 * time.Second

func checkRanAt(t *testing.T, w *fakeWork, want map[string]time.Time) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.runs {
		at, ok := want[r.id]
		if !ok {
			continue
		}
		if r.now.Before(at) || r.now.After(at.Add(slack)) {
			t.Errorf("%s ran with the clock at %v, want its due time %v", r.id, r.now, at)
		}
	}
}

// TestAdvanceRunsDueWorkInOrder: advancing 15 minutes runs what became due, earliest first, each
// with the clock stepped to its own due time; work due later stays; the clock ends at +15m and the
// offset is stored for the other instances.
func TestAdvanceRunsDueWorkInOrder(t *testing.T) {
	r, w, clk, st := sandbox()
	start := clk.Now()
	at := map[string]time.Time{
		"p1m": start.Add(time.Minute), "p5m": start.Add(5 * time.Minute), "p10m": start.Add(10 * time.Minute),
		"p15m": start.Add(15 * time.Minute), "p20m": start.Add(20 * time.Minute), "p7d": start.Add(7 * 24 * time.Hour),
	}
	for _, id := range []string{"p20m", "p5m", "p7d", "p1m", "p15m", "p10m"} { // listed out of order
		w.add(due(id, at[id]))
	}
	now, err := r.Advance(context.Background(), 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := w.ranIDs(), []string{"p1m", "p5m", "p10m"}; !slices.Equal(got[:min(3, len(got))], want) {
		t.Fatalf("ran %v, want %v first", got, want)
	}
	// p15m is due at the target; whether its millisecond has come depends on the wall clock: it
	// runs in this pass or the next one, never before p10m.
	if got := w.ranIDs(); len(got) > 4 || (len(got) == 4 && got[3] != "p15m") {
		t.Errorf("ran %v; p20m and p7d are not due", got)
	}
	checkRanAt(t, w, at)
	if now.Before(start.Add(15*time.Minute)) || now.After(start.Add(15*time.Minute+slack)) {
		t.Errorf("Advance returned %v, want start + 15m (%v)", now, start.Add(15*time.Minute))
	}
	if off, _, _ := st.ClockOffset(context.Background()); off < 15*time.Minute-slack || off > 15*time.Minute {
		t.Errorf("stored offset %v, want about 15m", off)
	}

	// The next advance runs the rest that became due, still in order.
	if _, err := r.Advance(context.Background(), 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	got := w.ranIDs()
	if want := []string{"p1m", "p5m", "p10m", "p15m", "p20m", "p7d"}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	checkRanAt(t, w, at)
}

// TestAdvanceRunsWorkMadeDueOnTheWay: work that running an item makes due (a capture pending for
// a minute after an approval) runs in the same advance when it falls before the target, at its
// own time.
func TestAdvanceRunsWorkMadeDueOnTheWay(t *testing.T) {
	r, w, clk, _ := sandbox()
	start := clk.Now()
	settle := due("settle", start.Add(5*time.Second))
	capture := due("capture", start.Add(5*time.Second+time.Minute))
	late := due("late", start.Add(time.Hour))
	settle.then, capture.then = capture, late
	w.add(settle)
	w.add(due("other", start.Add(30*time.Second)))
	if _, err := r.Advance(context.Background(), 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, want := w.ranIDs(), []string{"settle", "other", "capture"}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	checkRanAt(t, w, map[string]time.Time{"settle": settle.due.At, "other": start.Add(30 * time.Second), "capture": capture.due.At})
}

// TestFailingItemDoesNotBlock: an item whose work fails is tried once per pass and left for the
// next; the items after it still run, and the pass ends.
func TestFailingItemDoesNotBlock(t *testing.T) {
	r, w, clk, _ := sandbox()
	start := clk.Now()
	bad := due("bad", start.Add(time.Minute))
	bad.fail = true
	w.add(bad)
	w.add(due("after", start.Add(2*time.Minute)))
	w.add(due("later", start.Add(3*time.Minute)))
	done := make(chan error, 1)
	go func() {
		_, err := r.Advance(context.Background(), 15*time.Minute)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Advance: %v (one failed item is logged, not the pass's error)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pass did not end")
	}
	if got, want := w.ranIDs(), []string{"bad", "after", "later"}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	// The next pass tries it again.
	if n, err := r.RunDue(context.Background()); err != nil || n != 0 {
		t.Errorf("RunDue = %d, %v; want 0 items done", n, err)
	}
	if got := w.ranIDs(); len(got) != 4 || got[3] != "bad" {
		t.Errorf("ran %v, want bad tried again", got)
	}
}

// TestStuckItemEndsThePass: work that succeeds without ceasing to be due (a void the acquirer
// keeps refusing: logged, left owed) must not spin the pass; it is tried once per pass.
func TestStuckItemEndsThePass(t *testing.T) {
	r, w, clk, _ := sandbox()
	start := clk.Now()
	stuck := due("stuck", start.Add(time.Minute))
	stuck.stuck = true
	w.add(stuck)
	w.add(due("after", start.Add(2*time.Minute)))
	done := make(chan error, 1)
	go func() {
		_, err := r.Advance(context.Background(), 15*time.Minute)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Advance: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pass did not end")
	}
	if got, want := w.ranIDs(), []string{"stuck", "after"}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v (each once)", got, want)
	}
}

// TestManyItems: more items than one listing returns all run, in order.
func TestManyItems(t *testing.T) {
	r, w, clk, _ := sandbox()
	start := clk.Now()
	var want []string
	for i := range 250 {
		want = append(want, fmt.Sprintf("p%03d", i))
	}
	for i := 249; i >= 0; i-- { // listed latest first
		w.add(due(want[i], start.Add(time.Duration(i+1)*time.Second)))
	}
	if _, err := r.Advance(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := w.ranIDs(); !slices.Equal(got, want) {
		t.Fatalf("ran %d items, want 250 in order", len(got))
	}
}

// TestRunDueTakesUpAnotherInstancesClock: an offset stored by another instance is taken up before
// the pass, so work due by the shared clock runs here too.
func TestRunDueTakesUpAnotherInstancesClock(t *testing.T) {
	r, w, clk, st := sandbox()
	start := clk.Now()
	w.add(due("p14m", start.Add(14*time.Minute)))
	if n, err := r.RunDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("RunDue before the clock moved = %d, %v", n, err)
	}
	if err := st.SetClockOffset(context.Background(), 15*time.Minute, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := r.RunDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("RunDue after another instance moved the clock = %d, %v", n, err)
	}
	if clk.Offset() != 15*time.Minute {
		t.Errorf("offset %v, want the stored 15m", clk.Offset())
	}
	// An instance whose clock is ahead of the store's writes its offset back.
	clk.SetOffset(time.Hour)
	if _, err := r.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if off, _, _ := st.ClockOffset(context.Background()); off != time.Hour {
		t.Errorf("stored offset %v, want 1h", off)
	}
}

// TestProductionRunner: without a sandbox the clock is never moved; RunDue runs what is due now.
func TestProductionRunner(t *testing.T) {
	clk := clock.NewFixed(time.Date(2026, time.May, 15, 12, 0, 0, 0, time.UTC))
	w := &fakeWork{clk: clk}
	r := jobs.New(w, clk, log)
	w.add(due("now", clk.Now()))
	w.add(due("past", clk.Now().Add(-time.Hour)))
	w.add(due("soon", clk.Now().Add(time.Second)))
	n, err := r.RunDue(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("RunDue = %d, %v; want 2", n, err)
	}
	if got, want := w.ranIDs(), []string{"past", "now"}; !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
	for _, run := range w.runs {
		if !run.now.Equal(clk.Now()) {
			t.Errorf("the production clock moved to %v", run.now)
		}
	}
	if _, err := r.Advance(context.Background(), time.Minute); err == nil {
		t.Error("Advance works without a sandbox clock")
	}
}

func TestRunDueErrors(t *testing.T) {
	r, w, clk, _ := sandbox()
	w.listErr = errors.New("database is locked")
	if _, err := r.RunDue(context.Background()); err == nil || !errors.Is(err, w.listErr) {
		t.Errorf("RunDue with a failing list = %v, want it wrapped", err)
	}
	if _, err := r.Advance(context.Background(), time.Minute); err == nil {
		t.Error("Advance with a failing list succeeded")
	}

	r, w, clk, _ = sandbox()
	w.add(due("p", clk.Now()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.RunDue(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("RunDue with a cancelled context = %v", err)
	}
	if len(w.ranIDs()) != 0 {
		t.Errorf("work ran on a cancelled context")
	}
}

// TestRunStopsWithContext: the background loop runs passes on its ticker and returns when its
// context ends.
func TestRunStopsWithContext(t *testing.T) {
	r, w, clk, _ := sandbox()
	w.add(due("p", clk.Now()))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		r.Run(ctx, 10*time.Millisecond)
		close(stopped)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(w.ranIDs()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if got := w.ranIDs(); !slices.Equal(got, []string{"p"}) {
		t.Errorf("ran %v, want p once", got)
	}
}

// TestResetClockReachesEveryInstance: a reset puts this instance back on real time at once and
// another instance at its next pass, and that instance's old offset cannot undo the reset.
func TestResetClockReachesEveryInstance(t *testing.T) {
	r1, _, clk1, st := sandbox()
	clk2 := clock.NewOffset(clock.Wall{}, 0)
	r2 := jobs.NewSandbox(&fakeWork{clk: clk2}, clk2, st, log)
	if _, err := r1.Advance(context.Background(), 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if clk2.Offset() < 7*24*time.Hour-time.Second {
		t.Fatalf("the second instance's offset %v, want the first's 7d", clk2.Offset())
	}
	now, err := r1.ResetClock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if clk1.Offset() != 0 || now.Sub(time.Now()).Abs() > time.Second {
		t.Fatalf("after the reset: offset %v, now %v; want real time", clk1.Offset(), now)
	}
	if _, err := r2.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if clk2.Offset() != 0 {
		t.Fatalf("the second instance kept offset %v after the reset", clk2.Offset())
	}
	if off, epoch, _ := st.ClockOffset(context.Background()); off != 0 || epoch != 1 {
		t.Fatalf("stored offset %v epoch %d, want 0 at epoch 1", off, epoch)
	}
}
