package postgres_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/reports"
	"github.com/cardgate/cardgate/internal/store/postgres"
	"github.com/cardgate/cardgate/internal/store/postgres/pgtest"
	"github.com/cardgate/cardgate/internal/store/storetest"
	"github.com/cardgate/cardgate/protocol"
)

// BenchmarkReport100k makes both reports of a day of 100,000 payments on PostgreSQL (each
// authorized and captured, one in ten partly refunded, one in a hundred with a lost dispute; half
// in SGD settled in USD at a recorded rate, half in USD), written to a file as the API spools
// them, and measures each against baselines of the same run: a plain count(*) of the day's rows
// (what the database must at least read), and a scan of every row of the report's query with
// nothing done with it (the database's sorting and the transfer, without the gateway's work).
// Peak memory is the Go heap in use, sampled every 5 ms while each runs; it must stay flat
// whatever the day's size, as the report streams. The day is bulk-inserted (ImportFinished,
// COPY) once, before the timer.
//
//	go test ./internal/store/postgres -run '^$' -bench Report100k -benchtime 3x -timeout 30m
func BenchmarkReport100k(b *testing.B) {
	// A tenth of the day first: its peak memory against the whole day's shows the report does
	// not grow with the day.
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("payments=%d", n), func(b *testing.B) { benchmarkReport(b, n) })
	}
}

func benchmarkReport(b *testing.B, n int) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, pgtest.FreshSchema(b, "cg_bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	m, day := fillDay(b, st, n)
	svc := reports.NewService(st, clock.NewFixed(day.End().Add(time.Hour)))

	rowsOfDay := func() int64 {
		var total int64
		for _, q := range []string{
			`SELECT count(*) FROM payments WHERE client_id = $1 AND authorized_at > 0 AND authorized_at >= $2 AND authorized_at < $3`,
			`SELECT count(*) FROM transactions WHERE client_id = $1 AND status = 'SUCCESS' AND txn_type IN ('CAPTURE', 'REFUND') AND updated_at >= $2 AND updated_at < $3`,
			`SELECT count(*) FROM disputes WHERE client_id = $1 AND state IN ('ACCEPTED', 'LOST') AND resolved_at > 0 AND resolved_at >= $2 AND resolved_at < $3`,
		} {
			var c int64
			if err := st.Raw().QueryRow(ctx, q, m.ClientID, day.Start().UnixMilli(), day.End().UnixMilli()).Scan(&c); err != nil {
				b.Fatal(err)
			}
			total += c
		}
		return total
	}
	want := rowsOfDay()
	if want != int64(n+n+n/10+n/100) {
		b.Fatalf("the day has %d rows", want)
	}

	var size int64 // of the transaction report
	measures := []struct {
		name string
		run  func() error
	}{
		{"count", func() error { rowsOfDay(); return nil }},
		{"scan", func() error {
			var got int64
			err := st.ReportRows(ctx, m.ClientID, day.Start(), day.End(), func(reports.Row) error { got++; return nil })
			if err == nil && got != want {
				err = fmt.Errorf("scanned %d rows, want %d", got, want)
			}
			return err
		}},
		{"transactions", func() error { return spool(ctx, b, svc, m.ClientID, reports.Transactions, day, &size) }},
		{"settlement", func() error { return spool(ctx, b, svc, m.ClientID, reports.Settlement, day, nil) }},
	}
	elapsed := make([]time.Duration, len(measures))
	peaks := make([]uint64, len(measures))
	b.ResetTimer()
	for range b.N {
		for i, ms := range measures {
			d, peak, err := measured(ms.run)
			if err != nil {
				b.Fatal(err)
			}
			elapsed[i] += d
			peaks[i] = max(peaks[i], peak)
		}
	}
	b.StopTimer()
	const mib = 1 << 20
	for i, ms := range measures {
		secs := elapsed[i].Seconds() / float64(b.N)
		b.ReportMetric(secs, ms.name+"-s")
		b.ReportMetric(float64(peaks[i])/mib, ms.name+"-peak-MiB")
		if i >= 2 {
			b.ReportMetric(secs/(elapsed[0].Seconds()/float64(b.N)), ms.name+"/count")
			b.ReportMetric(secs/(elapsed[1].Seconds()/float64(b.N)), ms.name+"/scan")
		}
	}
	b.ReportMetric(float64(size)/1e6, "transactions-MB")
	b.ReportMetric(0, "ns/op") // the per-measure seconds say it
}

// spool writes a report to a temporary file, as the API does before it signs and sends it.
func spool(ctx context.Context, b *testing.B, svc *reports.Service, merchantID string, kind reports.Kind, day reports.Day, written *int64) error {
	r, err := svc.Prepare(merchantID, kind, protocol.ReportRequest{Date: day.String(), Format: "csv"})
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(b.TempDir(), "report-*")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := r.WriteTo(ctx, f); err != nil {
		return err
	}
	size, _ := f.Seek(0, io.SeekCurrent)
	if size == 0 {
		return fmt.Errorf("%s report is empty", kind)
	}
	if written != nil {
		*written = size
	}
	return nil
}

