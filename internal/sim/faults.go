package sim

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/payments"
)

// Fault is a kind of injected failure.
type Fault string

const (
	// FaultStoreBefore: the store call fails before it touches the database.
	FaultStoreBefore Fault = "store-error-before"
	// FaultStoreAfter: a write commits, then the caller gets an error (a lost acknowledgement).
	FaultStoreAfter Fault = "store-error-after-commit"
	// FaultCrashBefore and FaultCrashAfter: the process dies at a write, before or after it
	// commits; from then on every call of that process fails without effect.
	FaultCrashBefore Fault = "crash-before-write"
	FaultCrashAfter  Fault = "crash-after-write"
	// FaultCrashBetween: the process dies between two calls (injected by the driver).
	FaultCrashBetween Fault = "crash-between-steps"
	// FaultAcquirerTimeout: the acquirer call times out before the request is sent.
	FaultAcquirerTimeout Fault = "acquirer-timeout"
	// FaultAcquirerLost: the acquirer acts on the request, and its answer is lost.
	FaultAcquirerLost Fault = "acquirer-lost-response"
	// FaultCrashMidAuth: the process dies while an authorization is at the acquirer, which has
	// acted on it or not (a coin decides): the gateway never records the answer, and its in-flight
	// lease is left for another process to resolve (payments.DueResolve).
	FaultCrashMidAuth Fault = "crash-mid-authorization"
	// FaultCrashOwedCapture: the process dies after a pay answered with its automatic capture
	// reserved and before the capture ran (payments/captures.go): the capture is left to the
	// due work of the next process.
	FaultCrashOwedCapture Fault = "crash-before-owed-capture"
)

// Faults lists every kind, in the order reports show them.
var Faults = []Fault{FaultStoreBefore, FaultStoreAfter, FaultCrashBefore, FaultCrashAfter, FaultCrashBetween,
	FaultAcquirerTimeout, FaultAcquirerLost, FaultCrashMidAuth, FaultCrashOwedCapture}

// ErrInjected is the error of an injected store fault; ErrCrashed is what every call of a
// process that crashed gets.
var (
	ErrInjected = errors.New("sim: injected store fault")
	ErrCrashed  = errors.New("sim: the process crashed")
)

// Rates are the probabilities of each fault per call.
type Rates struct {
	StoreBefore, StoreAfter, Crash float64
	AcquirerTimeout, AcquirerLost  float64
	CrashMidAuth                   float64
	CrashOwedCapture               float64
}

// Injector decides, from its own seeded source, which calls fail. The store and acquirer
// wrappers of one process share it; the calls of one seed are sequential and their order is
// fixed by the seed, so the same seed injects the same faults at the same calls.
type Injector struct {
	rng   *rand.Rand
	rates Rates
	// Off disables injection (the driver's own reads and the final settling run without faults).
	Off bool
	// dead is set by a crash: the process is gone.
	dead bool
	// Counts is how many faults of each kind were injected; Step lists those of the current step.
	Counts map[Fault]int
	Step   []Fault
}

// NewInjector returns an injector drawing from a PCG source seeded with seed.
func NewInjector(seed uint64, rates Rates) *Injector {
	return &Injector{rng: rand.New(rand.NewPCG(seed, 0x5eed_fa17)), rates: rates, Counts: map[Fault]int{}}
}

// Dead reports whether the process crashed.
func (in *Injector) Dead() bool { return in.dead }

// Revive starts a new process after a crash.
func (in *Injector) Revive() { in.dead = false }

// CrashOwedCapture decides whether the process dies with automatic captures owed, before they
// run; it draws whether or not any are owed, so the faults of the calls after stay where they were.
func (in *Injector) CrashOwedCapture(owed bool) bool {
	if !in.roll(in.rates.CrashOwedCapture) || in.dead || !owed {
		return false
	}
	in.dead = true
	in.note(FaultCrashOwedCapture)
	return true
}

// Crash kills the process between two calls.
func (in *Injector) Crash() {
	in.dead = true
	in.note(FaultCrashBetween)
}

func (in *Injector) note(f Fault) {
	in.Counts[f]++
	in.Step = append(in.Step, f)
}

// roll draws one number per call whether or not injection is on, so switching it off for a call
// does not shift the faults of the calls after it.
func (in *Injector) roll(p float64) bool {
	r := in.rng.Float64()
	return !in.Off && r < p
}

