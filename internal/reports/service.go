package reports

import (
	"context"
	"fmt"
	"io"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/protocol"
)

// Service makes reports from a store, on the gateway clock (whose days they are).
type Service struct {
	store Store
	clock clock.Clock
}

// NewService is the reports of st; clk is the gateway clock (the sandbox's moves with it).
func NewService(st Store, clk clock.Clock) *Service { return &Service{store: st, clock: clk} }

// Report is a checked request for one merchant's report of one day, ready to be written.
type Report struct {
	svc        *Service
	merchantID string
	Kind       Kind
	Day        Day
	Format     Format
}

// Today is the date a request may give for the gateway clock's current day.
const Today = "today"

// Prepare checks a request (protocol.ReportRequest) before anything is written: the date is
// YYYY-MM-DD or "today" (the gateway clock's), not after today, since a day not yet begun has no
// report (today's is partial: what became final so far); the format is csv (the default) or
// json. A refusal is PARAM_ILLEGAL naming the field.
func (s *Service) Prepare(merchantID string, kind Kind, req protocol.ReportRequest) (Report, error) {
	today := DayOf(s.clock.Now())
	r := Report{svc: s, merchantID: merchantID, Kind: kind, Format: CSV}
	switch req.Date {
	case "":
		return r, protocol.Errorf(protocol.CodeParamIllegal, "date is required: a UTC day of the gateway clock, YYYY-MM-DD, or %q", Today)
	case Today:
		r.Day = today
	default:
		day, err := ParseDay(req.Date)
		if err != nil {
			return r, protocol.Errorf(protocol.CodeParamIllegal, "date %s; give a UTC day of the gateway clock, YYYY-MM-DD, or %q", err, Today)
		}
		if day.Start().After(today.Start()) {
			return r, protocol.Errorf(protocol.CodeParamIllegal, "date %s is in the future: the gateway clock's day is %s (UTC), and a day has a report once it has begun", day, today)
		}
		r.Day = day
	}
	switch f := Format(req.Format); f {
	case "":
	case CSV, JSON:
		r.Format = f
	default:
		return r, protocol.Errorf(protocol.CodeParamIllegal, "format %q is not csv or json", req.Format)
	}
	switch kind {
	case Transactions, Settlement:
	default:
		return r, fmt.Errorf("report kind %q", kind)
	}
	return r, nil
}

// ContentType is the report's media type.
func (r Report) ContentType() string { return r.Format.ContentType() }

// WriteTo writes the report as its lines stream from the store: the transaction report line by
// line; the settlement report once every line is summed, which holds only a total per currency.
func (r Report) WriteTo(ctx context.Context, w io.Writer) error {
	lines := func(fn func(Line) error) error {
		cache := rates{}
		return r.svc.store.ReportRows(ctx, r.merchantID, r.Day.Start(), r.Day.End(), func(row Row) error {
			l, err := lineOf(row, cache)
			if err != nil {
				return fmt.Errorf("report of %s: %w", r.Day, err)
			}
			return fn(l)
		})
	}
	if r.Kind == Transactions {
		return WriteTransactions(w, r.Format, r.Day, lines, nil)
	}
	totals := NewTotals()
	if err := lines(func(l Line) error { totals.Add(l); return nil }); err != nil {
		return err
	}
	return WriteSettlement(w, r.Format, r.Day, totals.List())
}
