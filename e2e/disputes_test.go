package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/protocol"
)

// Disputes over the real binary (issue 15, "Must show"): the two dispute cards through their
// whole life on the sandbox clock, every notification verified as a merchant would; accept; a
// defense supplied and downloaded; the refusals; another merchant's dispute not found.

// disputeNotice waits for the dispute notification of a type about a dispute (or, with
// disputeID "", about a payment) and checks its signature and its fields common to every type.
func disputeNotice(t *testing.T, r *ntReceiver, typ, key, value string) ntArrival {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, a := range r.all() {
			if a.str("disputeNotificationType") == typ && a.str(key) == value {
				if a.verified != nil {
					t.Fatalf("%s: signature does not verify: %v", typ, a.verified)
				}
				for _, k := range []string{"paymentRequestId", "disputeId", "paymentId", "disputeTime", "disputeType"} {
					if a.str(k) == "" {
						t.Errorf("%s: no %s in %s", typ, k, a.body)
					}
				}
				if _, ok := a.msg["defendable"].(bool); !ok {
					t.Errorf("%s: defendable is not a JSON boolean in %s", typ, a.body)
				}
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s with %s %s; arrivals: %d", typ, key, value, r.count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func amountOf(a ntArrival, key string) string {
	m, _ := a.msg[key].(map[string]any)
	v, _ := m["value"].(string)
	c, _ := m["currency"].(string)
	return v + " " + c
}

func (f *flow) disputeCall(api string, req, resp any) {
	f.t.Helper()
	if err := f.client.Call(context.Background(), api, req, resp); err != nil {
		f.t.Fatalf("%s: %v", api, err)
	}
}

func TestDisputeCardsOverBinary(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	rcv := ntNewReceiver(t, ntGatewayKey(t, f.gateway), ntAck)
	pay := func(pan string) (*protocol.PayResponse, string) {
		req := f.payReq(pan, "")
		req.PaymentNotifyURL = rcv.srv.URL + "/antom/notify"
		p := f.payWith(req, "S", "SUCCESS")
		capture := onlyTxn(t, f.inquire(p.PaymentID), "CAPTURE", "SUCCESS", "S")
		return p, capture.TransactionID
	}
	wins, winsCapture := pay("4000000000000259")
	loses, losesCapture := pay("4000000000000416")

	f.advance("23h")
	for _, a := range rcv.all() {
		if a.str("disputeNotificationType") != "" {
			t.Fatalf("a dispute before a day had passed: %s", a.body)
		}
	}
	openedAt := f.advance("1h")
	created := map[string]ntArrival{}
	for _, p := range []struct{ id, capture, reason string }{{wins.PaymentID, winsCapture, "13.1"}, {loses.PaymentID, losesCapture, "10.4"}} {
		a := disputeNotice(t, rcv, "DISPUTE_CREATED", "paymentId", p.id)
		created[p.id] = a
		due := parseWireTime(t, a.str("defenseDueTime"))
		if got := due.Sub(parseWireTime(t, a.str("disputeTime"))); got != 7*24*time.Hour {
			t.Errorf("defense due %v after the dispute, want 7 days", got)
		}
		if opened := parseWireTime(t, a.str("disputeTime")); opened.After(openedAt) || openedAt.Sub(opened) > time.Hour {
			t.Errorf("disputeTime %v, the clock at %v", opened, openedAt)
		}
		if amountOf(a, "disputeAmount") != "4200 SGD" || a.str("captureId") != p.capture || a.str("disputeReasonCode") != p.reason ||
			a.str("disputeType") != "CHARGEBACK" || a.msg["defendable"] != true {
			t.Errorf("DISPUTE_CREATED: %s", a.body)
		}
		if info, _ := a.msg["acquirerInfo"].(map[string]any); info["acquirerName"] == nil || info["referenceRequestId"] != p.id {
			t.Errorf("DISPUTE_CREATED acquirerInfo: %s", a.body)
		}
		if a.path != "/antom/notify" {
			t.Errorf("notified at %s", a.path)
		}
	}
	winsID, losesID := created[wins.PaymentID].str("disputeId"), created[loses.PaymentID].str("disputeId")
	listed := func(paymentID string) protocol.DisputeInfo {
		t.Helper()
		l, err := f.client.Disputes(context.Background(), paymentID)
		if err != nil || l.Result.ResultStatus != "S" || len(l.Disputes) != 1 {
			t.Fatalf("disputes/list %s: %+v %v", paymentID, l, err)
		}
		return l.Disputes[0]
	}
	if d := listed(wins.PaymentID); d.DisputeID != winsID || d.DisputeStatus != "OPEN" || !d.Defendable || d.DefenseDueTime != created[wins.PaymentID].str("defenseDueTime") {
		t.Errorf("listed: %+v", d)
	}

	// The disputed money is not refundable while the dispute holds it.
	if r := f.refund(wins.PaymentID, newRequestID("ref"), "1"); r.Result.ResultCode != "REFUND_AMOUNT_EXCEED" ||
		!strings.Contains(r.Result.ResultMessage, "disputed") {
		t.Errorf("refund of disputed money: %+v", r.Result)
	}

	// The template, then the defense, then the defense back as supplied.
	var tmpl protocol.DownloadDisputeEvidenceResponse
	f.disputeCall(protocol.PathDownloadDisputeEvidence, &protocol.DownloadDisputeEvidenceRequest{DisputeID: winsID, DisputeEvidenceType: "DISPUTE_EVIDENCE_TEMPLATE"}, &tmpl)
	doc, err := base64.StdEncoding.DecodeString(tmpl.DisputeEvidence)
	if tmpl.Result.ResultStatus != "S" || err != nil || tmpl.DisputeEvidenceFormat != "WORD" || !strings.Contains(wordText(t, doc), winsID) {
		t.Fatalf("template: %+v (%v)", tmpl.Result, err)
	}
	defense := []byte("%PDF-1.4\nproof of delivery to Ms Jane Buyer, 1 Orchard Road, signed by her " + newRequestID("marker") + "\n%%EOF\n")
	for _, id := range []string{winsID, losesID} {
		var r protocol.SupplyDefenseDocumentResponse
		f.disputeCall(protocol.PathSupplyDefenseDocument, &protocol.SupplyDefenseDocumentRequest{DisputeID: id, DisputeEvidence: base64.StdEncoding.EncodeToString(defense)}, &r)
		wantResult(t, "supplyDefenseDocument", r.Result, "S", "SUCCESS")
		if r.DisputeID != id || r.DisputeResolutionTime == "" {
			t.Errorf("supplyDefenseDocument: %+v", r)
		}
		if a := disputeNotice(t, rcv, "DEFENSE_SUPPLIED", "disputeId", id); a.msg["defendable"] != false {
			t.Errorf("DEFENSE_SUPPLIED: %s", a.body)
		}
	}
	var file protocol.DownloadDisputeEvidenceResponse
	f.disputeCall(protocol.PathDownloadDisputeEvidence, &protocol.DownloadDisputeEvidenceRequest{DisputeID: winsID, DisputeEvidenceType: "DISPUTE_EVIDENCE_FILE"}, &file)
	if got, _ := base64.StdEncoding.DecodeString(file.DisputeEvidence); file.DisputeEvidenceFormat != "PDF" || !bytes.Equal(got, defense) {
		t.Fatalf("defense downloaded: %+v", file.Result)
	}
	// The defense may carry personal data: it is on disk only sealed.
	f.scanFor(string(defense[9:60]))

	var again protocol.AcceptDisputeResponse
	f.disputeCall(protocol.PathAcceptDispute, &protocol.AcceptDisputeRequest{DisputeID: winsID}, &again)
	wantResult(t, "accept a defended dispute", again.Result, "F", "ORDER_STATUS_INVALID")

	// The issuer judges three days after the defense.
	f.advance("3d")
	won := disputeNotice(t, rcv, "DISPUTE_JUDGED", "disputeId", winsID)
	lost := disputeNotice(t, rcv, "DISPUTE_JUDGED", "disputeId", losesID)
	if won.str("disputeJudgedResult") != "VALIDATE_SUCCESS" || amountOf(won, "disputeJudgedAmount") != "0 SGD" || won.str("disputeJudgedTime") == "" {
		t.Errorf("won: %s", won.body)
	}
	if lost.str("disputeJudgedResult") != "VALIDATE_FAIL" || amountOf(lost, "disputeJudgedAmount") != "4200 SGD" {
		t.Errorf("lost: %s", lost.body)
	}
	f.disputeCall(protocol.PathAcceptDispute, &protocol.AcceptDisputeRequest{DisputeID: losesID}, &again)
	wantResult(t, "accept after the judgement", again.Result, "F", "ORDER_STATUS_INVALID")
	if d := listed(wins.PaymentID); d.DisputeStatus != "WON" || d.DisputeJudgedResult != "VALIDATE_SUCCESS" || d.Defendable || d.ResolvedTime == "" {
		t.Errorf("won, listed: %+v", d)
	}
	if d := listed(loses.PaymentID); d.DisputeStatus != "LOST" {
		t.Errorf("lost, listed: %+v", d)
	}
	var defendAgain protocol.SupplyDefenseDocumentResponse
	f.disputeCall(protocol.PathSupplyDefenseDocument, &protocol.SupplyDefenseDocumentRequest{DisputeID: winsID, DisputeEvidence: "UERG"}, &defendAgain)
	wantResult(t, "defend after the judgement", defendAgain.Result, "F", "ORDER_STATUS_INVALID")

	// The lost dispute is a debit of the day it was judged: a line of the transaction report, and
	// the settlement report's disputeDebits; the won one moves nothing.
	var tx, st bytes.Buffer
	if res, err := f.client.Report(context.Background(), protocol.PathReportTransactions, &protocol.ReportRequest{Date: "today", Format: "json"}, &tx); err != nil || res.ResultStatus != "S" {
		t.Fatalf("transaction report: %+v %v", res, err)
	}
	var txDoc struct {
		Lines []struct{ Type, PaymentID, TransactionID, Amount, SettlementAmount, Net string }
	}
	if err := json.Unmarshal(tx.Bytes(), &txDoc); err != nil {
		t.Fatal(err)
	}
	var debits []string
	for _, l := range txDoc.Lines {
		if l.Type == "DISPUTE_DEBIT" {
			debits = append(debits, l.TransactionID+" "+l.PaymentID+" "+l.Amount+" "+l.SettlementAmount+" "+l.Net)
		}
	}
	if want := losesID + " " + loses.PaymentID + " 4200 -4200 -4200"; len(debits) != 1 || debits[0] != want {
		t.Errorf("dispute debits of the day: %v, want [%s]", debits, want)
	}
	if res, err := f.client.Report(context.Background(), protocol.PathReportSettlement, &protocol.ReportRequest{Date: "today", Format: "json"}, &st); err != nil || res.ResultStatus != "S" {
		t.Fatalf("settlement report: %+v %v", res, err)
	}
	var stDoc struct {
		Currencies []struct{ SettlementCurrency, DisputeDebits, Net string }
	}
	if err := json.Unmarshal(st.Bytes(), &stDoc); err != nil || len(stDoc.Currencies) != 1 || stDoc.Currencies[0].DisputeDebits != "-4200" || stDoc.Currencies[0].Net != "-4200" {
		t.Errorf("settlement report: %s", st.Bytes())
	}

	// Each step was told exactly once, and nothing more came.
	counts := map[string]int{}
	for _, a := range rcv.all() {
		if typ := a.str("disputeNotificationType"); typ != "" {
			counts[typ+" "+a.str("disputeId")]++
		}
	}
	for _, id := range []string{winsID, losesID} {
		for _, typ := range []string{"DISPUTE_CREATED", "DEFENSE_SUPPLIED", "DISPUTE_JUDGED"} {
			if counts[typ+" "+id] != 1 {
				t.Errorf("%s of %s notified %d times", typ, id, counts[typ+" "+id])
			}
		}
	}
	if len(counts) != 6 {
		t.Errorf("dispute notifications: %v", counts)
	}
}

// wordText is the document part of a Word (OOXML) file.
func wordText(t *testing.T, doc []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatalf("the template is not a Word document: %v", err)
	}
	f, err := zr.Open("word/document.xml")
	if err != nil {
		t.Fatalf("the template has no word/document.xml: %v", err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}

// scanFor fails when s is found in the gateway's data files or logs.
func (f *flow) scanFor(s string) {
	f.t.Helper()
	files, _ := filepath.Glob(filepath.Join(f.dir, "*"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err == nil && bytes.Contains(b, []byte(s)) {
			f.t.Errorf("%q in plain text in %s", s, name)
		}
	}
	if bytes.Contains(f.stderr.Bytes(), []byte(s)) || bytes.Contains(f.stdout.Bytes(), []byte(s)) {
		f.t.Errorf("%q in the gateway's logs", s)
	}
}

func TestDisputeAcceptTimeoutAndMerchantsOverBinary(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	rcv := ntNewReceiver(t, ntGatewayKey(t, f.gateway), ntAck)
	pay := func() *protocol.PayResponse {
		req := f.payReq("4242424242424242", "")
		req.PaymentNotifyURL = rcv.srv.URL + "/n"
		return f.payWith(req, "S", "SUCCESS")
	}
	first, second := pay(), pay()
	ntFindCapture := func(id string) { rcv.ntFind(t, "CAPTURE_RESULT", id) }
	ntFindCapture(first.PaymentID)

	// Part of the first payment, through the CLI.
	out, errOut, code := runCLI(t, "sandbox", "dispute", "--url", f.url, "--data", f.dir, "--payment-id", first.PaymentID, "--amount", "1000", "--currency", "SGD")
	var opened protocol.SandboxDisputeOpenResponse
	if err := json.Unmarshal([]byte(out), &opened); code != 0 || err != nil || opened.DisputeID == "" || opened.DisputeAmount.Value != "1000" {
		t.Fatalf("sandbox dispute: exit %d %s %s", code, out, errOut)
	}
	created := disputeNotice(t, rcv, "DISPUTE_CREATED", "disputeId", opened.DisputeID)
	if amountOf(created, "disputeAmount") != "1000 SGD" || created.str("paymentRequestId") == "" {
		t.Errorf("DISPUTE_CREATED: %s", created.body)
	}
	// What is left is refundable; a cent more is not.
	if r := f.refund(first.PaymentID, newRequestID("ref"), "3201"); r.Result.ResultCode != "REFUND_AMOUNT_EXCEED" {
		t.Errorf("refund over the undisputed part: %+v", r.Result)
	}
	if r := f.refund(first.PaymentID, newRequestID("ref"), "3200"); r.Result.ResultStatus != "S" {
		t.Errorf("refund of the undisputed part: %+v", r.Result)
	}
	more, err := f.client.OpenDispute(context.Background(), &protocol.SandboxDisputeOpenRequest{PaymentID: first.PaymentID})
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, "a dispute with nothing left", more.Result, "F", "PARAM_ILLEGAL")

	// Another merchant cannot see or touch the dispute.
	b, _ := credentials(t, cardgate(t, "merchant", "create", "--data", f.dir, "--name", "Merchant B", "--json"))
	cb, err := client.New(client.Config{BaseURL: f.url, ClientID: b.ClientID, PrivateKey: b.MerchantPrivateKey, GatewayPublicKey: b.GatewayPublicKey})
	if err != nil {
		t.Fatal(err)
	}
	disputeNotices := func() int {
		n := 0
		for _, a := range rcv.all() {
			if a.str("disputeNotificationType") != "" {
				n++
			}
		}
		return n
	}
	before := disputeNotices()
	if r, err := cb.AcceptDispute(context.Background(), opened.DisputeID); err != nil || r.Result.ResultCode != "ORDER_NOT_EXIST" {
		t.Errorf("merchant B accepts A's dispute: %+v %v", r, err)
	}
	if r, err := cb.DownloadDisputeEvidence(context.Background(), &protocol.DownloadDisputeEvidenceRequest{DisputeID: opened.DisputeID, DisputeEvidenceType: "DISPUTE_EVIDENCE_TEMPLATE"}); err != nil ||
		r.Result.ResultCode != "ORDER_NOT_EXIST" || r.DisputeEvidence != "" {
		t.Errorf("merchant B downloads A's template: %+v %v", r, err)
	}
	if r, err := cb.Disputes(context.Background(), first.PaymentID); err != nil || r.Result.ResultCode != "ORDER_NOT_EXIST" || len(r.Disputes) != 0 {
		t.Errorf("merchant B lists A's disputes: %+v %v", r, err)
	}
	if r, err := cb.OpenDispute(context.Background(), &protocol.SandboxDisputeOpenRequest{PaymentID: second.PaymentID}); err != nil || r.Result.ResultCode != "ORDER_NOT_EXIST" {
		t.Errorf("merchant B opens a dispute on A's payment: %+v %v", r, err)
	}

	// Accept, through the CLI; twice is refused.
	out, _, code = runCLI(t, "dispute", "accept", "--url", f.url, "--data", f.dir, "--dispute-id", opened.DisputeID)
	var acc protocol.AcceptDisputeResponse
	if err := json.Unmarshal([]byte(out), &acc); code != 0 || err != nil || acc.DisputeResolutionTime == "" {
		t.Fatalf("dispute accept: exit %d %s", code, out)
	}
	if a := disputeNotice(t, rcv, "DISPUTE_ACCEPTED", "disputeId", opened.DisputeID); a.str("disputeAcceptReason") != "MERCHANT_ACCEPTED" ||
		a.str("disputeJudgedResult") != "ACCEPT_BY_MERCHANT" || amountOf(a, "disputeJudgedAmount") != "1000 SGD" {
		t.Errorf("DISPUTE_ACCEPTED: %s", a.body)
	}
	if got := disputeNotices(); got != before+1 {
		t.Errorf("%d dispute notifications after merchant B's calls and the acceptance, want %d", got, before+1)
	}
	_, _, code = runCLI(t, "dispute", "accept", "--url", f.url, "--data", f.dir, "--dispute-id", opened.DisputeID)
	if code != 1 {
		t.Errorf("accepting twice exits %d, want 1", code)
	}

	// The whole second payment, left undefended: the alert a day before the deadline, then the
	// deadline accepts it.
	all, err := f.client.OpenDispute(context.Background(), &protocol.SandboxDisputeOpenRequest{PaymentID: second.PaymentID})
	if err != nil || all.Result.ResultStatus != "S" || all.DisputeAmount.Value != "4200" {
		t.Fatalf("open on the whole payment: %+v %v", all, err)
	}
	f.advance("6d")
	alert := disputeNotice(t, rcv, "DEFENSE_DUE_ALERT", "disputeId", all.DisputeID)
	if alert.str("defenseDueTime") != all.DefenseDueTime || alert.msg["defendable"] != true {
		t.Errorf("DEFENSE_DUE_ALERT: %s", alert.body)
	}
	f.advance("1d")
	if a := disputeNotice(t, rcv, "DISPUTE_ACCEPTED", "disputeId", all.DisputeID); a.str("disputeAcceptReason") != "TIMEOUT" {
		t.Errorf("deadline: %s", a.body)
	}
	var late protocol.SupplyDefenseDocumentResponse
	f.disputeCall(protocol.PathSupplyDefenseDocument, &protocol.SupplyDefenseDocumentRequest{DisputeID: all.DisputeID, DisputeEvidence: "UERG"}, &late)
	wantResult(t, "a defense after the deadline", late.Result, "F", "ORDER_STATUS_INVALID")

	// Bad input is named.
	for _, tt := range []struct{ api, body, want string }{
		{protocol.PathAcceptDispute, `{}`, "disputeId is required"},
		{protocol.PathSupplyDefenseDocument, `{"disputeId":"` + all.DisputeID + `","disputeEvidence":"not base64!"}`, "base64"},
		{protocol.PathDownloadDisputeEvidence, `{"disputeId":"` + all.DisputeID + `","disputeEvidenceType":"PHOTO"}`, "DISPUTE_EVIDENCE_TEMPLATE"},
		{protocol.PathAcceptDispute, `{"disputeId":"dsp_nope"}`, "does not exist"},
	} {
		r, err := f.client.Do(context.Background(), f.client.Path(tt.api), []byte(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		var e protocol.ErrorResponse
		if err := json.Unmarshal(r.Body, &e); err != nil || e.Result.ResultStatus != "F" || !strings.Contains(e.Result.ResultMessage, tt.want) {
			t.Errorf("%s %s: %s, want F naming %q", tt.api, tt.body, r.Body, tt.want)
		}
	}
}
