// Package storetest is the store contract: one suite of tests that every implementation of
// store.Store passes (sqlite/ and postgres/ run it from their contract_test.go). It checks the
// behaviour the gateway relies on — guarded changes, idempotency by unique keys, the invariants
// held by the schema, due work, the outbox's leases — through the Store interface only.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/protocol"
)

// Counter is what the suite needs beyond store.Store: the number of rows in a table (payments,
// payment_events, transactions, outbox, notify_attempts), to check that a refused change wrote
// nothing. The store that open returns must implement it (a test wrapper may add it).
type Counter interface {
	CountRows(ctx context.Context, table string) (int, error)
}

// Opener opens a new, empty, migrated store for one test; the store is closed (and its data
// dropped) by the opener's cleanup.
type Opener func(t *testing.T) store.Store

// Run runs the whole contract against the stores that open returns, one fresh store per test.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"PaymentRoundTripAndGuards", testPaymentRoundTripAndGuards},
		{"ConstraintsHoldWithoutTheDomain", testConstraintsHoldWithoutTheDomain},
		{"ApplyIsAtomic", testApplyIsAtomic},
		{"ApplyAgainstPrev", testApplyAgainstPrev},
		{"ApplyWritesTheChallengePage", testApplyWritesTheChallengePage},
		{"ConcurrentGuardedApply", testConcurrentGuardedApply},
		{"ConcurrentCreatePayment", testConcurrentCreatePayment},
		{"KeysAndMerchants", testKeysAndMerchants},
		{"SandboxMerchantIsTheOldest", testSandboxMerchantIsTheOldest},
		{"TxnRoundTripAndGuards", testTxnRoundTripAndGuards},
		{"InternalTxnUniqueness", testInternalTxnUniqueness},
		{"TxnsOrder", testTxnsOrder},
		{"DueListsEveryKind", testDueListsEveryKind},
		{"OutboxOneMessagePerResult", testOutboxOneMessagePerResult},
		{"OutboxClaimDue", testOutboxClaimDue},
		{"OutboxClaim", testOutboxClaim},
		{"OutboxClaimBatch", testOutboxClaimBatch},
		{"OutboxRecordAttempts", testOutboxRecordAttempts},
		{"OutboxRecordAttempt", testOutboxRecordAttempt},
		{"OutboxManualResend", testOutboxManualResend},
		{"OutboxAttemptTextIsStored", testOutboxAttemptTextIsStored},
		{"ConcurrentClaims", func(t *testing.T, s store.Store) { ConcurrentClaims(t, s, s, s, s) }},
		{"ClaimWork", testClaimWork},
		{"ConcurrentWorkClaims", func(t *testing.T, s store.Store) { ConcurrentWorkClaims(t, s, s, s, s) }},
		{"ClockOffsetNeverDecreases", testClockOffsetNeverDecreases},
		{"AnotherMerchantSeesNothing", testAnotherMerchantSeesNothing},
		{"UnstorableTextIsRefused", testUnstorableTextIsRefused},
		{"TokenRoundTripAndScope", testTokenRoundTripAndScope},
		{"TokenConflictIsAllOrNothing", testTokenConflictIsAllOrNothing},
		{"ConcurrentTokenSave", testConcurrentTokenSave},
		{"SealedAfterPagesTokens", testSealedAfterPagesTokens},
		{"SealedAfterListsSealedPayments", testSealedAfterListsSealedPayments},
		{"ReplaceSealed", testReplaceSealed},
		{"SimulatorLedger", testSimulatorLedger},
		{"RoutingRules", testRoutingRules},
		{"Forces", testForces},
		{"DisputeRoundTripAndGuards", testDisputeRoundTripAndGuards},
		{"DisputeAmounts", testDisputeAmounts},
		{"DisputesAndRefundsShareBalance", testDisputesAndRefundsShareBalance},
		{"Chargebacks", testChargebacks},
		{"CallLog", testCallLog},
		{"ResetMerchant", testResetMerchant},
		{"ConsoleUsersAndSessions", testConsoleUsersAndSessions},
		{"ConsoleLoginFailures", testConsoleLoginFailures},
		{"ConsoleSearchPayments", testConsoleSearchPayments},
		{"ConsoleReadModels", testConsoleReadModels},
		{"PanicInTxLeavesStoreUsable", testPanicInTxLeavesStoreUsable},
		{"UniqueViolationClassifiedByCode", testUniqueViolationClassifiedByCode},
		{"PingDescribeClose", testPingDescribeClose},
		{"PaymentByNetworkTransactionID", testPaymentByNetworkTransactionID},
		{"SettlementRoundTrip", testSettlementRoundTrip},
		{"ReportRows", testReportRows},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// T0 is the time the fixtures start at (whole milliseconds, as the stores keep them).
