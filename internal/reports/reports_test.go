package reports_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/reports"
	"github.com/cardgate/cardgate/protocol"
)

var update = flag.Bool("update", false, "rewrite testdata/{transactions,settlement}.{csv,json} from the current rendering")

var day0 = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

func at(h, m int, ms int) time.Time {
	return day0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(ms)*time.Millisecond)
}

const (
	sgdToUSD = "0.74074074074074074074" // 1/1.35
	jpyToEUR = "0.00613333333333333333" // 0.92/150
)

// fixture is a day with a bit of everything: a payment in SGD settled in USD (authorized,
// captured with fees, partly refunded), one in JPY settled in EUR (captured, then a dispute
// lost), a payment from before settlement terms were recorded, and ids that CSV must quote.
var fixture = []reports.Row{
	{Type: reports.Authorization, At: at(9, 0, 0), PaymentID: "P1", PaymentRequestID: "order-1", AmountMinor: 4200,
		Currency: "SGD", PaymentCurrency: "SGD", SettlementCurrency: "USD", Rate: sgdToUSD, FeeBPS: 150, FeeFixedMinor: 30,
		Acquirer: "ADYEN", AcquirerReferenceNo: "8515131751004933"},
	{Type: reports.Capture, At: at(9, 0, 12), PaymentID: "P1", PaymentRequestID: "order-1", TxnID: "C1", TxnRequestID: "order-1",
		AmountMinor: 4200, Currency: "SGD", PaymentCurrency: "SGD", SettlementCurrency: "USD", Rate: sgdToUSD, FeeBPS: 150,
		FeeFixedMinor: 30, Acquirer: "ADYEN", AcquirerReferenceNo: "8515131751004934"},
	{Type: reports.Authorization, At: at(10, 30, 0), PaymentID: "P2", PaymentRequestID: "order-2", AmountMinor: 15000,
		Currency: "JPY", PaymentCurrency: "JPY", SettlementCurrency: "EUR", Rate: jpyToEUR, FeeBPS: 150, FeeFixedMinor: 30,
		Acquirer: "CHECKOUT", AcquirerReferenceNo: "pay_mbabizu24mvu3mela5njyhpit4"},
	{Type: reports.Capture, At: at(10, 30, 0), PaymentID: "P2", PaymentRequestID: "order-2", TxnID: "C2", TxnRequestID: "cap-2",
		AmountMinor: 15000, Currency: "JPY", PaymentCurrency: "JPY", SettlementCurrency: "EUR", Rate: jpyToEUR, FeeBPS: 150,
		FeeFixedMinor: 30, Acquirer: "CHECKOUT", AcquirerReferenceNo: "act_y3oqhf46pyzuxjbcn2giaqnb44"},
	{Type: reports.Refund, At: at(14, 5, 999), PaymentID: "P1", PaymentRequestID: "order-1", TxnID: "R1", TxnRequestID: "refund-1",
		AmountMinor: 1000, Currency: "SGD", PaymentCurrency: "SGD", SettlementCurrency: "USD", Rate: sgdToUSD, FeeBPS: 150,
		FeeFixedMinor: 30, Acquirer: "ADYEN", AcquirerReferenceNo: "8515131751004935"},
	{Type: reports.Capture, At: at(15, 0, 0), PaymentID: "P3", PaymentRequestID: "before-terms", TxnID: "C3",
		TxnRequestID: "before-terms", AmountMinor: 1000, Currency: "EUR", PaymentCurrency: "EUR", Acquirer: "CARDGATE_SIM"},
	{Type: reports.Capture, At: at(16, 0, 0), PaymentID: "P4", PaymentRequestID: `order-7,"b"`, TxnID: "C4",
		TxnRequestID: `order-7,"b"`, AmountMinor: 1, Currency: "USD", PaymentCurrency: "USD", SettlementCurrency: "USD", Rate: "1",
		FeeBPS: 150, FeeFixedMinor: 30, Acquirer: "ALIPAY", AcquirerReferenceNo: "20261121194010800100188820200000001"},
	{Type: reports.DisputeDebit, At: at(23, 59, 59999), PaymentID: "P2", PaymentRequestID: "order-2", TxnID: "D1",
		AmountMinor: 5000, Currency: "JPY", PaymentCurrency: "JPY", SettlementCurrency: "EUR", Rate: jpyToEUR, FeeBPS: 150,
		FeeFixedMinor: 30, Acquirer: "CHECKOUT", AcquirerReferenceNo: "act_y3oqhf46pyzuxjbcn2giaqnb44"},
}

