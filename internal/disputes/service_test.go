package disputes_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/store/storetest"
	"github.com/cardgate/cardgate/protocol"
)

// payments finds the store's payments for the service, as the gateway's adapter will.
type paymentsOf struct{ st *sqlite.Store }

func (p paymentsOf) DisputablePayment(ctx context.Context, merchantID, paymentID string) (disputes.Payment, error) {
	pay, err := p.st.PaymentByID(ctx, merchantID, paymentID)
	if err != nil {
		return disputes.Payment{}, disputes.ErrNotFound
	}
	out := disputes.Payment{ID: pay.ID, RequestID: pay.RequestID, MerchantID: pay.MerchantID, Currency: pay.Amount.Currency.Code, NotifyURL: pay.Order.NotifyURL}
	if pay.CapturedMinor > 0 {
		out.CaptureID = "C-" + pay.ID
	}
	return out, nil
}

// xorVault seals by reversing: enough to show the evidence is not kept as given.
type xorVault struct{}

func (xorVault) SealText(p, aad []byte) (string, error) {
	b := make([]byte, len(p))
	for i := range p {
		b[i] = p[i] ^ 0x5a
	}
	return base64.StdEncoding.EncodeToString(append(b, aad...)), nil
}

func (xorVault) OpenText(s string, aad []byte) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) < len(aad) {
		return nil, errors.New("bad seal")
	}
	raw = raw[:len(raw)-len(aad)]
	for i := range raw {
		raw[i] ^= 0x5a
	}
	return raw, nil
}

