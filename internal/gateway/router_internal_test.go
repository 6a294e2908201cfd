package gateway

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/payments"
)

// TestRouteSetsOpenBreakersAside: an acquirer whose breaker is open moves to the end of every
// route, the others keeping their order; once it is due for a probe it takes its place again.
func TestRouteSetsOpenBreakersAside(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFixed(now)
	ledger := simulator.NewMemoryLedger()
	r, err := buildAcquirers(SandboxAcquirers(), ledgerStore{ledger}, clk, "", func(a acquirer.Acquirer) acquirer.Acquirer { return a },
		acquirer.BreakerConfig{Failures: 1, Cooldown: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	// Find a request whose route starts with ADYEN.
	var key string
	var route []string
	for i := 0; ; i++ {
		key = "req-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if route, _ = r.Route(context.Background(), "M", payments.RouteFacts{RequestID: key}); route[0] == "ADYEN" {
			break
		}
	}
	pan, _ := card.ParseNumber("4000000000000317")
	if _, err := r.breakers["ADYEN"].Authorize(context.Background(), acquirer.AuthRequest{PaymentID: "P", Card: pan, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	aside, _ := r.Route(context.Background(), "M", payments.RouteFacts{RequestID: key})
	if want := append(slices.Clone(route[1:]), "ADYEN"); !slices.Equal(aside, want) {
		t.Fatalf("route with ADYEN's breaker open %v, want %v", aside, want)
	}
	now = now.Add(time.Minute)
	if again, _ := r.Route(context.Background(), "M", payments.RouteFacts{RequestID: key}); !slices.Equal(again, route) {
		t.Fatalf("route after the cooldown %v, want %v", again, route)
	}
}

type ledgerStore struct{ l simulator.Ledger }

func (s ledgerStore) SimulatorLedger() simulator.Ledger { return s.l }
