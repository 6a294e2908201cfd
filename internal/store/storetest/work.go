package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
)

// testClaimWork: due work is leased to one claimer until the lease runs out or is released.
func testClaimWork(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p := mustCreate(t, s, NewPayment(m, "P1", "R1")) // expires at T0+14m
	due := T0.Add(15 * time.Minute)
	wall := time.Now()
	first, err := s.ClaimWork(ctx, due, wall, wall.Add(time.Minute), 10)
	if err != nil || len(first) != 1 || first[0].PaymentID != p.ID || first[0].Kind != payments.DueExpire {
		t.Fatalf("first claim: %+v %v", first, err)
	}
	if again, err := s.ClaimWork(ctx, due, wall, wall.Add(time.Minute), 10); err != nil || len(again) != 0 {
		t.Fatalf("claimed twice while leased: %+v %v", again, err)
	}
	// Due still lists it: the listing is everyone's, the claim is one's.
	if listed, err := s.Due(ctx, due, 10); err != nil || len(listed) != 1 {
		t.Fatalf("Due while leased: %+v %v", listed, err)
	}
	// A lease that has run out is taken over (the claimer died).
	later := wall.Add(2 * time.Minute)
	if taken, err := s.ClaimWork(ctx, due, later, later.Add(time.Minute), 10); err != nil || len(taken) != 1 {
		t.Fatalf("expired lease not taken over: %+v %v", taken, err)
	}
	if err := s.ReleaseWork(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if back, err := s.ClaimWork(ctx, due, wall, wall.Add(time.Minute), 10); err != nil || len(back) != 1 {
		t.Fatalf("released work not claimable: %+v %v", back, err)
	}
	// Not due yet: nothing to claim.
	if none, err := s.ClaimWork(ctx, T0.Add(time.Minute), later.Add(time.Hour), later.Add(2*time.Hour), 10); err != nil || len(none) != 0 {
		t.Fatalf("claimed work not yet due: %+v %v", none, err)
	}
}

// ConcurrentWorkClaims: claimers racing over the same due work (one store or several instances'
// stores on one database) never hold the same payment at once.
func ConcurrentWorkClaims(t *testing.T, stores ...store.Store) {
	s := stores[0]
	m := Sandbox(t, s)
	const n = 40
	for i := range n {
		mustCreate(t, s, NewPayment(m, fmt.Sprintf("P%03d", i), fmt.Sprintf("R%03d", i)))
	}
	due := T0.Add(15 * time.Minute)
	wall := time.Now()
	var (
		mu  sync.Mutex
		got = map[string]int{}
		wg  sync.WaitGroup
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := stores[i%len(stores)]
			for {
				items, err := st.ClaimWork(ctx, due, wall, wall.Add(time.Minute), 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(items) == 0 {
					return
				}
				mu.Lock()
				for _, d := range items {
					got[d.PaymentID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != n {
		t.Errorf("claimed %d payments, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("payment %s claimed %d times under one lease", id, c)
		}
	}
}
