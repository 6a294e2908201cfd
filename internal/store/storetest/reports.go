package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/reports"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/protocol"
)

// The report fixture's day, and its settlement terms: SGD payments settle in USD, the JPY one in
// EUR, both with fees of 1.5% + 30.
var (
	reportDay = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	toUSD     = payments.SettlementTerms{Currency: "USD", Rate: "0.74074074074074074074", FeeBPS: 150, FeeFixedMinor: 30}
	toEUR     = payments.SettlementTerms{Currency: "EUR", Rate: "0.00613333333333333333", FeeBPS: 150, FeeFixedMinor: 30}
)

func dayAt(h, m, s, ms int) time.Time {
	return reportDay.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(ms)*time.Millisecond)
}

// reportPayment creates a payment of m created just before authorizedAt and, unless
// authorizedAt is zero, authorizes it then.
func reportPayment(t *testing.T, s store.Store, m merchant.Merchant, id string, amount money.Amount, terms payments.SettlementTerms, authorizedAt time.Time) payments.Payment {
	t.Helper()
	created := authorizedAt.Add(-time.Second)
	if authorizedAt.IsZero() {
		created = dayAt(9, 0, 0, 0)
	}
	p := NewPayment(m, id, "R-"+id)
	p.Amount, p.Settlement, p.CreatedAt, p.UpdatedAt, p.ExpiresAt = amount, terms, created, created, created.Add(14*time.Minute)
	mustCreate(t, s, p)
	if authorizedAt.IsZero() {
		next := p
		next.State, next.ResultCode, next.ResultMsg, next.AcquirerState, next.UpdatedAt = payments.StateFail, protocol.CodeDoNotHonor, "declined", payments.AcquirerAnswered, created
		return mustApply(t, s, change(p, next, payments.OpAuthDeclined))
	}
	next := approved(p)
	next.AuthorizedAt, next.UpdatedAt, next.AuthExpiresAt = authorizedAt, authorizedAt, authorizedAt.Add(payments.AuthValidity)
	return mustApply(t, s, change(p, next, payments.OpAuthApproved))
}

// reportCapture captures p in full with a capture that is final (SUCCESS) at at, or, with
// pendingFrom set, that was in process from then and succeeds at at.
func reportCapture(t *testing.T, s store.Store, p payments.Payment, id string, at, pendingFrom time.Time) payments.Payment {
	t.Helper()
	if pendingFrom.IsZero() {
		txn := newTxn(p, id, payments.TxnCapture, "CR-"+id, payments.TxnSucceeded, p.Amount.Minor, at)
		next := p
		next.Capture, next.CapturedMinor, next.CapturedAt, next.UpdatedAt = payments.CaptureSucceeded, p.Amount.Minor, at, at
		c := change(p, next, payments.OpCaptureSucceeded)
		c.NewTxn, c.Event.TxnID = txn, id
		return mustApply(t, s, c)
	}
	txn := newTxn(p, id, payments.TxnCapture, "CR-"+id, payments.TxnProcessing, p.Amount.Minor, pendingFrom)
	next := p
	next.Capture, next.UpdatedAt = payments.CaptureProcessing, pendingFrom
	c := change(p, next, payments.OpCapture)
	c.NewTxn, c.Event.TxnID = txn, id
	p = mustApply(t, s, c)
	done := *txn
	done.Status, done.ResultCode, done.UpdatedAt = payments.TxnSucceeded, protocol.CodeSuccess, at
	next = p
	next.Capture, next.CapturedMinor, next.CapturedAt, next.UpdatedAt = payments.CaptureSucceeded, p.Amount.Minor, at, at
	c = change(p, next, payments.OpCaptureSucceeded)
	c.Txn, c.Event.TxnID = &done, id
	return mustApply(t, s, c)
}

// reportRefund adds a refund of minor to p, in status, at at.
func reportRefund(t *testing.T, s store.Store, p payments.Payment, id string, minor int64, status payments.TxnStatus, at time.Time) payments.Payment {
	t.Helper()
	txn := newTxn(p, id, payments.TxnRefund, "RR-"+id, status, minor, at)
	next := p
	next.UpdatedAt = at
	if status != payments.TxnFailed {
		next.RefundedMinor += minor
	}
	c := change(p, next, payments.OpRefund)
	c.NewTxn, c.Event.TxnID = txn, id
	return mustApply(t, s, c)
}

// reportDispute opens a dispute of minor on p's capture at 10:30 and takes it through events,
// the last at at.
func reportDispute(t *testing.T, s store.Store, p payments.Payment, id, captureID string, minor int64, at time.Time, events ...disputes.Event) {
	t.Helper()
	d := newDispute(p, id, minor)
	d.Currency, d.CaptureID = p.Amount.Currency.Code, captureID
	d.OpenedAt, d.DefenseDue = dayAt(10, 30, 0, 0), dayAt(10, 30, 0, 0).Add(disputes.DefenseWindow)
	if err := s.OpenDispute(ctx, openChange(d)); err != nil {
		t.Fatal(err)
	}
	for i, ev := range events {
		when := at
		if i < len(events)-1 {
			when = dayAt(11, 0, 0, 0)
		}
		st, err := disputes.Apply(d, ev, when)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyDispute(ctx, disputes.Change{Dispute: st.Next, FromVersion: d.Version, Event: ev, From: d.State, At: when}); err != nil {
			t.Fatal(err)
		}
		d = st.Next
	}
}

