package reports

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// Format is how a report is written.
type Format string

const (
	CSV  Format = "csv"
	JSON Format = "json"
)

// ContentType is the format's media type.
func (f Format) ContentType() string {
	if f == JSON {
		return "application/json; charset=UTF-8"
	}
	return "text/csv; charset=UTF-8"
}

// TimeLayout is a line's time: RFC 3339 in UTC with milliseconds, the precision the stores keep.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// TransactionColumns are the transaction report's columns, in order: the CSV header and the
// JSON members of a line (docs/reports.md).
var TransactionColumns = []string{"time", "type", "paymentId", "paymentRequestId", "transactionId", "transactionRequestId",
	"amount", "currency", "settlementCurrency", "settlementRate", "settlementAmount", "fee", "net", "acquirer", "acquirerReferenceNo"}

// SettlementColumns are the settlement report's columns, in order.
var SettlementColumns = []string{"settlementCurrency", "gross", "refunds", "disputeDebits", "fees", "net", "lines"}

func (l Line) fields() []string {
	return []string{l.Time.UTC().Format(TimeLayout), string(l.Type), l.PaymentID, l.PaymentRequestID, l.TransactionID,
		l.TransactionRequestID, strconv.FormatInt(l.Amount, 10), l.Currency, l.SettlementCurrency, l.SettlementRate,
		strconv.FormatInt(l.SettlementAmount, 10), strconv.FormatInt(l.Fee, 10), strconv.FormatInt(l.Net, 10), l.Acquirer,
		l.AcquirerReferenceNo}
}

func (t Total) fields() []string {
	return []string{t.SettlementCurrency, t.Gross.String(), t.Refunds.String(), t.DisputeDebits.String(), t.Fees.String(),
		t.Net.String(), strconv.FormatInt(t.Lines, 10)}
}

// Every amount is a string of minor units, as on the wire (docs/wire.md §3), so that no JSON
// reader turns it into a float.
type lineJSON struct {
	Time                 string `json:"time"`
	Type                 string `json:"type"`
	PaymentID            string `json:"paymentId"`
	PaymentRequestID     string `json:"paymentRequestId"`
	TransactionID        string `json:"transactionId"`
	TransactionRequestID string `json:"transactionRequestId"`
	Amount               string `json:"amount"`
	Currency             string `json:"currency"`
	SettlementCurrency   string `json:"settlementCurrency"`
	SettlementRate       string `json:"settlementRate"`
	SettlementAmount     string `json:"settlementAmount"`
	Fee                  string `json:"fee"`
	Net                  string `json:"net"`
	Acquirer             string `json:"acquirer"`
	AcquirerReferenceNo  string `json:"acquirerReferenceNo"`
}

func (l Line) json() lineJSON {
	f := l.fields()
	return lineJSON{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13], f[14]}
}

type totalJSON struct {
	SettlementCurrency string `json:"settlementCurrency"`
	Gross              string `json:"gross"`
	Refunds            string `json:"refunds"`
	DisputeDebits      string `json:"disputeDebits"`
	Fees               string `json:"fees"`
	Net                string `json:"net"`
	// Lines is a count, not money: a number.
	Lines int64 `json:"lines"`
}

func (t Total) json() totalJSON {
	f := t.fields()
	return totalJSON{f[0], f[1], f[2], f[3], f[4], f[5], t.Lines}
}

// jsonHead is a JSON report's start: the answer's result first, as in every answer of the
// gateway (an SDK reads result before anything else), then what the report is.
func jsonHead(kind Kind, day Day, member string) (string, error) {
	res, err := json.Marshal(protocol.SuccessResult())
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`{"result":%s,"report":%q,"date":%q,%q:[`, res, kind, day, member), nil
}

// WriteTransactions writes the transaction report of day: CSV, a header and a row per line; or
// JSON, {"result":…,"report":"transactions","date":…,"lines":[…]}, one line per row of text.
// Lines are written as they come (the JSON array element by element), so the report is never
// in memory; totals, when not nil, adds each line up on the way.
func WriteTransactions(w io.Writer, format Format, day Day, lines Lines, totals *Totals) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	add := func(l Line) {
		if totals != nil {
			totals.Add(l)
		}
	}
	var err error
	switch format {
	case CSV:
		err = writeCSV(bw, TransactionColumns, func(row func([]string) error) error {
			return lines(func(l Line) error {
				add(l)
				return row(l.fields())
			})
		})
	case JSON:
		err = writeJSON(bw, Transactions, day, "lines", func(elem func(any) error) error {
			return lines(func(l Line) error {
				add(l)
				return elem(l.json())
			})
		})
	default:
		err = fmt.Errorf("report format %q", format)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// WriteSettlement writes the settlement report of day from its totals: CSV, a header and a row
// per settlement currency; or JSON, {"result":…,"report":"settlement","date":…,"currencies":[…]}.
func WriteSettlement(w io.Writer, format Format, day Day, totals []Total) error {
	bw := bufio.NewWriter(w)
	var err error
	switch format {
	case CSV:
		err = writeCSV(bw, SettlementColumns, func(row func([]string) error) error {
			for _, t := range totals {
				if err := row(t.fields()); err != nil {
					return err
				}
			}
			return nil
		})
	case JSON:
		err = writeJSON(bw, Settlement, day, "currencies", func(elem func(any) error) error {
			for _, t := range totals {
				if err := elem(t.json()); err != nil {
					return err
				}
			}
			return nil
		})
	default:
		err = fmt.Errorf("report format %q", format)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func writeCSV(w io.Writer, header []string, rows func(row func([]string) error) error) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := rows(cw.Write); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func writeJSON(w *bufio.Writer, kind Kind, day Day, member string, elems func(elem func(any) error) error) error {
	head, err := jsonHead(kind, day, member)
	if err != nil {
		return err
	}
	if _, err := w.WriteString(head); err != nil {
		return err
	}
	first := true
	err = elems(func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		sep := ",\n"
		if first {
			sep, first = "\n", false
		}
		if _, err := w.WriteString(sep); err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	end := "]}\n"
	if !first {
		end = "\n]}\n"
	}
	_, err = w.WriteString(end)
	return err
}

func sortTotals(ts []Total) {
	slices.SortFunc(ts, func(a, b Total) int { return strings.Compare(a.SettlementCurrency, b.SettlementCurrency) })
}

// Kind is which report.
type Kind string

const (
	Transactions Kind = "transactions"
	Settlement   Kind = "settlement"
)

// Day is a UTC day: [00:00, 24:00) UTC.
type Day struct{ start time.Time }

// DateLayout is how a day is written: YYYY-MM-DD.
const DateLayout = "2006-01-02"

// ParseDay reads YYYY-MM-DD exactly (no other layout, no time, no zone).
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil || t.Format(DateLayout) != s {
		return Day{}, fmt.Errorf("%q is not a day written YYYY-MM-DD", s)
	}
	return Day{start: t.UTC()}, nil
}

// DayOf is the UTC day of t.
func DayOf(t time.Time) Day {
	u := t.UTC()
	return Day{start: time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)}
}

// Start and End bound the day: [Start, End).
func (d Day) Start() time.Time { return d.start }
func (d Day) End() time.Time   { return d.start.AddDate(0, 0, 1) }

func (d Day) String() string { return d.start.Format(DateLayout) }