// measured runs fn and returns its time and the peak of the Go heap in use while it ran.
func measured(fn func() error) (time.Duration, uint64, error) {
	runtime.GC()
	var (
		peak atomic.Uint64
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak.Load() {
			peak.Store(ms.HeapInuse)
		}
	}
	sample()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	start := time.Now()
	err := fn()
	d := time.Since(start)
	close(stop)
	wg.Wait()
	sample()
	return d, peak.Load(), err
}

// fillDay bulk-inserts a day of n payments of a new merchant and returns the merchant and the day.
func fillDay(b *testing.B, st *postgres.Store, n int) (merchant.Merchant, reports.Day) {
	b.Helper()
	ctx := context.Background()
	m, _, err := merchant.EnsureSandbox(ctx, st, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	day := reports.DayOf(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC))
	sgd, _ := money.Lookup("SGD")
	usd, _ := money.Lookup("USD")
	toUSD := payments.SettlementTerms{Currency: "USD", Rate: "0.74074074074074074074", FeeBPS: 150, FeeFixedMinor: 30}
	own := payments.SettlementTerms{Currency: "USD", Rate: "1", FeeBPS: 150, FeeFixedMinor: 30}
	step := 24 * time.Hour / time.Duration(n)
	const batch = 5000
	var disputed []payments.Payment
	start := time.Now()
	for done := 0; done < n; done += batch {
		var ps []payments.Payment
		var ts []payments.Txn
		for i := done; i < min(done+batch, n); i++ {
			at := day.Start().Add(time.Duration(i) * step)
			p := storetest.NewPayment(m, fmt.Sprintf("2026112110%025d", i), fmt.Sprintf("order-%d", i))
			p.Amount, p.Settlement = money.Amount{Currency: sgd, Minor: 4200 + int64(i%1000)}, toUSD
			if i%2 == 1 {
				p.Amount, p.Settlement = money.Amount{Currency: usd, Minor: 1999 + int64(i%500)}, own
			}
			p.State, p.ResultCode, p.ResultMsg, p.AcquirerState, p.Version = payments.StateSuccess, protocol.CodeSuccess, "success.", payments.AcquirerAnswered, 4
			p.Auth = payments.AuthDetails{AcquirerName: "ADYEN", AcquirerMerchantID: "CardgateSandbox", AcquirerTransactionID: fmt.Sprintf("88%014d", i), AuthorizationCode: "123456"}
			p.CreatedAt, p.AuthorizedAt, p.AuthExpiresAt, p.ExpiresAt = at.Add(-time.Second), at, at.Add(payments.AuthValidity), at.Add(14*time.Minute)
			p.Capture, p.CapturedMinor, p.CapturedAt, p.UpdatedAt = payments.CaptureSucceeded, p.Amount.Minor, at, at
			c := payments.Txn{ID: fmt.Sprintf("2026112120%025d", i), PaymentID: p.ID, MerchantID: m.ClientID, Type: payments.TxnCapture,
				RequestID: p.RequestID, Status: payments.TxnSucceeded, Amount: p.Amount, ResultCode: protocol.CodeSuccess, ResultMsg: "success.",
				Details: payments.TxnDetails{AcquirerReference: fmt.Sprintf("89%014d", i)}, CreatedAt: at, UpdatedAt: at, Internal: true}
			ts = append(ts, c)
			if i%10 == 0 {
				r := c
				r.ID, r.Type, r.RequestID, r.Internal = fmt.Sprintf("2026112130%025d", i), payments.TxnRefund, fmt.Sprintf("refund-%d", i), false
				r.Amount.Minor, r.CreatedAt, r.UpdatedAt = 1000, at.Add(step/2), at.Add(step/2)
				r.Details.AcquirerReference = fmt.Sprintf("90%014d", i)
				p.RefundedMinor = 1000
				ts = append(ts, r)
			}
			ps = append(ps, p)
			if i%100 == 50 {
				disputed = append(disputed, p)
			}
		}
		if err := st.ImportFinished(ctx, ps, ts, nil); err != nil {
			b.Fatal(err)
		}
	}
	// One in a hundred lost a dispute of 10.00 the same day: opened and judged through the store.
	for _, p := range disputed {
		opened := p.AuthorizedAt.Add(step / 4)
		d := disputes.Dispute{ID: "D" + p.ID[10:], MerchantID: m.ClientID, PaymentID: p.ID, CaptureID: "2026112120" + p.ID[10:],
			AmountMinor: 1000, Currency: p.Amount.Currency.Code, ReasonCode: "10.4", ReasonMsg: "Fraud", State: disputes.Open,
			OpenedAt: opened, DefenseDue: opened.Add(disputes.DefenseWindow), Version: 1}
		if err := st.OpenDispute(ctx, disputes.Change{Dispute: d, Event: "OPEN", At: opened}); err != nil {
			b.Fatal(err)
		}
		for _, ev := range []disputes.Event{disputes.EvDefend, disputes.EvLose} {
			next, err := disputes.Apply(d, ev, opened.Add(time.Second))
			if err != nil {
				b.Fatal(err)
			}
			if err := st.ApplyDispute(ctx, disputes.Change{Dispute: next.Next, FromVersion: d.Version, Event: ev, From: d.State, At: opened.Add(time.Second)}); err != nil {
				b.Fatal(err)
			}
			d = next.Next
		}
	}
	if _, err := st.Raw().Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Logf("a day of %d payments inserted in %s", n, time.Since(start).Round(time.Millisecond))
	return m, day
}