// storeCall decides the fate of one store call: it returns the error to answer before the call
// (nil to go on) and whether to fail after it.
func (in *Injector) storeCall(write bool) (before error, after Fault) {
	if in.dead {
		return ErrCrashed, ""
	}
	crash, errBefore, errAfter := in.roll(in.rates.Crash), in.roll(in.rates.StoreBefore), in.roll(in.rates.StoreAfter)
	commitFirst := in.rng.IntN(2) == 0
	switch {
	case write && crash && commitFirst:
		return nil, FaultCrashAfter
	case write && crash:
		in.note(FaultCrashBefore)
		in.dead = true
		return ErrCrashed, ""
	case errBefore:
		in.note(FaultStoreBefore)
		return ErrInjected, ""
	case write && errAfter:
		return nil, FaultStoreAfter
	}
	return nil, ""
}

// afterWrite applies a fault decided to strike after the write ran.
func (in *Injector) afterWrite(f Fault, err error) error {
	switch f {
	case FaultCrashAfter:
		in.note(f)
		in.dead = true
		return ErrCrashed
	case FaultStoreAfter:
		if err != nil {
			return err // nothing committed: there is no acknowledgement to lose
		}
		in.note(f)
		return ErrInjected
	}
	return err
}

// Store wraps a payments.Store with injected faults.
type Store struct {
	Inner payments.Store
	In    *Injector
}

var _ payments.Store = (*Store)(nil)

func read[T any](s *Store, call func() (T, error)) (T, error) {
	if err, _ := s.In.storeCall(false); err != nil {
		var zero T
		return zero, err
	}
	return call()
}

func (s *Store) write(call func() error) error {
	before, after := s.In.storeCall(true)
	if before != nil {
		return before
	}
	return s.In.afterWrite(after, call())
}

// CreatePayment implements payments.Store.
func (s *Store) CreatePayment(ctx context.Context, p payments.Payment, ev payments.Event) error {
	return s.write(func() error { return s.Inner.CreatePayment(ctx, p, ev) })
}

// Apply implements payments.Store.
func (s *Store) Apply(ctx context.Context, c payments.Change) error {
	return s.write(func() error { return s.Inner.Apply(ctx, c) })
}

