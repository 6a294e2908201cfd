// Package reports is a merchant's day in money (docs/reports.md, issue 15): the transaction
// report, one line per money movement that became final in a UTC day of the gateway clock, and
// the settlement report, those lines summed per settlement currency. Every figure is computed
// from values recorded when they happened (the amount, and the settlement currency, cross rate
// and fees recorded with the payment), never from today's tables, so a closed day's report is the
// same whenever and by whichever instance it is made. The package does no I/O but writing to an
// io.Writer: the rows come from a Store as a stream, and a line is written as soon as it is read.
package reports

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/cardgate/cardgate/internal/fx"
	"github.com/cardgate/cardgate/internal/money"
)

// LineType is what a line records.
type LineType string

const (
	// Authorization: a payment authorized in the day. No money moves; the line is there so that
	// every authorized payment appears, its settlement figures 0.
	Authorization LineType = "AUTHORIZATION"
	// Capture: a successful capture (automatic ones included), at the time it succeeded.
	Capture LineType = "CAPTURE"
	// Refund: a successful refund, at the time it succeeded.
	Refund LineType = "REFUND"
	// DisputeDebit: a dispute lost or accepted, at the time it was resolved.
	DisputeDebit LineType = "DISPUTE_DEBIT"
)

// Row is one movement as the store recorded it: what happened, and the terms its payment
// recorded when it was created.
type Row struct {
	Type LineType
	At   time.Time
	// PaymentID and PaymentRequestID are the payment's; TxnID is the captureId, refundId or
	// disputeId ("" for an authorization), TxnRequestID the captureRequestId or refundRequestId
	// (the paymentRequestId for an automatic capture; "" for an authorization or a dispute).
	PaymentID, PaymentRequestID string
	TxnID, TxnRequestID         string
	// AmountMinor and Currency are the movement's own amount (a partial refund's, a dispute's);
	// PaymentCurrency is its payment's, which the recorded rate converts from.
	AmountMinor     int64
	Currency        string
	PaymentCurrency string
	// The payment's settlement terms: "" and 0 for a payment from before they were recorded,
	// which settles in its own currency at 1 without fee.
	SettlementCurrency string
	Rate               string
	FeeBPS             int64
	FeeFixedMinor      int64
	// Acquirer is the acquirer that authorized the payment; AcquirerReferenceNo the acquirer's
	// id of the movement (of the authorization, the capture or the refund; of the disputed
	// capture for a dispute), as the merchant sees it in inquiry.
	Acquirer            string
	AcquirerReferenceNo string
}

// Line is a line of the transaction report: a Row with its settlement figures. Amount is the
// movement's, always positive; SettlementAmount is signed (captures +, refunds and dispute
// debits −), Fee is a capture's, and Net is SettlementAmount − Fee.
type Line struct {
	Time                                time.Time
	Type                                LineType
	PaymentID, PaymentRequestID         string
	TransactionID, TransactionRequestID string
	Amount                              int64
	Currency                            string
	SettlementCurrency                  string
	SettlementRate                      string
	SettlementAmount                    int64
	Fee                                 int64
	Net                                 int64
	Acquirer, AcquirerReferenceNo       string
}

// Lines is a stream of lines: it calls fn with each, in report order, and stops at fn's first
// error.
type Lines func(fn func(Line) error) error

// rates caches parsed rates by their text: a day has few distinct ones, and parsing a big.Rat
// per line would be most of a report's work.
type rates map[string]fx.Rate

func (c rates) parse(s string) (fx.Rate, error) {
	if r, ok := c[s]; ok {
		return r, nil
	}
	r, err := fx.ParseRate(s)
	if err != nil {
		return r, err
	}
	c[s] = r
	return r, nil
}

// LineOf computes a row's line. The settlement amount is the row's amount converted at the
// payment's recorded rate (fx.Convert: half away from zero, to the settlement currency's minor
// unit); a capture's fee is FeeBPS of that, rounded the same way, plus FeeFixedMinor.
func LineOf(r Row) (Line, error) { return lineOf(r, rates{}) }

