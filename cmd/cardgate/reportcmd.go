package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

const (
	reportUsageLine = "usage: cardgate report transactions|settlement --date YYYY-MM-DD|today [--format csv|json] [--client-id ID] [flags]"
	reportUsage     = reportUsageLine + `

Prints a merchant's report of one UTC day of the gateway clock (docs/reports.md), as the running
gateway at --url makes it through its signed /cardgate/v1/reports/ call:
  transactions  one line per money movement that became final in the day: AUTHORIZATION,
                CAPTURE (with its fee), REFUND, DISPUTE_DEBIT, each in its settlement currency
  settlement    the day's totals per settlement currency: gross, refunds, dispute debits,
                fees, net and the number of lines
A closed day's report never changes; today's holds what became final so far, and a later day
is refused. Exit 0 with the report, 1 when the gateway refuses (its answer is printed), 3 when
the outcome is unknown, 2 on a usage error.

Flags:`
)

// reportCmd is `cardgate report`: like every client command it calls the running gateway,
// signed as the merchant, so the report is the gateway's (its clock's day, its store, whichever
// instance answers), never one read past it from a database.
func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "transactions" && args[0] != "settlement") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stderr, reportUsage)
			return flag.ErrHelp
		}
		return errors.New(reportUsageLine)
	}
	kind := args[0]
	fs := flag.NewFlagSet("report "+kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	date := fs.String("date", "", "the UTC day, YYYY-MM-DD, or today (the gateway clock's) (required)")
	format := fs.String("format", "csv", "csv or json")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long the whole report may take to arrive")
	fs.Usage = func() {
		fmt.Fprintln(stderr, reportUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q; see cardgate report --help", fs.Arg(0))
	case *date == "":
		return errors.New("--date is required: a UTC day YYYY-MM-DD, or today")
	case *date != "today" && !isDate(*date):
		return fmt.Errorf("--date %q: want a UTC day YYYY-MM-DD, such as 2026-11-21, or today", *date)
	case *format != "csv" && *format != "json":
		return fmt.Errorf("--format %q: want csv or json", *format)
	}
	cf.timeout = *timeout
	c, err := cf.client(ctx)
	if err != nil {
		return err
	}
	path := protocol.PathReportTransactions
	if kind == "settlement" {
		path = protocol.PathReportSettlement
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := c.Report(ctx, path, &protocol.ReportRequest{Date: *date, Format: *format}, stdout)
	if err != nil {
		return err
	}
	if protocol.Status(res.ResultStatus) == protocol.StatusSuccess {
		return nil
	}
	fmt.Fprintln(stdout) // a refusal is one JSON object without its own newline
	switch protocol.Status(res.ResultStatus) {
	case protocol.StatusUnknown:
		return exitStatus(3)
	}
	return exitStatus(1)
}

// isDate is YYYY-MM-DD, a real day; the gateway checks again (and that it is not in the future).
func isDate(s string) bool {
	t, err := time.Parse("2006-01-02", s)
	return err == nil && t.Format("2006-01-02") == s
}