// ApplyAll implements payments.BatchStore: the batch is one write, which the faults strike as a
// whole (a lost acknowledgement of a batch is a batch committed and reported failed).
func (s *Store) ApplyAll(ctx context.Context, cs []payments.Change) ([]error, error) {
	bs, ok := s.Inner.(payments.BatchStore)
	if !ok {
		return nil, errors.New("sim: the store cannot write a batch")
	}
	var errs []error
	err := s.write(func() error {
		var err error
		errs, err = bs.ApplyAll(ctx, cs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// TokenByID implements payments.Store.
func (s *Store) TokenByID(ctx context.Context, merchantID, tokenID string) (payments.Token, error) {
	return read(s, func() (payments.Token, error) { return s.Inner.TokenByID(ctx, merchantID, tokenID) })
}

// TokenByFingerprint implements payments.Store.
func (s *Store) TokenByFingerprint(ctx context.Context, merchantID, buyerID, fingerprint string) (payments.Token, error) {
	return read(s, func() (payments.Token, error) {
		return s.Inner.TokenByFingerprint(ctx, merchantID, buyerID, fingerprint)
	})
}

// PaymentByChallengeToken implements payments.Store.
func (s *Store) PaymentByChallengeToken(ctx context.Context, token string) (payments.Payment, error) {
	return read(s, func() (payments.Payment, error) { return s.Inner.PaymentByChallengeToken(ctx, token) })
}

// PaymentByID implements payments.Store.
func (s *Store) PaymentByID(ctx context.Context, merchantID, paymentID string) (payments.Payment, error) {
	return read(s, func() (payments.Payment, error) { return s.Inner.PaymentByID(ctx, merchantID, paymentID) })
}

// PaymentForAcquirer implements payments.Store.
func (s *Store) PaymentForAcquirer(ctx context.Context, paymentID string) (payments.Payment, error) {
	return read(s, func() (payments.Payment, error) { return s.Inner.PaymentForAcquirer(ctx, paymentID) })
}

// PaymentByRequestID implements payments.Store.
func (s *Store) PaymentByRequestID(ctx context.Context, merchantID, requestID string) (payments.Payment, error) {
	return read(s, func() (payments.Payment, error) { return s.Inner.PaymentByRequestID(ctx, merchantID, requestID) })
}

// PaymentByNetworkTransactionID implements payments.Store.
func (s *Store) PaymentByNetworkTransactionID(ctx context.Context, merchantID, nti string) (payments.Payment, error) {
	return read(s, func() (payments.Payment, error) { return s.Inner.PaymentByNetworkTransactionID(ctx, merchantID, nti) })
}

// TxnByRequestID implements payments.Store.
func (s *Store) TxnByRequestID(ctx context.Context, merchantID string, typ payments.TxnType, requestID string) (payments.Txn, error) {
	return read(s, func() (payments.Txn, error) { return s.Inner.TxnByRequestID(ctx, merchantID, typ, requestID) })
}

// TxnByID implements payments.Store.
func (s *Store) TxnByID(ctx context.Context, merchantID string, typ payments.TxnType, txnID string) (payments.Txn, error) {
	return read(s, func() (payments.Txn, error) { return s.Inner.TxnByID(ctx, merchantID, typ, txnID) })
}

// Txns implements payments.Store.
func (s *Store) Txns(ctx context.Context, merchantID, paymentID string) ([]payments.Txn, error) {
	return read(s, func() ([]payments.Txn, error) { return s.Inner.Txns(ctx, merchantID, paymentID) })
}

// Due implements payments.Store.
func (s *Store) Due(ctx context.Context, t time.Time, limit int) ([]payments.Due, error) {
	return read(s, func() ([]payments.Due, error) { return s.Inner.Due(ctx, t, limit) })
}

// ClaimWork implements payments.Store. Leases run on the wall clock, so a lease taken and then
// "lost" would make a run depend on how fast it goes: claims only fail before they act.
func (s *Store) ClaimWork(ctx context.Context, t, now, leaseUntil time.Time, limit int) ([]payments.Due, error) {
	return read(s, func() ([]payments.Due, error) { return s.Inner.ClaimWork(ctx, t, now, leaseUntil, limit) })
}

// ReleaseWork implements payments.Store.
func (s *Store) ReleaseWork(ctx context.Context, paymentID string) error {
	if s.In.dead {
		return ErrCrashed
	}
	return s.Inner.ReleaseWork(ctx, paymentID)
}

// Ledger is what the acquirer did, whatever the gateway heard of it: the authorizations it
// approved (by payment id: the hold at the issuer) and the voids and captures it received (by
// its authorization reference). It outlives the gateway's crashes, as the acquirer does.
type Ledger struct {
	Approved map[string]string // "<acquirer>/<payment id>" → acquirer transaction id
	Voided   map[string]bool   // acquirer transaction id
	Reversed map[string]bool   // "<acquirer>/<payment id>": a reversal by the gateway's reference
	Captured map[string]bool   // acquirer transaction id
	Refunds  map[string]int64  // refund id → amount refunded (an acquirer dedupes on the refund id)
	// Acquirers are the acquirers that approved anything: a payment that failed over may have
	// an approval (reversed, if all is well) at more than one.
	Acquirers map[string]bool
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{Approved: map[string]string{}, Voided: map[string]bool{}, Reversed: map[string]bool{}, Captured: map[string]bool{},
		Refunds: map[string]int64{}, Acquirers: map[string]bool{}}
}

// Key is the ledger's key of a payment's authorization at one acquirer.
func Key(acquirerName, paymentID string) string { return acquirerName + "/" + paymentID }

// Acquirer wraps an acquirer with injected timeouts and lost responses, and keeps the ledger.
type Acquirer struct {
	Inner  acquirer.Acquirer
	In     *Injector
	Ledger *Ledger
}

var _ acquirer.Acquirer = (*Acquirer)(nil)

// call runs one acquirer call: a timeout before it is sent, or a lost answer after it acted.
func call[T any](a *Acquirer, do func() (T, error), effect func(T)) (T, error) {
	var zero T
	if a.In.dead {
		return zero, ErrCrashed
	}
	timeout, lost := a.In.roll(a.In.rates.AcquirerTimeout), a.In.roll(a.In.rates.AcquirerLost)
	if timeout {
		a.In.note(FaultAcquirerTimeout)
		return zero, context.DeadlineExceeded
	}
	res, err := do()
	if err == nil {
		effect(res)
	}
	if lost {
		a.In.note(FaultAcquirerLost)
		return zero, context.DeadlineExceeded
	}
	return res, err
}

// Name implements acquirer.Acquirer.
func (a *Acquirer) Name() string { return a.Inner.Name() }

// Authorize implements acquirer.Acquirer.
func (a *Acquirer) Authorize(ctx context.Context, req acquirer.AuthRequest) (acquirer.AuthResult, error) {
	book := func(r acquirer.AuthResult) {
		if r.Outcome == acquirer.Approved || r.Outcome == acquirer.Pending {
			// The timeout card's hold exists from the request on; it settles approved.
			a.Ledger.Approved[Key(a.Name(), req.PaymentID)] = r.AcquirerTransactionID
			a.Ledger.Acquirers[a.Name()] = true
		}
	}
	if a.In.dead {
		return acquirer.AuthResult{}, ErrCrashed
	}
	// Drawn on every authorization, struck or not, so the faults after it stay where they were.
	crash, acted := a.In.roll(a.In.rates.CrashMidAuth), a.In.rng.IntN(2) == 0
	if crash {
		if acted {
			if r, err := a.Inner.Authorize(ctx, req); err == nil {
				book(r)
			}
		}
		a.In.note(FaultCrashMidAuth)
		a.In.dead = true
		return acquirer.AuthResult{}, ErrCrashed
	}
	return call(a, func() (acquirer.AuthResult, error) { return a.Inner.Authorize(ctx, req) }, book)
}

// InquireByReference implements acquirer.Acquirer.
func (a *Acquirer) InquireByReference(ctx context.Context, paymentID string) (acquirer.AuthResult, error) {
	return call(a, func() (acquirer.AuthResult, error) { return a.Inner.InquireByReference(ctx, paymentID) }, func(acquirer.AuthResult) {})
}

// InquireAuthorization implements acquirer.Acquirer.
func (a *Acquirer) InquireAuthorization(ctx context.Context, id string) (acquirer.AuthResult, error) {
	return call(a, func() (acquirer.AuthResult, error) { return a.Inner.InquireAuthorization(ctx, id) }, func(acquirer.AuthResult) {})
}

// Capture implements acquirer.Acquirer.
func (a *Acquirer) Capture(ctx context.Context, req acquirer.CaptureRequest) (acquirer.OpResult, error) {
	return call(a, func() (acquirer.OpResult, error) { return a.Inner.Capture(ctx, req) }, func(r acquirer.OpResult) {
		if r.Status != acquirer.OpFailed {
			a.Ledger.Captured[req.AcquirerTransactionID] = true
		}
	})
}

// InquireCapture implements acquirer.Acquirer.
func (a *Acquirer) InquireCapture(ctx context.Context, ref string) (acquirer.OpResult, error) {
	return call(a, func() (acquirer.OpResult, error) { return a.Inner.InquireCapture(ctx, ref) }, func(acquirer.OpResult) {})
}

// Refund implements acquirer.Acquirer.
func (a *Acquirer) Refund(ctx context.Context, req acquirer.RefundRequest) (acquirer.OpResult, error) {
	return call(a, func() (acquirer.OpResult, error) { return a.Inner.Refund(ctx, req) }, func(r acquirer.OpResult) {
		if r.Status == acquirer.OpSucceeded {
			a.Ledger.Refunds[req.RefundID] = req.Amount.Minor
		}
	})
}

// Reverse implements acquirer.Acquirer.
func (a *Acquirer) Reverse(ctx context.Context, paymentID string) error {
	_, err := call(a, func() (struct{}, error) { return struct{}{}, a.Inner.Reverse(ctx, paymentID) }, func(struct{}) { a.Ledger.Reversed[Key(a.Name(), paymentID)] = true })
	return err
}

// Void implements acquirer.Acquirer.
func (a *Acquirer) Void(ctx context.Context, id string) error {
	_, err := call(a, func() (struct{}, error) { return struct{}{}, a.Inner.Void(ctx, id) }, func(struct{}) { a.Ledger.Voided[id] = true })
	return err
}
