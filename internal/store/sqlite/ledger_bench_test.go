package sqlite_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/protocol"
)

// BenchmarkPayLedger is the cost of the sandbox acquirer's books on SQLite: a pay (automatic
// capture) through the payments service on a real store, with the simulator booking its
// authorizations in memory (as before the books existed) and in the store's sim_acquirer_ledger
// (as serve does, so that an instance can resolve what a dead one sent). Compare the two in one
// run: their ratio is the price of one more write per pay on SQLite's single writer.
//
// The "store/background" case runs the automatic captures as serve does, off the request path and
// recorded in batches (payments.StartCaptures); its time per pay includes waiting for the last
// captures, so it compares with "store" (the capture in the request) as whole work per pay.
// "store/background/ungrouped" is the same with every transaction committing alone, as before
// group commit (group.go).
//
//	go test ./internal/store/sqlite -run '^$' -bench PayLedger -benchtime 3s -count 3
func BenchmarkPayLedger(b *testing.B) {
	for _, books := range []string{"memory", "store", "store/background", "store/background/ungrouped"} {
		b.Run(books, func(b *testing.B) {
			ctx := context.Background()
			open := sqlite.Open
			if strings.HasSuffix(books, "/ungrouped") {
				open = sqlite.OpenUngrouped
			}
			st, err := open(ctx, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			clk := clock.Wall{}
			sim := simulator.New("SIM", clk)
			if books != "memory" {
				sim = sim.WithLedger(st.SimulatorLedger())
			}
			svc := payments.NewService(st, sim, clk, slog.New(slog.DiscardHandler), payments.Config{})
			if strings.HasPrefix(books, "store/background") {
				bg, stop := context.WithCancel(ctx)
				wait := svc.StartCaptures(bg)
				defer func() { stop(); wait() }()
				defer func() {
					if err := svc.CapturesIdle(ctx); err != nil {
						b.Error(err)
					}
				}()
			}
			sandbox, _, err := merchant.EnsureSandbox(ctx, st, clk.Now())
			if err != nil {
				b.Fatal(err)
			}
			m := payments.Merchant{ID: sandbox.ClientID, FingerprintKey: sandbox.FingerprintKey}
			var n atomic.Int64
			b.SetParallelism(4) // the bench command's load, per core
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := &protocol.PayRequest{
						ProductCode:      "CASHIER_PAYMENT",
						PaymentRequestID: fmt.Sprintf("bench-%d", n.Add(1)),
						PaymentAmount:    &protocol.Amount{Currency: "SGD", Value: "4200"},
						PaymentMethod: &protocol.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodMetaData: &protocol.CardMetaData{CardNo: "4242424242424242", ExpiryMonth: "06", ExpiryYear: "39", CVV: "123",
							CardholderName: &protocol.UserName{FirstName: "Alan", LastName: "Wallex"}}},
						PaymentRedirectURL: "https://shop.example/return",
						PaymentFactor:      &protocol.PaymentFactor{IsAuthorization: true, CaptureMode: "AUTOMATIC"},
						Order:              &protocol.Order{ReferenceOrderID: "order-1", OrderDescription: "bench order", Buyer: &protocol.Buyer{ReferenceBuyerID: "buyer-1"}},
						Env:                &protocol.Env{TerminalType: "WEB", ClientIP: "203.0.113.7"},
					}
					p, err := svc.Pay(ctx, m, req)
					if err != nil || p.State != payments.StateSuccess {
						b.Errorf("pay: %s %v", p.State, err)
						return
					}
				}
			})
		})
	}
}
