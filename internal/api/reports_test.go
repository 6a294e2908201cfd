package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/protocol"
)

const (
	reportTransactions = protocol.PathReportTransactions
	reportSettlement   = protocol.PathReportSettlement
)

// contracted is a merchant of the stack's store contracted to settle in currencies, and a way to
// sign its calls.
func contracted(t *testing.T, s *stack, currencies ...string) (merchant.Merchant, func(path string, body []byte) response) {
	t.Helper()
	m, err := merchant.NewSandbox("settles in "+strings.Join(currencies, ","), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.SettlementCurrencies = currencies
	if err := s.gw.Store.CreateMerchant(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	key, err := protocol.ParsePrivateKey(m.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return m, func(path string, body []byte) response {
		return s.send(t, http.MethodPost, path, signedWith(t, key, "1", path, m.ClientID, nowMS(), body), body)
	}
}

// TestReportsOverHTTP: a merchant contracted for USD pays in SGD and refunds part; the signed
// report calls answer its day, the settlement converted at the recorded rate, in JSON (the result
// first) and in CSV (text/csv, signed over the CSV itself), and refuse a bad date or format or a
// day not yet begun with PARAM_ILLEGAL naming the field. Another merchant's report is its own.
func TestReportsOverHTTP(t *testing.T) {
	s := newStack(t)
	m, call := contracted(t, s, "USD")

	pay := payRequest(t, "report-pay-1")
	r := call(livePay, mustJSON(t, pay))
	expectResult(t, r, "SUCCESS", "S")
	id := str(r.body, "paymentId")
	expectResult(t, call(liveRefund, mustJSON(t, refundBody("report-refund-1", id, "1000"))), "SUCCESS", "S")

	before := s.counts(t)
	gbp := payRequest(t, "report-pay-gbp")
	setPath(gbp, "settlementStrategy.settlementCurrency", "GBP")
	refused := call(livePay, mustJSON(t, gbp))
	expectResult(t, refused, "SETTLE_CONTRACT_NOT_MATCH", "F")
	if !strings.Contains(refused.message(), "GBP") || !strings.Contains(refused.message(), "(USD)") {
		t.Errorf("refusal message %q names neither GBP nor the contract", refused.message())
	}
	s.expectNothingStored(t, before)

	settled := call(reportSettlement, []byte(`{"date":"today","format":"json"}`))
	expectResult(t, settled, "SUCCESS", "S")
	var doc struct {
		Report, Date string
		Currencies   []map[string]any
	}
	if err := json.Unmarshal(settled.raw, &doc); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format("2006-01-02")
	if doc.Report != "settlement" || doc.Date != today || len(doc.Currencies) != 1 {
		t.Fatalf("settlement report %s", settled.raw)
	}
	// 42.00 SGD at 1/1.35 (the embedded table) = 31.11 USD; the refund of 10.00 SGD, 7.41 USD.
	want := map[string]any{"settlementCurrency": "USD", "gross": "3111", "refunds": "-741", "disputeDebits": "0", "fees": "0", "net": "2370", "lines": 3.0}
	for k, v := range want {
		if doc.Currencies[0][k] != v {
			t.Errorf("USD %s = %v, want %v (%s)", k, doc.Currencies[0][k], v, settled.raw)
		}
	}

	// CSV: signed like every answer, over the CSV.
	body := []byte(`{"date":"` + today + `"}`)
	resp, raw := s.rawCall(t, reportTransactions, s.signedHeadersAs(t, m, reportTransactions, body), body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=UTF-8" {
		t.Fatalf("CSV answer: HTTP %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := verifyLikeGoSDK(s.gwPub, http.MethodPost, reportTransactions, resp.Header, raw); err != nil {
		t.Fatalf("CSV answer's signature: %v", err)
	}
	if resp.Header.Get("client-id") != m.ClientID || resp.Header.Get("Content-Length") != strconv.Itoa(len(raw)) {
		t.Errorf("CSV answer headers %v", resp.Header)
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil || len(recs) != 4 {
		t.Fatalf("CSV %q: %v", raw, err)
	}
	var types []string
	for _, rec := range recs[1:] {
		types = append(types, rec[1]+" "+rec[2]+" "+rec[10]+" "+rec[13])
		if rec[2] != id || rec[8] != "USD" || rec[9] != "0.74074074074074074074" {
			t.Errorf("line %v", rec)
		}
	}
	// The automatic capture may share its authorization's millisecond; then their ids order them.
	if got := strings.Join(types, ", "); !strings.Contains(got, "AUTHORIZATION "+id+" 0 ") || !strings.Contains(got, "CAPTURE "+id+" 3111 ") ||
		!strings.HasPrefix(types[2], "REFUND "+id+" -741 ") {
		t.Errorf("lines: %s", got)
	}
	tampered := bytes.Replace(raw, []byte("-741"), []byte("-740"), 1)
	if verifyLikeGoSDK(s.gwPub, http.MethodPost, reportTransactions, resp.Header, tampered) == nil {
		t.Error("a changed CSV still verifies")
	}

	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	for _, tc := range []struct{ body, field string }{
		{`{"date":"2026-13-01"}`, "date"},
		{`{}`, "date is required"},
		{`{"date":"` + tomorrow + `"}`, "is in the future"},
		{`{"date":"today","format":"xml"}`, `format "xml"`},
		{`{"date":42}`, "date"},
	} {
		r := call(reportSettlement, []byte(tc.body))
		expectResult(t, r, "PARAM_ILLEGAL", "F")
		if !strings.Contains(r.message(), tc.field) {
			t.Errorf("%s: %q does not name %q", tc.body, r.message(), tc.field)
		}
	}

	// The stack's own merchant made nothing today.
	mine := s.call(t, reportTransactions, []byte(`{"date":"today","format":"json"}`))
	expectResult(t, mine, "SUCCESS", "S")
	if !strings.HasSuffix(string(mine.raw), `"lines":[]}`+"\n") {
		t.Errorf("another merchant's report: %s", mine.raw)
	}
}

// signedHeadersAs signs body for path as merchant m (its key is in the store: a sandbox merchant).
func (s *stack) signedHeadersAs(t *testing.T, m merchant.Merchant, path string, body []byte) http.Header {
	t.Helper()
	key, err := protocol.ParsePrivateKey(m.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return signedWith(t, key, "1", path, m.ClientID, nowMS(), body)
}

// rawCall posts and returns the answer unchecked (a CSV is not a JSON object).
func (s *stack) rawCall(t *testing.T, path string, hdr http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}
