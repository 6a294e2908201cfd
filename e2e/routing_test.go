package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cardgate/cardgate/protocol"
)

// ledgerRow is one booking in the simulated acquirers' books (sim_acquirer_ledger), keyed by
// "<acquirer>/<paymentId>".
type ledgerRow struct {
	acquirer string
	booked   bool // an authorization answer is booked
	reversed bool
}

func (g *gateway) ledgerOf(paymentID string) []ledgerRow {
	g.t.Helper()
	rows, err := g.db().Query(`SELECT payment_ref, result != '', reversed FROM sim_acquirer_ledger WHERE payment_ref LIKE ? ORDER BY payment_ref`, "%/"+paymentID)
	if err != nil {
		g.t.Fatal(err)
	}
	defer rows.Close()
	var out []ledgerRow
	for rows.Next() {
		var ref string
		var r ledgerRow
		if err := rows.Scan(&ref, &r.booked, &r.reversed); err != nil {
			g.t.Fatal(err)
		}
		r.acquirer, _, _ = strings.Cut(ref, "/")
		out = append(out, r)
	}
	return out
}

// held lists the acquirers that hold an authorization of the payment: booked and not reversed.
func held(rows []ledgerRow) []string {
	var out []string
	for _, r := range rows {
		if r.booked && !r.reversed {
			out = append(out, r.acquirer)
		}
	}
	return out
}

func (g *gateway) eventOps(paymentID string) []string {
	g.t.Helper()
	rows, err := g.db().Query(`SELECT op FROM payment_events WHERE payment_id = ? ORDER BY id`, paymentID)
	if err != nil {
		g.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var op string
		if err := rows.Scan(&op); err != nil {
			g.t.Fatal(err)
		}
		out = append(out, op)
	}
	return out
}

// TestFailoverOverBinary drives the failover cards through the sandbox's three acquirers: one
// paymentId throughout, the acquirer that answered named in acquirerInfo, and in the acquirers'
// books at most one hold, at that acquirer.
func TestFailoverOverBinary(t *testing.T) {
	g := startGateway(t)
	for _, tc := range []struct {
		name, pan  string
		status     string
		code       string
		wantEvents string
		// reversedFirst: the first acquirer booked the authorization and had to reverse it.
		reversedFirst bool
	}{
		{"technical failure then approved", "4000000000000309", "S", "SUCCESS", "CREATE FAILOVER AUTH_APPROVED", false},
		{"answer lost, reversed, then approved", "4000000000000325", "S", "SUCCESS", "CREATE FAILOVER AUTH_APPROVED", true},
		{"every acquirer fails", "4000000000000317", "F", "PROCESS_FAIL", "CREATE FAILOVER FAILOVER AUTH_DECLINED", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := payRequest(tc.pan, "123")
			req.PaymentFactor.CaptureMode = "MANUAL"
			resp := g.pay(req)
			if resp.Result.ResultStatus != tc.status || resp.Result.ResultCode != tc.code {
				t.Fatalf("pay: %+v, want %s/%s", resp.Result, tc.status, tc.code)
			}
			if got := strings.Join(g.eventOps(resp.PaymentID), " "); got != tc.wantEvents {
				t.Errorf("events %q, want %q", got, tc.wantEvents)
			}
			books := g.ledgerOf(resp.PaymentID)
			h := held(books)
			if tc.status == "F" {
				if len(h) != 0 {
					t.Fatalf("a failed payment holds at %v", h)
				}
				return
			}
			if resp.AcquirerInfo == nil || len(h) != 1 || h[0] != resp.AcquirerInfo.AcquirerName {
				t.Fatalf("holds at %v, acquirerInfo %+v: want one hold, at the acquirer that answered", h, resp.AcquirerInfo)
			}
			if tc.reversedFirst {
				if len(books) != 2 || !books[0].reversed && !books[1].reversed {
					t.Fatalf("books %+v: want the lost authorization reversed at the first acquirer", books)
				}
			}
			inq := g.inquire(resp.PaymentID)
			if inq.PaymentStatus != "SUCCESS" || inq.AcquirerInfo == nil || inq.AcquirerInfo.AcquirerName != resp.AcquirerInfo.AcquirerName {
				t.Fatalf("inquiry %s by %+v, want SUCCESS by %s", inq.PaymentStatus, inq.AcquirerInfo, resp.AcquirerInfo.AcquirerName)
			}
			// The capture goes to the acquirer that authorized.
			capt, err := g.client.Capture(context.Background(), &protocol.CaptureRequest{CaptureRequestID: newRequestID("cap"),
				PaymentID: resp.PaymentID, CaptureAmount: resp.PaymentAmount})
			if err != nil || capt.Result.ResultStatus != "S" || capt.AcquirerInfo == nil || capt.AcquirerInfo.AcquirerName != resp.AcquirerInfo.AcquirerName {
				t.Fatalf("capture %+v %v, want S at %s", capt, err, resp.AcquirerInfo.AcquirerName)
			}
		})
	}
}