func lineOf(r Row, cache rates) (Line, error) {
	l := Line{Time: r.At, Type: r.Type, PaymentID: r.PaymentID, PaymentRequestID: r.PaymentRequestID,
		TransactionID: r.TxnID, TransactionRequestID: r.TxnRequestID, Amount: r.AmountMinor, Currency: r.Currency,
		SettlementCurrency: r.SettlementCurrency, SettlementRate: r.Rate, Acquirer: r.Acquirer, AcquirerReferenceNo: r.AcquirerReferenceNo}
	if l.SettlementCurrency == "" {
		// Recorded before settlement terms were: its own currency, at 1, without fee.
		l.SettlementCurrency, l.SettlementRate = r.PaymentCurrency, fx.One.String()
	}
	if r.Currency != r.PaymentCurrency {
		return l, fmt.Errorf("%s %s of payment %s is in %s, but the payment's rate converts from %s", r.Type, r.TxnID, r.PaymentID, r.Currency, r.PaymentCurrency)
	}
	from, ok := money.Lookup(r.Currency)
	to, ok2 := money.Lookup(l.SettlementCurrency)
	if !ok || !ok2 {
		return l, fmt.Errorf("payment %s: currency %q or settlement currency %q unknown", r.PaymentID, r.Currency, l.SettlementCurrency)
	}
	rate, err := cache.parse(l.SettlementRate)
	if err != nil {
		return l, fmt.Errorf("payment %s: recorded rate: %w", r.PaymentID, err)
	}
	var sign int64
	switch r.Type {
	case Authorization:
		return l, nil
	case Capture:
		sign = 1
	case Refund, DisputeDebit:
		sign = -1
	default:
		return l, fmt.Errorf("payment %s: line type %q unknown", r.PaymentID, r.Type)
	}
	settled, err := fx.Convert(r.AmountMinor, from, to, rate)
	if err != nil {
		return l, fmt.Errorf("%s %s of payment %s: %w", r.Type, r.TxnID, r.PaymentID, err)
	}
	l.SettlementAmount = sign * settled
	if r.Type == Capture {
		if l.Fee, err = Fee(settled, r.FeeBPS, r.FeeFixedMinor); err != nil {
			return l, fmt.Errorf("capture %s of payment %s: %w", r.TxnID, r.PaymentID, err)
		}
	}
	l.Net = l.SettlementAmount - l.Fee
	return l, nil
}

// Fee is the fee of a capture settled at settledMinor: bps basis points of it, rounded half away
// from zero, plus fixedMinor.
func Fee(settledMinor, bps, fixedMinor int64) (int64, error) {
	pct, err := fx.RoundHalfAway(new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(settledMinor), big.NewInt(bps)), big.NewInt(10000)))
	if err != nil {
		return 0, err
	}
	return pct + fixedMinor, nil
}

// Total is the settlement report's line for one settlement currency: the sums of the transaction
// report's lines in it. Refunds and DisputeDebits are signed as their lines are (≤ 0); Net is
// Gross + Refunds + DisputeDebits − Fees, the sum of the lines' net. Sums are big integers: a
// day of many large amounts may pass 64 bits, though no line does.
type Total struct {
	SettlementCurrency                  string
	Gross, Refunds, DisputeDebits, Fees *big.Int
	Net                                 *big.Int
	// Lines counts the currency's lines, authorizations included.
	Lines int64
}

// Totals sums lines per settlement currency as they stream past.
type Totals struct {
	by map[string]*Total
}

// NewTotals is an empty sum.
func NewTotals() *Totals { return &Totals{by: map[string]*Total{}} }

// Add counts a line in.
func (t *Totals) Add(l Line) {
	tot, ok := t.by[l.SettlementCurrency]
	if !ok {
		tot = &Total{SettlementCurrency: l.SettlementCurrency, Gross: new(big.Int), Refunds: new(big.Int),
			DisputeDebits: new(big.Int), Fees: new(big.Int), Net: new(big.Int)}
		t.by[l.SettlementCurrency] = tot
	}
	tot.Lines++
	add := func(sum *big.Int, v int64) { sum.Add(sum, big.NewInt(v)) }
	switch l.Type {
	case Capture:
		add(tot.Gross, l.SettlementAmount)
	case Refund:
		add(tot.Refunds, l.SettlementAmount)
	case DisputeDebit:
		add(tot.DisputeDebits, l.SettlementAmount)
	}
	add(tot.Fees, l.Fee)
	add(tot.Net, l.Net)
}

// List is the totals by settlement currency code.
func (t *Totals) List() []Total {
	out := make([]Total, 0, len(t.by))
	for _, tot := range t.by {
		out = append(out, *tot)
	}
	sortTotals(out)
	return out
}

// Store streams a merchant's rows of [from, to).
type Store interface {
	// ReportRows calls fn with each row of the merchant that became final in [from, to) (Unix
	// milliseconds of the gateway clock), ordered by time, then by the line's id (the
	// transaction's, the dispute's, or for an authorization the payment's), then by type; it
	// stops at fn's first error and returns it. The rows stream from one query, never a day in
	// memory; fn must not call the store (on SQLite the query holds its one connection).
	ReportRows(ctx context.Context, merchantID string, from, to time.Time, fn func(Row) error) error
}
