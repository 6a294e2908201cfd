package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/protocol"
)

// TestReportsCLI: over the binary, a merchant created with `merchant create --settlement-currencies
// USD` pays 42.00 SGD, captures it and refunds 10.00 on a gateway with fees of 1% + 0.25 and a
// rate table of its own (--fx-rates); then
// `cardgate report settlement --date today --format json` and the signed call through the client
// give one and the same report, whose USD net is the capture converted at the recorded rate, less
// its fee, less the refund. A settlementCurrency out of the contract is refused; a bad date is the
// CLI's usage error and a day not yet begun the gateway's PARAM_ILLEGAL. Once the sandbox clock
// moves a day on, the closed day's report is unchanged and today's is empty.
func TestReportsCLI(t *testing.T) {
	t.Parallel()
	rates := filepath.Join(t.TempDir(), "rates.csv")
	if err := os.WriteFile(rates, []byte("currency,rate\nUSD,1\nSGD,1.25\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFlow(t, "--fee-bps", "100", "--fee-fixed", "25", "--fx-rates", rates)
	out := cardgate(t, "merchant", "create", "--data", f.dir, "--name", "USD shop", "--settlement-currencies", "USD", "--json")
	shop, _ := credentials(t, out)
	c, err := client.New(client.Config{BaseURL: f.url, ClientID: shop.ClientID, PrivateKey: shop.MerchantPrivateKey,
		GatewayPublicKey: shop.GatewayPublicKey, HTTPClient: f.http})
	if err != nil {
		t.Fatal(err)
	}
	f.client = c // the flow's helpers, and its search for card data, now act for the shop

	gbp := f.payReq("4242424242424242", "MANUAL")
	gbp.SettlementStrategy = &protocol.SettlementStrategy{SettlementCurrency: "GBP"}
	f.card("4242424242424242", gbp.PaymentMethod.PaymentMethodMetaData.CVV)
	wantResult(t, "pay settled in GBP", f.pay(gbp).Result, "F", "SETTLE_CONTRACT_NOT_MATCH")

	paid := f.approvedManual("4242424242424242")
	wantResult(t, "capture", f.capture(paid.PaymentID, "report-capture", "4200").Result, "S", "SUCCESS")
	wantResult(t, "refund", f.refund(paid.PaymentID, "report-refund", "1000").Result, "S", "SUCCESS")

	run := func(want int, args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(binary, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("cardgate %s: exit %d, want %d\nstdout %s\nstderr %s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	signed := []string{"--url", f.url, "--client-id", shop.ClientID, "--private-key", shop.MerchantPrivateKey, "--gateway-public-key", shop.GatewayPublicKey}
	cli, _ := run(0, append([]string{"report", "settlement", "--date", "today", "--format", "json"}, signed...)...)

	var doc struct {
		Result     protocol.Result
		Report     string
		Date       string
		Currencies []struct {
			SettlementCurrency, Gross, Refunds, DisputeDebits, Fees, Net string
			Lines                                                        int
		}
	}
	if err := json.Unmarshal([]byte(cli), &doc); err != nil {
		t.Fatalf("report settlement --format json printed %q: %v", cli, err)
	}
	// 42.00 SGD at 1/1.25 (the --fx-rates table) = 33.60 USD; fee 1% = 0.336 → 0.34, + 0.25; the
	// refund of 10.00 SGD is 8.00 USD.
	const capture, fee, refund = 3360, 34 + 25, 800
	if len(doc.Currencies) != 1 || doc.Result.ResultStatus != "S" || doc.Report != "settlement" || doc.Date != time.Now().UTC().Format("2006-01-02") {
		t.Fatalf("settlement report %s", cli)
	}
	got := doc.Currencies[0]
	if got.SettlementCurrency != "USD" || got.Gross != "3360" || got.Refunds != "-800" || got.Fees != "59" ||
		got.Net != "2501" || got.Net != strconv.Itoa(capture-fee-refund) || got.Lines != 3 {
		t.Errorf("USD totals %+v, want gross 3360, refunds -800, fees 59, net %d over 3 lines", got, capture-fee-refund)
	}

	// The same report through the signed call, byte for byte.
	var direct bytes.Buffer
	res, err := c.Report(context.Background(), protocol.PathReportSettlement, &protocol.ReportRequest{Date: "today", Format: "json"}, &direct)
	if err != nil || res.ResultStatus != "S" {
		t.Fatalf("signed call: %+v, %v", res, err)
	}
	if direct.String() != cli {
		t.Errorf("the signed call answered\n%s\nthe CLI printed\n%s", direct.String(), cli)
	}

	// --client-id alone: the shop of --data, whose key the gateway holds; CSV by default.
	csv, _ := run(0, "report", "transactions", "--date", "today", "--url", f.url, "--data", f.dir, "--client-id", shop.ClientID)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "time,type,paymentId,") {
		t.Fatalf("transactions CSV:\n%s", csv)
	}
	var net int
	for _, l := range lines[1:] {
		fields := strings.Split(l, ",")
		if fields[2] != paid.PaymentID || fields[8] != "USD" || fields[9] != "0.8" {
			t.Errorf("line %s", l)
		}
		n, err := strconv.Atoi(fields[12])
		if err != nil {
			t.Fatalf("net %q of %s", fields[12], l)
		}
		net += n
	}
	if net != capture-fee-refund {
		t.Errorf("the lines' net sum to %d, the settlement report says %s", net, got.Net)
	}

	if _, errOut := run(2, "report", "settlement", "--date", "21/11/2026", "--url", f.url); !strings.Contains(errOut, `--date "21/11/2026"`) {
		t.Errorf("bad date: %s", errOut)
	}
	if _, errOut := run(2, "report", "settlement", "--date", "today", "--format", "xlsx", "--url", f.url); !strings.Contains(errOut, `--format "xlsx"`) {
		t.Errorf("bad format: %s", errOut)
	}
	future := time.Now().UTC().AddDate(0, 0, 2).Format("2006-01-02")
	refused, _ := run(1, append([]string{"report", "transactions", "--date", future}, signed...)...)
	var r protocol.ErrorResponse
	if err := json.Unmarshal([]byte(refused), &r); err != nil || r.Result.ResultCode != "PARAM_ILLEGAL" || !strings.Contains(r.Result.ResultMessage, "future") {
		t.Errorf("a day not yet begun: %q", refused)
	}
	if _, errOut := run(2, "report", "--help"); !strings.Contains(errOut, "usage: cardgate report transactions|settlement") {
		t.Errorf("report --help: %s", errOut)
	}

	// A day later on the gateway clock, the day is closed: its report is what it was, and "today"
	// is the new, empty day.
	day := doc.Date
	f.advance("24h")
	closed, _ := run(0, append([]string{"report", "settlement", "--date", day, "--format", "json"}, signed...)...)
	if closed != cli {
		t.Errorf("the closed day's report changed:\n%s\nwas\n%s", closed, cli)
	}
	next, _ := run(0, append([]string{"report", "transactions", "--date", "today"}, signed...)...)
	if strings.TrimSpace(next) != lines[0] {
		t.Errorf("the next day's report: %q", next)
	}
}