// TestRoutingSpreadOverBinary: with no routing rules every acquirer is equally likely, over
// 2,000 payments of the real binary, and a replay routes the same way.
func TestRoutingSpreadOverBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 payments")
	}
	g := startGateway(t)
	const n, workers = 2000, 8
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
		errs   = make(chan error, n)
	)
	reqs := make(chan *protocol.PayRequest)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for req := range reqs {
				resp, err := g.client.Pay(context.Background(), req)
				if err != nil || resp.AcquirerInfo == nil {
					errs <- err
					continue
				}
				mu.Lock()
				counts[resp.AcquirerInfo.AcquirerName]++
				mu.Unlock()
			}
		}()
	}
	first := payRequest("4054695723100768", "123")
	for i := range n {
		req := payRequest("4054695723100768", "123")
		if i == 0 {
			req = first
		}
		reqs <- req
	}
	close(reqs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("pay: %v", err)
	}
	if len(counts) != 3 {
		t.Fatalf("acquirers used: %v, want ALIPAY, ADYEN and CHECKOUT", counts)
	}
	for name, c := range counts {
		share := float64(c) / n
		t.Logf("%s: %d of %d (%.1f %%)", name, c, n, 100*share)
		if share < 1.0/3-0.05 || share > 1.0/3+0.05 {
			t.Errorf("%s got %.1f %% of the payments, want 33.3 ± 5 %%", name, 100*share)
		}
	}
	again := g.pay(first)
	if again.AcquirerInfo == nil || again.PaymentID == "" {
		t.Fatalf("replay: %+v", again)
	}
	if got := g.inquire(again.PaymentID); got.AcquirerInfo.AcquirerName != again.AcquirerInfo.AcquirerName {
		t.Errorf("replay answered by %s, the payment's acquirer is %s", again.AcquirerInfo.AcquirerName, got.AcquirerInfo.AcquirerName)
	}
}

// TestRoutingRulesOverBinary: a merchant's rules route by currency and by brand, and the
// default weights split the rest 70/30 within ±5 points over 2,000 payments of the real binary.
func TestRoutingRulesOverBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 payments")
	}
	g := startGateway(t)
	doc := `{"rules":[{"match":{"issuingCountry":["BR","MX"]},"route":["ALIPAY","ADYEN"]},
		{"match":{"currency":["USD"]},"route":["CHECKOUT","ADYEN"]},
		{"match":{"cardBrand":["MASTERCARD"]},"route":["ALIPAY"]}],
		"default":{"weights":{"ADYEN":70,"CHECKOUT":30}}}`
	var set struct{ Result protocol.Result }
	r, err := g.client.Do(context.Background(), protocol.PathRoutingSet, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(r.Body, &set); err != nil || set.Result.ResultStatus != "S" {
		t.Fatalf("routing/set: %+v %v", set.Result, err)
	}
	usd := payRequest("4054695723100768", "123")
	usd.PaymentAmount, usd.Order.OrderAmount = &protocol.Amount{Currency: "USD", Value: "4200"}, &protocol.Amount{Currency: "USD", Value: "4200"}
	if r := g.pay(usd); r.AcquirerInfo == nil || r.AcquirerInfo.AcquirerName != "CHECKOUT" {
		t.Fatalf("USD went to %+v, want CHECKOUT (rule 2)", r.AcquirerInfo)
	}
	if r := g.pay(payRequest("5555555555554444", "123")); r.AcquirerInfo == nil || r.AcquirerInfo.AcquirerName != "ALIPAY" {
		t.Fatalf("a Mastercard went to %+v, want ALIPAY (rule 3)", r.AcquirerInfo)
	}
	// The issuing country comes from the BIN table: a Brazilian Visa matches rule 1, a German one
	// no rule, so it goes by the default weights.
	if r := g.pay(payRequest("4000000760000002", "123")); r.AcquirerInfo == nil || r.AcquirerInfo.AcquirerName != "ALIPAY" ||
		r.PaymentResultInfo == nil || r.PaymentResultInfo.IssuingCountry != "BR" {
		t.Fatalf("a Brazilian Visa went to %+v (%+v), want ALIPAY (rule 1)", r.AcquirerInfo, r.PaymentResultInfo)
	}
	for i := range 20 {
		if r := g.pay(payRequest("4000002760003184", "123")); r.AcquirerInfo == nil || r.AcquirerInfo.AcquirerName == "ALIPAY" {
			t.Fatalf("German Visa %d went to %+v, want ADYEN or CHECKOUT (default weights)", i, r.AcquirerInfo)
		}
	}
	const n = 2000
	counts := payMany(t, g, n, func() *protocol.PayRequest { return payRequest("4054695723100768", "123") })
	for name, want := range map[string]float64{"ADYEN": 0.70, "CHECKOUT": 0.30, "ALIPAY": 0} {
		share := float64(counts[name]) / n
		t.Logf("%s: %d of %d (%.1f %%, weight %.0f %%)", name, counts[name], n, 100*share, 100*want)
		if share < want-0.05 || share > want+0.05 {
			t.Errorf("%s got %.1f %%, want %.0f ± 5 %%", name, 100*share, 100*want)
		}
	}
}

// payMany pays n requests from next over 8 connections and counts them by acquirer.
func payMany(t *testing.T, g *gateway, n int, next func() *protocol.PayRequest) map[string]int {
	t.Helper()
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
		failed atomic.Int64
	)
	reqs := make(chan *protocol.PayRequest)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for req := range reqs {
				resp, err := g.client.Pay(context.Background(), req)
				if err != nil || resp.AcquirerInfo == nil {
					failed.Add(1)
					continue
				}
				mu.Lock()
				counts[resp.AcquirerInfo.AcquirerName]++
				mu.Unlock()
			}
		}()
	}
	for range n {
		reqs <- next()
	}
	close(reqs)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d pays failed", f, n)
	}
	return counts
}
