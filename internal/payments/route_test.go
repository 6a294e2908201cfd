package payments_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// fixedRouter routes every payment along one route across named simulators.
type fixedRouter struct {
	route []string
	set   map[string]acquirer.Acquirer
}

func (r fixedRouter) Route(context.Context, string, payments.RouteFacts) ([]string, error) {
	return r.route, nil
}

func (r fixedRouter) AuthenticatesBuyers(string) bool { return false }

func (r fixedRouter) Acquirer(name string) (acquirer.Acquirer, bool) {
	a, ok := r.set[name]
	return a, ok
}

// lostAnswer is an acquirer whose authorization answers never arrive (the acquirer books them,
// the gateway hears an error), counting its calls; reverseFails makes its reversals fail too.
type lostAnswer struct {
	acquirer.Acquirer
	authorizations, reversals atomic.Int64
	reverseFails              bool
}

func (a *lostAnswer) Authorize(ctx context.Context, req acquirer.AuthRequest) (acquirer.AuthResult, error) {
	a.authorizations.Add(1)
	if _, err := a.Acquirer.Authorize(ctx, req); err != nil {
		return acquirer.AuthResult{}, err
	}
	return acquirer.AuthResult{}, errors.New("read tcp: i/o timeout")
}

func (a *lostAnswer) Reverse(ctx context.Context, paymentID string) error {
	a.reversals.Add(1)
	if a.reverseFails {
		return errors.New("connection refused")
	}
	return a.Acquirer.Reverse(ctx, paymentID)
}

// routedEnv is newEnv with ADYEN then CHECKOUT as every payment's route; first, when given,
// wraps ADYEN.
func routedEnv(t *testing.T, first func(acquirer.Acquirer) acquirer.Acquirer) (*env, map[string]acquirer.Acquirer) {
	e := newEnv(t)
	set := map[string]acquirer.Acquirer{}
	for _, p := range []simulator.Profile{simulator.Adyen, simulator.Checkout} {
		set[p.Name] = simulator.NewProfile(p, e.clk)
	}
	books := map[string]acquirer.Acquirer{"ADYEN": set["ADYEN"], "CHECKOUT": set["CHECKOUT"]}
	if first != nil {
		set["ADYEN"] = first(set["ADYEN"])
	}
	e.svc.WithRouter(fixedRouter{route: []string{"ADYEN", "CHECKOUT"}, set: set})
	return e, books
}

var checkoutID = regexp.MustCompile(`^pay_[a-z2-7]{26}$`)

func eventOps(t *testing.T, e *env, m mark, id string) []string { return ops(e.eventsSince(t, m, id)) }