func fixtureLines(t *testing.T) []reports.Line {
	t.Helper()
	var out []reports.Line
	for _, r := range fixture {
		l, err := reports.LineOf(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func stream(lines []reports.Line) reports.Lines {
	return func(fn func(reports.Line) error) error {
		for _, l := range lines {
			if err := fn(l); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestLineOf: each line's settlement amount, fee and net, to the minor unit.
func TestLineOf(t *testing.T) {
	type figures struct {
		currency, rate    string
		settled, fee, net int64
	}
	want := []figures{
		{"USD", sgdToUSD, 0, 0, 0},         // an authorization moves nothing
		{"USD", sgdToUSD, 3111, 77, 3034},  // 42.00 SGD = 31.1111 USD → 3111; 1.5% = 46.665 → 47, + 30
		{"EUR", jpyToEUR, 0, 0, 0},         //
		{"EUR", jpyToEUR, 9200, 168, 9032}, // 15000 JPY = 92.00 EUR; 138 + 30
		{"USD", sgdToUSD, -741, 0, -741},   // 10.00 SGD = 7.4074 USD → 741, debited; no fee back
		{"EUR", "1", 1000, 0, 1000},        // no terms recorded: its own currency, no fee
		{"USD", "1", 1, 30, -29},           // 1.5% of 1 cent = 0.015 → 0; the fixed fee still
		{"EUR", jpyToEUR, -3067, 0, -3067}, // 5000 JPY = 30.6667 EUR → 3067, debited
	}
	for i, l := range fixtureLines(t) {
		got := figures{l.SettlementCurrency, l.SettlementRate, l.SettlementAmount, l.Fee, l.Net}
		if got != want[i] {
			t.Errorf("line %d (%s %s): %+v, want %+v", i, l.Type, l.TransactionID, got, want[i])
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*reports.Row)
		err  string
	}{
		{"unknown type", func(r *reports.Row) { r.Type = "CHARGEBACK" }, `line type "CHARGEBACK"`},
		{"bad rate", func(r *reports.Row) { r.Rate = "0.7e1" }, "recorded rate"},
		{"another currency than the payment's", func(r *reports.Row) { r.Currency = "USD" }, "converts from SGD"},
		{"overflow", func(r *reports.Row) { r.Rate = "999999999999"; r.AmountMinor = 99999999999 }, "out of range"},
	} {
		r := fixture[1]
		tc.edit(&r)
		if _, err := reports.LineOf(r); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.err)
		}
	}
}

func TestFee(t *testing.T) {
	for _, tc := range []struct{ settled, bps, fixed, want int64 }{
		{10000, 150, 0, 150}, {10000, 0, 30, 30}, {33, 150, 0, 0}, {34, 150, 0, 1}, // 0.495 → 0; 0.51 → 1
		{100, 50, 0, 1}, // exactly 0.5: away from zero
		{9999999999999999, 10000, 0, 9999999999999999},
	} {
		if got, err := reports.Fee(tc.settled, tc.bps, tc.fixed); err != nil || got != tc.want {
			t.Errorf("Fee(%d, %d bps, %d) = %d, %v; want %d", tc.settled, tc.bps, tc.fixed, got, err, tc.want)
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/reports -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file (go test ./internal/reports -update rewrites it):\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestGolden: both reports in both formats, byte for byte.
func TestGolden(t *testing.T) {
	day := reports.DayOf(day0)
	for _, f := range []reports.Format{reports.CSV, reports.JSON} {
		totals := reports.NewTotals()
		var tx bytes.Buffer
		if err := reports.WriteTransactions(&tx, f, day, stream(fixtureLines(t)), totals); err != nil {
			t.Fatal(err)
		}
		golden(t, "transactions."+string(f), tx.Bytes())
		var st bytes.Buffer
		if err := reports.WriteSettlement(&st, f, day, totals.List()); err != nil {
			t.Fatal(err)
		}
		golden(t, "settlement."+string(f), st.Bytes())
	}
}

// TestEmptyReports: a day without lines is a header alone, or an empty array.
func TestEmptyReports(t *testing.T) {
	day := reports.DayOf(day0)
	for _, tc := range []struct {
		f           reports.Format
		tx, settled string
	}{
		{reports.CSV, strings.Join(reports.TransactionColumns, ",") + "\n", strings.Join(reports.SettlementColumns, ",") + "\n"},
		{reports.JSON, `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},"report":"transactions","date":"2026-11-21","lines":[]}` + "\n",
			`{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},"report":"settlement","date":"2026-11-21","currencies":[]}` + "\n"},
	} {
		var tx, st bytes.Buffer
		if err := reports.WriteTransactions(&tx, tc.f, day, stream(nil), nil); err != nil || tx.String() != tc.tx {
			t.Errorf("%s transactions: %q, %v; want %q", tc.f, tx.String(), err, tc.tx)
		}
		if err := reports.WriteSettlement(&st, tc.f, day, nil); err != nil || st.String() != tc.settled {
			t.Errorf("%s settlement: %q, %v; want %q", tc.f, st.String(), err, tc.settled)
		}
	}
}

// TestTotalsAreTheLinesSums: every figure of the settlement report is the sum of the
// transaction report's lines of its currency, to the minor unit: net is the lines' net, and
// gross + refunds + dispute debits − fees.
func TestTotalsAreTheLinesSums(t *testing.T) {
	// Many lines of every kind, amounts that round both ways, over three currencies.
	var lines []reports.Line
	for i := range 3000 {
		r := fixture[i%len(fixture)]
		r.AmountMinor = int64(1 + (i*7919)%9000)
		r.TxnID = r.TxnID + "-" + string(rune('a'+i%26))
		l, err := reports.LineOf(r)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	totals := reports.NewTotals()
	for _, l := range lines {
		totals.Add(l)
	}
	sums := map[string]*[6]int64{}
	for _, l := range lines {
		s, ok := sums[l.SettlementCurrency]
		if !ok {
			s = &[6]int64{}
			sums[l.SettlementCurrency] = s
		}
		switch l.Type {
		case reports.Capture:
			s[0] += l.SettlementAmount
		case reports.Refund:
			s[1] += l.SettlementAmount
		case reports.DisputeDebit:
			s[2] += l.SettlementAmount
		}
		s[3] += l.Fee
		s[4] += l.Net
		s[5]++
	}
	list := totals.List()
	if len(list) != len(sums) {
		t.Fatalf("%d currencies, want %d", len(list), len(sums))
	}
	for _, tot := range list {
		s := sums[tot.SettlementCurrency]
		got := [6]int64{tot.Gross.Int64(), tot.Refunds.Int64(), tot.DisputeDebits.Int64(), tot.Fees.Int64(), tot.Net.Int64(), tot.Lines}
		if got != *s {
			t.Errorf("%s: totals %v, the lines' sums %v", tot.SettlementCurrency, got, *s)
		}
		parts := new(big.Int).Add(tot.Gross, tot.Refunds)
		parts.Add(parts, tot.DisputeDebits).Sub(parts, tot.Fees)
		if parts.Cmp(tot.Net) != 0 {
			t.Errorf("%s: gross + refunds + dispute debits − fees = %s, net %s", tot.SettlementCurrency, parts, tot.Net)
		}
	}
}

// rowStore is a Store over a fixed day.
type rowStore struct {
	rows     []reports.Row
	from, to time.Time
}

func (s *rowStore) ReportRows(_ context.Context, _ string, from, to time.Time, fn func(reports.Row) error) error {
	s.from, s.to = from, to
	for _, r := range s.rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// TestPrepare: the dates and formats a request may give, today and earlier days but never a day
// after the gateway clock's, each refusal PARAM_ILLEGAL naming its field.
func TestPrepare(t *testing.T) {
	now := day0.Add(13 * time.Hour)
	svc := reports.NewService(&rowStore{}, clock.NewFixed(now))
	for _, tc := range []struct {
		date, format string
		day          string
		f            reports.Format
		err          string
	}{
		{date: "2026-11-21", day: "2026-11-21", f: reports.CSV},
		{date: "today", format: "json", day: "2026-11-21", f: reports.JSON},
		{date: "2026-11-20", format: "csv", day: "2026-11-20", f: reports.CSV},
		{date: "1999-01-01", day: "1999-01-01", f: reports.CSV},
		{date: "", err: "date is required"},
		{date: "2026-11-22", err: "date 2026-11-22 is in the future: the gateway clock's day is 2026-11-21 (UTC)"},
		{date: "2026-11-21T00:00:00Z", err: `date "2026-11-21T00:00:00Z" is not a day written YYYY-MM-DD`},
		{date: "2026-2-01", err: "is not a day written YYYY-MM-DD"},
		{date: "2026-02-30", err: "is not a day written YYYY-MM-DD"},
		{date: "yesterday", err: `give a UTC day of the gateway clock, YYYY-MM-DD, or "today"`},
		{date: "today", format: "xlsx", err: `format "xlsx" is not csv or json`},
		{date: "today", format: "CSV", err: `format "CSV"`},
	} {
		r, err := svc.Prepare("M", reports.Transactions, protocol.ReportRequest{Date: tc.date, Format: tc.format})
		if tc.err != "" {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeParamIllegal || !strings.Contains(pe.Message, tc.err) {
				t.Errorf("date %q format %q: %v, want PARAM_ILLEGAL containing %q", tc.date, tc.format, err, tc.err)
			}
			continue
		}
		if err != nil || r.Day.String() != tc.day || r.Format != tc.f {
			t.Errorf("date %q format %q: %s %s, %v; want %s %s", tc.date, tc.format, r.Day, r.Format, err, tc.day, tc.f)
		}
	}
}

// TestWriteTo: a prepared report asks the store for its day, [00:00, 24:00) UTC, and writes what
// the store streams; a row that cannot be computed fails the report.
func TestWriteTo(t *testing.T) {
	st := &rowStore{rows: fixture}
	svc := reports.NewService(st, clock.NewFixed(day0.Add(30*time.Hour)))
	for _, kind := range []reports.Kind{reports.Transactions, reports.Settlement} {
		r, err := svc.Prepare("M", kind, protocol.ReportRequest{Date: "2026-11-21", Format: "csv"})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := r.WriteTo(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		if !st.from.Equal(day0) || !st.to.Equal(day0.Add(24*time.Hour)) {
			t.Errorf("%s asked for [%s, %s)", kind, st.from, st.to)
		}
		want, _ := os.ReadFile(filepath.Join("testdata", string(kind)+".csv"))
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s through the service differs from its golden file:\n%s", kind, b.Bytes())
		}
	}
	bad := fixture[1]
	bad.Rate = "x"
	st.rows = []reports.Row{fixture[0], bad}
	r, _ := svc.Prepare("M", reports.Settlement, protocol.ReportRequest{Date: "2026-11-21"})
	if err := r.WriteTo(context.Background(), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "report of 2026-11-21") {
		t.Errorf("a bad row: %v", err)
	}
}
