package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/dashboard"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
	"github.com/cardgate/cardgate/protocol"
)

// importer is the bulk insert of sqlstore (bulk.go), which the bench fills a store with.
type importer interface {
	ImportFinished(ctx context.Context, ps []payments.Payment, txns []payments.Txn, evs []payments.Event) error
}

// ConsoleBenchRows is the number of payments BenchConsoleSearch stores: $CARDGATE_BENCH_ROWS,
// else a million.
func ConsoleBenchRows() int {
	if n, err := strconv.Atoi(os.Getenv("CARDGATE_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// BenchConsoleSearch fills s with n payments of one merchant (spread over 90 days, 80% approved,
// 15% declined, 5% cancelled, amounts of 1.00 to 1,000.00, 10,000 different last fours) and
// measures the console's list page (dashboard.PageSize+1 rows, as the handler asks) for each
// kind of search, first page and a deep keyset page, reporting p50 and p99 in milliseconds.
// Run it with a count of samples: -benchtime 200x.
func BenchConsoleSearch(b *testing.B, s store.Store, n int) {
	ctx := context.Background()
	imp, ok := s.(importer)
	if !ok {
		b.Fatalf("%T has no bulk import", s)
	}
	m, _, err := merchant.EnsureSandbox(ctx, s, T0)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 90 * 24 * time.Hour / time.Duration(n)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * step).Truncate(time.Millisecond) }
	id := func(i int) string { return fmt.Sprintf("2026BENCH%012d", i) }
	start := time.Now()
	const batch = 5000
	for done := 0; done < n; done += batch {
		ps := make([]payments.Payment, 0, batch)
		for i := done; i < min(done+batch, n); i++ {
			p := NewPayment(m, id(i), "req-"+id(i))
			p.CreatedAt, p.UpdatedAt = at(i), at(i)
			p.ExpiresAt = p.CreatedAt.Add(14 * time.Minute)
			p.Amount.Minor = 100 + rng.Int64N(100_000)
			four := fmt.Sprintf("%04d", rng.IntN(10_000))
			p.Card.LastFour, p.Card.Masked = four, "************"+four
			p.AcquirerState = payments.AcquirerAnswered
			switch r := rng.IntN(100); {
			case r < 80:
				p.State, p.ResultCode, p.ResultMsg = payments.StateSuccess, protocol.CodeSuccess, "success"
				p.AuthorizedAt = p.CreatedAt
			case r < 95:
				p.State, p.ResultCode, p.ResultMsg = payments.StateFail, protocol.CodeDoNotHonor, "declined"
			default:
				p.State, p.ResultCode, p.ResultMsg, p.ClosedAt = payments.StateCancelled, protocol.CodeSuccess, "cancelled", p.CreatedAt
			}
			ps = append(ps, p)
		}
		if err := imp.ImportFinished(ctx, ps, nil, nil); err != nil {
			b.Fatalf("import after %d: %v", done, err)
		}
	}
	b.Logf("stored %d payments in %s (%.0f/s)", n, time.Since(start).Round(time.Second), float64(n)/time.Since(start).Seconds())
	// A database in service has its statistics; one just bulk-loaded has none until autovacuum
	// (PostgreSQL) or never (SQLite), and the planners guess without them.
	if raw, ok := s.(interface{ Raw() sqlstore.Conn }); ok {
		t := time.Now()
		if _, err := raw.Raw().Exec(ctx, `ANALYZE`); err != nil {
			b.Fatalf("analyze: %v", err)
		}
		b.Logf("ANALYZE in %s", time.Since(t).Round(time.Millisecond))
	}

	deep := n / 10 // 90% of the way down the newest-first list
	lastFour := "0042"
	mid := at(n / 2).Truncate(24 * time.Hour)
	cases := []struct {
		name string
		q    dashboard.PaymentQuery
	}{
		{"first", dashboard.PaymentQuery{}},
		{"deep", dashboard.PaymentQuery{AfterCreated: at(deep), AfterID: id(deep)}},
		{"status/first", dashboard.PaymentQuery{State: payments.StateFail}},
		{"status/deep", dashboard.PaymentQuery{State: payments.StateFail, AfterCreated: at(deep), AfterID: id(deep)}},
		{"last4/first", dashboard.PaymentQuery{LastFour: lastFour}},
		{"last4/deep", dashboard.PaymentQuery{LastFour: lastFour, AfterCreated: at(deep), AfterID: id(deep)}},
		{"day/first", dashboard.PaymentQuery{From: mid, To: mid.Add(24 * time.Hour)}},
		{"amount/first", dashboard.PaymentQuery{MinMinor: 5000, MaxMinor: 5100}},
		{"paymentId", dashboard.PaymentQuery{PaymentID: id(n / 3)}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			q := tc.q
			q.MerchantID, q.Limit = m.ClientID, dashboard.PageSize+1
			var took []time.Duration
			rows := 0
			b.ResetTimer()
			for b.Loop() {
				t := time.Now()
				got, err := s.SearchPayments(ctx, q)
				took = append(took, time.Since(t))
				if err != nil {
					b.Fatal(err)
				}
				rows = len(got)
			}
			slices.Sort(took)
			pct := func(p float64) float64 {
				return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}