// held reports whether the acquirer holds an authorization under the payment's reference.
func held(t *testing.T, a acquirer.Acquirer, paymentID string) bool {
	t.Helper()
	_, err := a.InquireByReference(context.Background(), paymentID)
	if err != nil && !errors.Is(err, acquirer.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestFailoverTechnicalFailure(t *testing.T) {
	e, books := routedEnv(t, nil)
	m := e.mark(t)
	p := e.pay(t, "4000000000000309", "fo-1", payments.CaptureManual)
	if p.State != payments.StateSuccess || p.ResultCode != protocol.CodeSuccess {
		t.Fatalf("payment %s/%s, want SUCCESS", p.State, p.ResultCode)
	}
	if p.Auth.AcquirerName != "CHECKOUT" || !checkoutID.MatchString(p.Auth.AcquirerTransactionID) || p.Auth.Attempt != 2 {
		t.Fatalf("authorized by %s (%q, attempt %d), want CHECKOUT at attempt 2", p.Auth.AcquirerName, p.Auth.AcquirerTransactionID, p.Auth.Attempt)
	}
	if got, want := eventOps(t, e, m, p.ID), []string{"CREATE", "FAILOVER", "AUTH_APPROVED"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if held(t, books["ADYEN"], p.ID) || !held(t, books["CHECKOUT"], p.ID) {
		t.Fatal("the hold is not at CHECKOUT alone")
	}
	// The payment stays with the acquirer that authorized: its capture is CHECKOUT's.
	txn, _, err := e.capture(p, "cap-1")
	if err != nil || txn.Status != payments.TxnSucceeded || !regexp.MustCompile(`^act_`).MatchString(txn.Details.AcquirerReference) {
		t.Fatalf("capture %+v %v, want CHECKOUT's act_ reference", txn, err)
	}
	if got := e.reload(t, p); got.Auth.AcquirerName != "CHECKOUT" || !slices.Equal(got.Auth.Route, []string{"ADYEN", "CHECKOUT"}) {
		t.Fatalf("stored route %v, acquirer %s", got.Auth.Route, got.Auth.AcquirerName)
	}
}

func TestFailoverEveryAcquirerFails(t *testing.T) {
	e, books := routedEnv(t, nil)
	m := e.mark(t)
	p := e.pay(t, "4000000000000317", "fo-2", payments.CaptureManual)
	if p.State != payments.StateFail || p.ResultCode != protocol.CodeProcessFail {
		t.Fatalf("payment %s/%s, want FAIL/PROCESS_FAIL", p.State, p.ResultCode)
	}
	if got, want := eventOps(t, e, m, p.ID), []string{"CREATE", "FAILOVER", "AUTH_DECLINED"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if held(t, books["ADYEN"], p.ID) || held(t, books["CHECKOUT"], p.ID) {
		t.Fatal("a technical failure left a hold")
	}
}

func TestFailoverNeverOnDecline(t *testing.T) {
	e, books := routedEnv(t, nil)
	p := e.pay(t, "4000000000000002", "fo-3", payments.CaptureManual)
	if p.ResultCode != protocol.CodeDoNotHonor || p.Auth.AcquirerName != "ADYEN" || p.Auth.Attempt != 1 {
		t.Fatalf("decline %s at %s (attempt %d), want DO_NOT_HONOR at ADYEN", p.ResultCode, p.Auth.AcquirerName, p.Auth.Attempt)
	}
	if held(t, books["CHECKOUT"], p.ID) {
		t.Fatal("a decline was sent on to CHECKOUT")
	}
}

// TestFailoverAfterTimeoutReversesFirst: an unanswered authorization is reversed at its
// acquirer by the gateway's reference before the next acquirer is asked, so it leaves no hold.
func TestFailoverAfterTimeoutReversesFirst(t *testing.T) {
	var lost *lostAnswer
	e, books := routedEnv(t, func(a acquirer.Acquirer) acquirer.Acquirer { lost = &lostAnswer{Acquirer: a}; return lost })
	m := e.mark(t)
	p := e.pay(t, "4054695723100768", "fo-4", payments.CaptureManual)
	if p.State != payments.StateSuccess || p.Auth.AcquirerName != "CHECKOUT" {
		t.Fatalf("payment %s at %s, want SUCCESS at CHECKOUT", p.State, p.Auth.AcquirerName)
	}
	if lost.authorizations.Load() != 1 || lost.reversals.Load() != 1 {
		t.Fatalf("ADYEN saw %d authorizations and %d reversals, want 1 and 1", lost.authorizations.Load(), lost.reversals.Load())
	}
	if held(t, books["ADYEN"], p.ID) {
		t.Fatal("the unanswered authorization still holds at ADYEN")
	}
	if got, want := eventOps(t, e, m, p.ID), []string{"CREATE", "FAILOVER", "AUTH_APPROVED"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// TestNoFailoverWithoutReversal: when the reversal fails too, the payment waits at the first
// acquirer (in process, resolved later) rather than risk two holds.
func TestNoFailoverWithoutReversal(t *testing.T) {
	var lost *lostAnswer
	e, books := routedEnv(t, func(a acquirer.Acquirer) acquirer.Acquirer {
		lost = &lostAnswer{Acquirer: a, reverseFails: true}
		return lost
	})
	p := e.pay(t, "4054695723100768", "fo-5", payments.CaptureManual)
	if p.State != payments.StateProcessing || p.ResultCode != protocol.CodePaymentInProcess || p.Auth.AcquirerName != "ADYEN" {
		t.Fatalf("payment %s/%s at %s, want PROCESSING at ADYEN", p.State, p.ResultCode, p.Auth.AcquirerName)
	}
	if held(t, books["CHECKOUT"], p.ID) {
		t.Fatal("CHECKOUT was asked while ADYEN may hold the authorization")
	}
}

// factsRouter routes every payment to one acquirer and keeps the facts it was asked about.
type factsRouter struct {
	fixedRouter
	facts []payments.RouteFacts
}

func (r *factsRouter) Route(_ context.Context, _ string, f payments.RouteFacts) ([]string, error) {
	r.facts = append(r.facts, f)
	return r.route, nil
}

// The BIN table's facts reach the router (issuing country) and the merchant (funding, region)
// before any acquirer has answered about the card.
func TestBINFactsRouteAndShow(t *testing.T) {
	tests := []struct {
		pan, country, funding, region, issuer string
	}{
		{"4242424242424242", "US", "CREDIT", "GLOBAL", "CARDGATE SANDBOX BANK"},
		{"4000004100000003", "KR", "CREDIT", "KR", "CARDGATE SANDBOX BANK KOREA"},
		{"4000000760000002", "BR", "CREDIT", "GLOBAL", "CARDGATE SANDBOX BANCO"},
		{"5105105105105100", "US", "PREPAID", "GLOBAL", "CARDGATE SANDBOX BANK"},
		{"4000056655665556", "US", "DEBIT", "GLOBAL", "CARDGATE SANDBOX BANK"},
		// Pending at the acquirer: the table's facts stand while its answer is out.
		{"4000000000000119", "US", "CREDIT", "GLOBAL", "CARDGATE SANDBOX BANK"},
	}
	e := newEnv(t)
	r := &factsRouter{fixedRouter: fixedRouter{route: []string{"ADYEN"}, set: map[string]acquirer.Acquirer{"ADYEN": simulator.NewProfile(simulator.Adyen, e.clk)}}}
	e.svc.WithRouter(r)
	for i, tt := range tests {
		t.Run(tt.pan, func(t *testing.T) {
			p := e.pay(t, tt.pan, "bin-"+tt.pan, payments.CaptureManual)
			if got := r.facts[i]; got.IssuingCountry != tt.country || got.CardBrand != "VISA" && got.CardBrand != "MASTERCARD" {
				t.Errorf("route facts %+v, want issuing country %s", got, tt.country)
			}
			if p.Card.IssuingCountry != tt.country || p.Card.Funding != tt.funding || p.Card.Region != tt.region || p.Card.IssuerName != tt.issuer {
				t.Errorf("card %+v, want %s %s %s %s", p.Card, tt.country, tt.funding, tt.region, tt.issuer)
			}
			if p.State != payments.StateSuccess {
				return // cardInfo shows the card's facts once the acquirer has answered
			}
			info := payments.InquiryResponseOf(p, nil).CardInfo
			if info.IssuingCountry != tt.country || info.Funding != tt.funding || info.PaymentMethodRegion != tt.region {
				t.Errorf("cardInfo %+v, want %s %s %s", info, tt.country, tt.funding, tt.region)
			}
		})
	}
}