// testReportRows: a day's rows are the authorizations of the day, the captures and refunds that
// succeeded in it (a capture in process before the day included, one in process or failed
// excluded) and the disputes lost or accepted in it, the day's bounds [00:00, 24:00) UTC exact,
// in order of time, then id byte by byte, with the terms the payments recorded and the acquirer's
// references; nothing of another merchant or of another day. Through the reports service the
// lines and the settlement totals are exact to the minor unit, with a settlement in another
// currency; fn's error stops the stream.
func testReportRows(t *testing.T, s store.Store) {
	m, other := Sandbox(t, s), Other(t, s, "OTHER_REPORT")
	sgd4200 := money.Amount{Currency: sgd(), Minor: 4200}
	jpy, _ := money.Lookup("JPY")

	reportPayment(t, s, m, "P0", sgd4200, toUSD, dayAt(0, 0, 0, 0))
	p1 := reportPayment(t, s, m, "P1", sgd4200, toUSD, dayAt(10, 0, 1, 0))
	p1 = reportCapture(t, s, p1, "C1", dayAt(10, 0, 2, 0), time.Time{})
	p1 = reportRefund(t, s, p1, "R1", 1000, payments.TxnSucceeded, dayAt(11, 0, 0, 0))
	p1 = reportRefund(t, s, p1, "R2", 500, payments.TxnProcessing, dayAt(12, 0, 0, 0))
	reportRefund(t, s, p1, "R3", 300, payments.TxnFailed, dayAt(13, 0, 0, 0))

	p2 := reportPayment(t, s, m, "P2", money.Amount{Currency: jpy, Minor: 15000}, toEUR, dayAt(10, 0, 5, 0))
	p2 = reportCapture(t, s, p2, "C2", dayAt(10, 0, 6, 0), time.Time{})
	reportDispute(t, s, p2, "D1", "C2", 5000, dayAt(14, 0, 0, 0), disputes.EvAccept)
	reportDispute(t, s, p2, "D2", "C2", 1000, dayAt(15, 0, 0, 0), disputes.EvDefend, disputes.EvLose)
	reportDispute(t, s, p2, "D3", "C2", 1000, dayAt(15, 0, 0, 0), disputes.EvDefend, disputes.EvWin)
	reportDispute(t, s, p2, "D4", "C2", 100, time.Time{})

	// Authorized the day before; its capture was in process over midnight and succeeded today.
	p3 := reportPayment(t, s, m, "P3", sgd4200, toUSD, dayAt(-12, 0, 1, 0))
	reportCapture(t, s, p3, "C3", dayAt(16, 0, 0, 0), dayAt(-12, 0, 2, 0))
	// A capture still in process today, and one that succeeds tomorrow.
	p8 := reportPayment(t, s, m, "P8", sgd4200, toUSD, dayAt(-1, 0, 0, 0))
	reportCapture(t, s, p8, "C8", dayAt(24, 0, 0, 0), dayAt(20, 0, 0, 0))
	p9 := reportPayment(t, s, m, "P9", sgd4200, toUSD, dayAt(-1, 0, 0, 1))
	mustAddTxn(t, s, p9, newTxn(p9, "C9", payments.TxnCapture, "CR-C9", payments.TxnProcessing, 4200, dayAt(20, 0, 0, 0)))

	reportPayment(t, s, m, "P4", sgd4200, toUSD, dayAt(23, 59, 59, 999))
	reportPayment(t, s, m, "P5", sgd4200, toUSD, dayAt(24, 0, 0, 0))
	reportPayment(t, s, m, "pay-a", sgd4200, toUSD, dayAt(17, 0, 0, 0))
	reportPayment(t, s, m, "pay-B", sgd4200, toUSD, dayAt(17, 0, 0, 0)) // "B" < "a" byte by byte, not in a locale's order
	reportPayment(t, s, m, "P6", sgd4200, toUSD, time.Time{})           // declined
	// From before settlement terms were recorded: its capture at the same millisecond as its
	// authorization sorts first by id ("C7" < "P7").
	p7 := reportPayment(t, s, m, "P7", sgd4200, payments.SettlementTerms{}, dayAt(18, 0, 0, 0))
	reportCapture(t, s, p7, "C7", dayAt(18, 0, 0, 0), time.Time{})
	op := reportPayment(t, s, other, "OP1", sgd4200, toUSD, dayAt(10, 0, 1, 0))
	reportCapture(t, s, op, "OC1", dayAt(10, 0, 2, 0), time.Time{})

	var got []reports.Row
	if err := s.ReportRows(ctx, m.ClientID, reportDay, reportDay.AddDate(0, 0, 1), func(r reports.Row) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range got {
		id := r.TxnID
		if id == "" {
			id = r.PaymentID
		}
		order = append(order, fmt.Sprintf("%s %s %s", r.At.Format("15:04:05.000"), r.Type, id))
	}
	same(t, "rows", strings.Join(order, "\n"), strings.Join([]string{
		"00:00:00.000 AUTHORIZATION P0",
		"10:00:01.000 AUTHORIZATION P1",
		"10:00:02.000 CAPTURE C1",
		"10:00:05.000 AUTHORIZATION P2",
		"10:00:06.000 CAPTURE C2",
		"11:00:00.000 REFUND R1",
		"14:00:00.000 DISPUTE_DEBIT D1",
		"15:00:00.000 DISPUTE_DEBIT D2",
		"16:00:00.000 CAPTURE C3",
		"17:00:00.000 AUTHORIZATION pay-B",
		"17:00:00.000 AUTHORIZATION pay-a",
		"18:00:00.000 CAPTURE C7",
		"18:00:00.000 AUTHORIZATION P7",
		"23:59:59.999 AUTHORIZATION P4",
	}, "\n"))
	same(t, "a refund row", got[5], reports.Row{Type: reports.Refund, At: dayAt(11, 0, 0, 0), PaymentID: "P1", PaymentRequestID: "R-P1",
		TxnID: "R1", TxnRequestID: "RR-R1", AmountMinor: 1000, Currency: "SGD", PaymentCurrency: "SGD", SettlementCurrency: "USD",
		Rate: toUSD.Rate, FeeBPS: 150, FeeFixedMinor: 30, Acquirer: "SIM", AcquirerReferenceNo: "ACQ-R1"})
	same(t, "an authorization's reference", got[1].AcquirerReferenceNo, "A-P1")
	same(t, "a dispute's reference is its capture's", got[6].AcquirerReferenceNo, "ACQ-C2")
	same(t, "a dispute's amount", fmt.Sprintf("%d %s %v", got[6].AmountMinor, got[6].Currency, got[6].TxnRequestID == ""), "5000 JPY true")
	same(t, "terms of a payment from before them", fmt.Sprint(got[11].SettlementCurrency == "", got[11].Rate == "", got[11].FeeBPS), "true true 0")

	// Through the service: every line, then the totals, to the minor unit.
	svc := reports.NewService(s, clock.NewFixed(reportDay.Add(30*time.Hour)))
	write := func(kind reports.Kind) string {
		t.Helper()
		r, err := svc.Prepare(m.ClientID, kind, protocol.ReportRequest{Date: "2026-11-21", Format: "csv"})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := r.WriteTo(ctx, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	var figures []string
	for _, line := range strings.Split(strings.TrimSpace(write(reports.Transactions)), "\n")[1:] {
		f := strings.Split(line, ",")
		figures = append(figures, strings.Join([]string{f[1], f[4], f[6], f[7], f[8], f[10], f[11], f[12]}, " "))
	}
	same(t, "lines: type, id, amount, settlement amount, fee, net", strings.Join(figures, "\n"), strings.Join([]string{
		"AUTHORIZATION  4200 SGD USD 0 0 0",
		"AUTHORIZATION  4200 SGD USD 0 0 0",
		"CAPTURE C1 4200 SGD USD 3111 77 3034", // 42.00 SGD at 1/1.35 = 31.11 USD; 1.5% = 46.665 → 47, + 30
		"AUTHORIZATION  15000 JPY EUR 0 0 0",
		"CAPTURE C2 15000 JPY EUR 9200 168 9032", // 15000 JPY at 0.92/150 = 92.00 EUR
		"REFUND R1 1000 SGD USD -741 0 -741",     // 7.4074 USD; the fee is not returned
		"DISPUTE_DEBIT D1 5000 JPY EUR -3067 0 -3067",
		"DISPUTE_DEBIT D2 1000 JPY EUR -613 0 -613",
		"CAPTURE C3 4200 SGD USD 3111 77 3034",
		"AUTHORIZATION  4200 SGD USD 0 0 0",
		"AUTHORIZATION  4200 SGD USD 0 0 0",
		"CAPTURE C7 4200 SGD SGD 4200 0 4200",
		"AUTHORIZATION  4200 SGD SGD 0 0 0",
		"AUTHORIZATION  4200 SGD USD 0 0 0",
	}, "\n"))
	same(t, "settlement", write(reports.Settlement), strings.Join([]string{
		"settlementCurrency,gross,refunds,disputeDebits,fees,net,lines",
		"EUR,9200,0,-3680,168,5352,4",
		"SGD,4200,0,0,0,4200,2",
		"USD,6222,-741,0,154,5327,8",
	}, "\n")+"\n")

	stop := errors.New("enough")
	n := 0
	err := s.ReportRows(ctx, m.ClientID, reportDay, reportDay.AddDate(0, 0, 1), func(reports.Row) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("fn's error: %v after %d rows, want it returned after 3", err, n)
	}
	// The store is usable after a stream stopped early (SQLite: its one connection came back).
	requireUsable(t, s, "AFTER_REPORT", "NO_SUCH_MERCHANT")
	if err := s.ReportRows(ctx, "NO\x00MERCHANT", reportDay, reportDay.AddDate(0, 0, 1), func(reports.Row) error {
		t.Fatal("a row for an unstorable id")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