func code(err error) protocol.Code {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// openStore is a fresh SQLite store for one test.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestDisputeLife(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := storetest.Sandbox(t, st)
	other := storetest.Other(t, st, "OTHER")
	p := storetest.CapturedPayment(t, st, m, "P1", 200)
	clk := clock.NewFixed(storetest.T0.Add(24 * time.Hour))
	svc := disputes.NewService(st, paymentsOf{st}, xorVault{}, clk)

	if _, err := svc.Open(ctx, disputes.OpenRequest{MerchantID: m.ClientID, PaymentID: "NOPE", AmountMinor: 100}); code(err) != protocol.CodeOrderNotExist {
		t.Fatalf("unknown payment: %v", err)
	}
	if _, err := svc.Open(ctx, disputes.OpenRequest{MerchantID: m.ClientID, PaymentID: p.ID, AmountMinor: 4001}); code(err) != protocol.CodeParamIllegal {
		t.Fatalf("more than captured less refunded: %v", err)
	}
	won, err := svc.Open(ctx, disputes.OpenRequest{MerchantID: m.ClientID, PaymentID: p.ID, AmountMinor: 1000, ReasonCode: "13.1", DefenseWins: true})
	if err != nil {
		t.Fatal(err)
	}
	lost, err := svc.Open(ctx, disputes.OpenRequest{MerchantID: m.ClientID, PaymentID: p.ID, AmountMinor: 1000, ReasonCode: "10.4"})
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := svc.Open(ctx, disputes.OpenRequest{MerchantID: m.ClientID, PaymentID: p.ID, AmountMinor: 500})
	if err != nil {
		t.Fatal(err)
	}

	// Another merchant can neither see nor touch them.
	if _, err := svc.Accept(ctx, other.ClientID, won.ID); code(err) != protocol.CodeOrderNotExist {
		t.Fatalf("another merchant's accept: %v", err)
	}
	// Accept once; twice is refused and changes nothing.
	if d, err := svc.Accept(ctx, m.ClientID, accepted.ID); err != nil || d.State != disputes.Accepted {
		t.Fatalf("accept: %+v %v", d, err)
	}
	if _, err := svc.Accept(ctx, m.ClientID, accepted.ID); code(err) != protocol.CodeOrderStatusInvalid {
		t.Fatalf("accept twice: %v", err)
	}
	// Defend both others; the evidence is sealed, and comes back whole.
	doc := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 proof of delivery"))
	for _, d := range []disputes.Dispute{won, lost} {
		if _, err := svc.SupplyDefense(ctx, m.ClientID, d.ID, doc); err != nil {
			t.Fatal(err)
		}
	}
	stored, _ := st.DisputeByID(ctx, m.ClientID, won.ID)
	if strings.Contains(stored.EvidenceSealed, "proof of delivery") || stored.EvidenceSealed == "" {
		t.Fatalf("evidence stored as %q", stored.EvidenceSealed)
	}
	if ev, format, err := svc.DownloadEvidence(ctx, m.ClientID, won.ID, disputes.EvidenceFile); err != nil || ev != doc || format != "PDF" {
		t.Fatalf("download the file: %q %s %v", ev, format, err)
	}
	if ev, format, err := svc.DownloadEvidence(ctx, m.ClientID, lost.ID, disputes.EvidenceTemplate); err != nil || format != "WORD" || ev == "" {
		t.Fatalf("download the template: %s %v", format, err)
	}
	if _, _, err := svc.DownloadEvidence(ctx, m.ClientID, accepted.ID, disputes.EvidenceFile); code(err) != protocol.CodeOrderStatusInvalid {
		t.Fatalf("the file of an undefended dispute: %v", err)
	}
	if _, err := svc.SupplyDefense(ctx, m.ClientID, won.ID, "not base64!"); code(err) != protocol.CodeParamIllegal {
		t.Fatalf("bad evidence: %v", err)
	}

	// The clock judges the defenses three days later, as the cards decided.
	clk.Advance(disputes.JudgeAfter)
	if n, err := svc.RunDue(ctx, 100); err != nil || n != 2 {
		t.Fatalf("RunDue: %d %v, want the two judgements", n, err)
	}
	for id, want := range map[string]disputes.State{won.ID: disputes.Won, lost.ID: disputes.Lost, accepted.ID: disputes.Accepted} {
		if d, _ := st.DisputeByID(ctx, m.ClientID, id); d.State != want {
			t.Errorf("%s: %s, want %s", id, d.State, want)
		}
	}
	if _, err := svc.Accept(ctx, m.ClientID, won.ID); code(err) != protocol.CodeOrderStatusInvalid {
		t.Fatalf("accept after the judgement: %v", err)
	}
	msgs, err := st.Messages(ctx, m.ClientID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, msg := range msgs {
		types = append(types, msg.NotifyType)
	}
	// 3 created, 1 accepted, 2 defense supplied, 2 judged.
	if len(types) != 8 {
		t.Fatalf("notifications %v", types)
	}
}

// TestUndefendedDisputeIsAcceptedAtTheDeadline: the alert a day before, then TIMEOUT.
func TestUndefendedDisputeIsAcceptedAtTheDeadline(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := storetest.Sandbox(t, st)
	p := storetest.CapturedPayment(t, st, m, "P1", 0)
	clk := clock.NewFixed(storetest.T0.Add(time.Hour))
	svc := disputes.NewService(st, paymentsOf{st}, xorVault{}, clk)
	d, err := svc.Open(ctx, disputes.OpenRequest{MerchantID: m.ClientID, PaymentID: p.ID, AmountMinor: 4200})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(disputes.DefenseWindow - disputes.AlertBefore)
	if n, _ := svc.RunDue(ctx, 10); n != 1 {
		t.Fatalf("alert: %d moves", n)
	}
	clk.Advance(disputes.AlertBefore)
	if n, _ := svc.RunDue(ctx, 10); n != 1 {
		t.Fatalf("deadline: %d moves", n)
	}
	got, _ := st.DisputeByID(ctx, m.ClientID, d.ID)
	if got.State != disputes.Accepted || got.AcceptReason != disputes.AcceptTimeout || !got.Alerted {
		t.Fatalf("%+v", got)
	}
	if n, _ := svc.RunDue(ctx, 10); n != 0 {
		t.Fatalf("a final dispute still due: %d", n)
	}
}
