package sqlite_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/protocol"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func open(t *testing.T) (*sqlite.Store, merchant.Merchant) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	m, _, err := merchant.EnsureSandbox(ctx, s, t0)
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

func newPayment(m merchant.Merchant, id, requestID string) payments.Payment {
	sgd, _ := money.Lookup("SGD")
	return payments.Payment{
		ID: id, MerchantID: m.ClientID, RequestID: requestID, State: payments.StateProcessing, Version: 1,
		Amount: money.Amount{Currency: sgd, Minor: 4200}, CaptureMode: payments.CaptureAutomatic,
		ResultCode: protocol.CodePaymentInProcess, ResultMsg: "processing", AcquirerState: payments.AcquirerSent,
		Card:      payments.CardSummary{Brand: "VISA", Masked: "************4242", BIN: "424242", LastFour: "4242", Fingerprint: "f"},
		Order:     payments.OrderDetails{ReferenceOrderID: "o1", Description: "d", RedirectURL: "https://m.example/r", NotifyURL: "https://m.example/n"},
		CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(14 * time.Minute),
	}
}

func count(t *testing.T, s *sqlite.Store, table string) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPaymentRoundTripAndGuards(t *testing.T) {
	ctx := context.Background()
	s, m := open(t)
	p := newPayment(m, "P1", "R1")
	if err := s.CreatePayment(ctx, p, payments.Event{PaymentID: "P1", Op: payments.OpCreate, To: payments.StateProcessing, At: t0}); err != nil {
		t.Fatal(err)
	}
	got, err := s.PaymentByRequestID(ctx, m.ClientID, "R1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "P1" || got.Amount != p.Amount || got.Card != p.Card || got.Order != p.Order || !got.ExpiresAt.Equal(p.ExpiresAt) || !got.AuthorizedAt.IsZero() {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := s.PaymentByID(ctx, "SANDBOX_OTHER", "P1"); !errors.Is(err, payments.ErrNotFound) {
		t.Fatalf("another merchant sees the payment: %v", err)
	}

	// Same request id: refused by the unique key, and nothing of it is left behind.
	dup := newPayment(m, "P2", "R1")
	if err := s.CreatePayment(ctx, dup, payments.Event{PaymentID: "P2", Op: payments.OpCreate, To: payments.StateProcessing, At: t0}); !errors.Is(err, payments.ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	if n := count(t, s, "payment_events"); n != 1 {
		t.Fatalf("events after the refused duplicate: %d", n)
	}

	next := got
	next.Version, next.State, next.ResultCode, next.AcquirerState = 2, payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered
	next.AuthorizedAt = t0.Add(time.Second)
	change := payments.Change{Payment: next, FromVersion: 1,
		Event:  payments.Event{PaymentID: "P1", Op: payments.OpAuthApproved, From: payments.StateProcessing, To: payments.StateSuccess, At: t0},
		Outbox: &payments.OutboxMessage{MerchantID: m.ClientID, PaymentID: "P1", NotifyType: "PAYMENT_RESULT", URL: "https://m.example/n", Body: []byte(`{}`), CreatedAt: t0}}
	if err := s.Apply(ctx, change); err != nil {
		t.Fatal(err)
	}
	// The same change again is stale: the version moved on.
	if err := s.Apply(ctx, change); !errors.Is(err, payments.ErrConflict) {
		t.Fatalf("stale apply: %v", err)
	}
	if e, o := count(t, s, "payment_events"), count(t, s, "outbox"); e != 2 || o != 1 {
		t.Fatalf("events %d outbox %d, want 2 and 1 (a refused change writes nothing)", e, o)
	}
	got, err = s.PaymentByID(ctx, m.ClientID, "P1")
	if err != nil || got.State != payments.StateSuccess || got.Version != 2 || !got.AuthorizedAt.Equal(next.AuthorizedAt) {
		t.Fatalf("after apply: %+v %v", got, err)
	}
}

// TestConstraintsHoldWithoutTheDomain: the schema refuses what the domain never writes, so a bug
// in code cannot store an impossible payment.
func TestConstraintsHoldWithoutTheDomain(t *testing.T) {
	s, m := open(t)
	for name, mutate := range map[string]func(*payments.Payment){
		"zero amount":  func(p *payments.Payment) { p.Amount.Minor = 0 },
		"bad state":    func(p *payments.Payment) { p.State = "CAPTURED_AND_CANCELLED" },
		"capture mode": func(p *payments.Payment) { p.CaptureMode = "LATER" },
	} {
		t.Run(name, func(t *testing.T) {
			p := newPayment(m, "P-"+name, "R-"+name)
			mutate(&p)
			if err := s.CreatePayment(context.Background(), p, payments.Event{PaymentID: p.ID, Op: payments.OpCreate, To: p.State, At: t0}); err == nil {
				t.Fatal("stored")
			}
		})
	}
	if n := count(t, s, "payments"); n != 0 {
		t.Fatalf("payments: %d", n)
	}
}

// TestConcurrentGuardedApply: of many writers applying from the same version, exactly one wins.
func TestConcurrentGuardedApply(t *testing.T) {
	ctx := context.Background()
	s, m := open(t)
	p := newPayment(m, "P1", "R1")
	if err := s.CreatePayment(ctx, p, payments.Event{PaymentID: "P1", Op: payments.OpCreate, To: payments.StateProcessing, At: t0}); err != nil {
		t.Fatal(err)
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won, lost int
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := p
			next.Version, next.State = 2, payments.StateFail
			err := s.Apply(ctx, payments.Change{Payment: next, FromVersion: 1,
				Event: payments.Event{PaymentID: "P1", Op: payments.OpAuthDeclined, From: payments.StateProcessing, To: payments.StateFail, At: t0}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, payments.ErrConflict):
				lost++
			default:
				t.Errorf("apply: %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != 15 {
		t.Fatalf("won %d lost %d", won, lost)
	}
	if n := count(t, s, "payment_events"); n != 2 {
		t.Fatalf("events: %d", n)
	}
}

func TestKeysAndMerchants(t *testing.T) {
	ctx := context.Background()
	s, m := open(t)
	k1, err := keyring.Ensure(ctx, s, t0)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := keyring.Ensure(ctx, s, t0)
	if err != nil {
		t.Fatal(err)
	}
	if k1.Version != "1" || !k1.Private.Equal(k2.Private) {
		t.Fatal("Ensure must return the stored key, not a new one")
	}
	again, created, err := merchant.EnsureSandbox(ctx, s, t0)
	if err != nil || created || again.ClientID != m.ClientID || again.PrivateKey != m.PrivateKey {
		t.Fatalf("EnsureSandbox is not repeatable: %v %v", created, err)
	}
	got, err := s.MerchantByClientID(ctx, m.ClientID)
	if err != nil || got.PublicKeys["1"] != m.PublicKeys["1"] || string(got.FingerprintKey) != string(m.FingerprintKey) {
		t.Fatalf("merchant round trip: %v", err)
	}
	if _, err := s.MerchantByClientID(ctx, "SANDBOX_NOPE"); !errors.Is(err, merchant.ErrNotFound) {
		t.Fatalf("unknown merchant: %v", err)
	}
}

// TestReopenKeepsData: the store is a real file; a second Open migrates nothing and finds it all.
func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := merchant.EnsureSandbox(ctx, s, t0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.SandboxMerchant(ctx); err != nil || got.ClientID != m.ClientID {
		t.Fatalf("after reopen: %v", err)
	}
}