var T0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

var ctx = context.Background()

func sgd() money.Currency {
	c, _ := money.Lookup("SGD")
	return c
}

// Sandbox returns the store's sandbox merchant, creating it.
func Sandbox(t *testing.T, s store.Store) merchant.Merchant {
	t.Helper()
	m, _, err := merchant.EnsureSandbox(ctx, s, T0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Other creates another (production) merchant.
func Other(t *testing.T, s store.Store, clientID string) merchant.Merchant {
	t.Helper()
	m := merchant.Merchant{ClientID: clientID, Name: "Other " + clientID, PublicKeys: map[string]string{"1": "PUB1-" + clientID},
		FingerprintKey: []byte("fingerprint key of " + clientID), CreatedAt: T0.Add(time.Hour)}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// NewPayment is a payment in process, as pay creates it.
func NewPayment(m merchant.Merchant, id, requestID string) payments.Payment {
	return payments.Payment{
		ID: id, MerchantID: m.ClientID, RequestID: requestID, State: payments.StateProcessing, Version: 1,
		Amount: money.Amount{Currency: sgd(), Minor: 4200}, CaptureMode: payments.CaptureAutomatic,
		ResultCode: protocol.CodePaymentInProcess, ResultMsg: "processing", AcquirerState: payments.AcquirerSent,
		Card:      payments.CardSummary{Brand: "VISA", Masked: "************4242", BIN: "424242", LastFour: "4242", Fingerprint: "f"},
		Order:     payments.OrderDetails{ReferenceOrderID: "o1", Description: "d", RedirectURL: "https://m.example/r", NotifyURL: "https://m.example/n"},
		CreatedAt: T0, UpdatedAt: T0, ExpiresAt: T0.Add(14 * time.Minute),
	}
}

func createEvent(p payments.Payment) payments.Event {
	return payments.Event{PaymentID: p.ID, Op: payments.OpCreate, To: p.State, ResultCode: p.ResultCode, At: p.CreatedAt}
}

func mustCreate(t *testing.T, s store.Store, p payments.Payment) payments.Payment {
	t.Helper()
	if err := s.CreatePayment(ctx, p, createEvent(p)); err != nil {
		t.Fatalf("create %s: %v", p.ID, err)
	}
	return p
}

// change builds a guarded change from p to next (next.Version is set to p.Version+1), made from
// p as the service's are (Change.Prev), so the store writes only the columns that moved.
func change(p payments.Payment, next payments.Payment, op payments.Op) payments.Change {
	next.Version = p.Version + 1
	return payments.Change{Payment: next, FromVersion: p.Version, Prev: &p,
		Event: payments.Event{PaymentID: p.ID, Op: op, From: p.State, To: next.State, ResultCode: next.ResultCode, At: next.UpdatedAt}}
}

func mustApply(t *testing.T, s store.Store, c payments.Change) payments.Payment {
	t.Helper()
	if err := s.Apply(ctx, c); err != nil {
		t.Fatalf("apply %s %s: %v", c.Payment.ID, c.Event.Op, err)
	}
	return c.Payment
}

// approved is p authorized at T0+1s.
func approved(p payments.Payment) payments.Payment {
	n := p
	n.State, n.ResultCode, n.ResultMsg, n.AcquirerState = payments.StateSuccess, protocol.CodeSuccess, "success", payments.AcquirerAnswered
	n.AuthorizedAt, n.AuthExpiresAt, n.UpdatedAt = T0.Add(time.Second), T0.Add(7*24*time.Hour), T0.Add(time.Second)
	n.Auth = payments.AuthDetails{AcquirerName: "SIM", AcquirerTransactionID: "A-" + p.ID, AuthorizationCode: "123456"}
	return n
}

// authorize creates p and approves it.
func authorize(t *testing.T, s store.Store, p payments.Payment) payments.Payment {
	t.Helper()
	mustCreate(t, s, p)
	return mustApply(t, s, change(p, approved(p), payments.OpAuthApproved))
}

func count(t *testing.T, s store.Store, table string) int {
	t.Helper()
	c, ok := s.(Counter)
	if !ok {
		t.Fatalf("%T does not implement storetest.Counter", s)
	}
	n, err := c.CountRows(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// counts is the number of rows of every table a payment change writes.
func counts(t *testing.T, s store.Store) string {
	t.Helper()
	return fmt.Sprintf("payments=%d events=%d transactions=%d outbox=%d", count(t, s, "payments"), count(t, s, "payment_events"),
		count(t, s, "transactions"), count(t, s, "outbox"))
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}
