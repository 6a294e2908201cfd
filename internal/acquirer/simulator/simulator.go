// Package simulator is the sandbox acquirer: outcomes are decided by the test card number so every
// path of a merchant's integration can be driven on purpose (docs/design.md "The sandbox test cards").
// The card table lives here in code, never in the store.
package simulator

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cardgate/cardgate/internal/bin"
	"math/big"
	"sync"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/protocol"
)

// Behaviour is what a test card does at authorization and afterwards.
type Behaviour struct {
	Outcome     acquirer.Outcome
	DeclineCode protocol.Code
	AVS         string // forced raw AVS result; empty means "from the billing address"
	CVV         string // forced raw CVV result; empty means "from the CVV presence"
	// SettleAfter is, for the timeout card, how long after the request the late answer arrives.
	SettleAfter time.Duration
	// ThreeDS says how the card behaves when 3-D Secure is requested (used by the 3DS flow).
	ThreeDS ThreeDSBehaviour
	// CaptureFails and CaptureDelay drive the capture paths; Chargeback is announced with the
	// approval and opens a dispute its After the capture.
	CaptureFails bool
	CaptureDelay time.Duration
	Chargeback   *acquirer.Chargeback
	// Hold keeps the authorization call open this long (wall time) after the acquirer has booked
	// it, before answering: an authorization in flight, so that a gateway stopped meanwhile leaves
	// one the acquirer knows and the gateway does not (the crash tests' card).
	Hold time.Duration
	// Transit delays the request this long (wall time) before the acquirer books it: a gateway
	// stopped meanwhile leaves an authorization that never reached the acquirer.
	Transit time.Duration
	// FailFirst makes the first acquirer of a payment's route fail technically (Unavailable,
	// nothing held) and the next one answer Outcome: the failover card.
	FailFirst bool
	// LoseFirst makes the route's first acquirer book the authorization and lose its answer (the
	// gateway hears a broken connection), so the gateway must reverse it there before it tries the
	// next acquirer, which answers Outcome.
	LoseFirst bool
}

// ThreeDSBehaviour is a card's 3-D Secure row.
type ThreeDSBehaviour int

const (
	ThreeDSDefault      ThreeDSBehaviour = iota // challenge when 3DS is requested (seed 000)
	ThreeDSChallenge                            // always a challenge when 3DS is requested
	ThreeDSFrictionless                         // authenticated without a page
	ThreeDSSoftDecline                          // AUTHENTICATION_REQUIRED unless upgraded to 3DS
)

// Cards is the sandbox test-card table. A Luhn-valid number that is not listed is approved.
var Cards = map[string]Behaviour{
	"4000000000000002": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeDoNotHonor},
	"4000000000009995": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeUserBalanceNotEnough},
	"4000000000000069": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeCardExpired},
	"4000000000000127": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeInvalidCVV, CVV: "N"},
	"4000000000009987": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeSuspectedCard},
	"4100000000000019": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeRiskReject},
	"4000000000000010": {Outcome: acquirer.Approved, AVS: "N"},
	"4000000000000119": {Outcome: acquirer.Pending, SettleAfter: 5 * time.Second},
	"4000002760003184": {Outcome: acquirer.Approved, ThreeDS: ThreeDSChallenge},
	"4000000000003220": {Outcome: acquirer.Approved, ThreeDS: ThreeDSFrictionless},
	// Declines after a passed challenge too; without 3DS it declines straight away.
	"4000008400001629": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeDoNotHonor, ThreeDS: ThreeDSChallenge},
	"4000000000003063": {Outcome: acquirer.Declined, DeclineCode: protocol.CodeAuthenticationRequired, ThreeDS: ThreeDSSoftDecline},
	// Disputes (issue 15): a chargeback one day after capture that a supplied defense wins, and
	// one the issuer upholds even when defended.
	"4000000000000259": {Outcome: acquirer.Approved, Chargeback: &acquirer.Chargeback{After: 24 * time.Hour,
		ReasonCode: "13.1", ReasonMsg: "Merchandise/Services Not Received", DefenseWins: true}},
	"4000000000000416": {Outcome: acquirer.Approved, Chargeback: &acquirer.Chargeback{After: 24 * time.Hour,
		ReasonCode: "10.4", ReasonMsg: "Other Fraud - Card-Absent Environment"}},
	"4000000000000036": {Outcome: acquirer.Approved, CaptureFails: true},
	"4000000000000028": {Outcome: acquirer.Approved, CaptureDelay: time.Minute},
	"4000000000000044": {Outcome: acquirer.NoAnswer},
	"4000000000000077": {Outcome: acquirer.Approved, Hold: 2 * time.Second},
	"4000000000000085": {Outcome: acquirer.Approved, Transit: 2 * time.Second},
	// Failover (issue 13): the route's first acquirer fails technically and the next approves;
	// every acquirer fails technically.
	"4000000000000309": {Outcome: acquirer.Approved, FailFirst: true},
	"4000000000000317": {Outcome: acquirer.Unavailable},
	"4000000000000325": {Outcome: acquirer.Approved, LoseFirst: true},
}

// BehaviourOf returns the behaviour of a card number; unlisted cards are approved.
func BehaviourOf(pan card.Number) Behaviour {
	if b, ok := Cards[pan.Digits()]; ok {
		return b
	}
	return Behaviour{Outcome: acquirer.Approved}
}

var declineMessages = map[protocol.Code]string{
	protocol.CodeDoNotHonor:             "Do not honor. The issuer declined the transaction.",
	protocol.CodeUserBalanceNotEnough:   "Insufficient funds on the card.",
	protocol.CodeCardExpired:            "The issuer reports the card as expired.",
	protocol.CodeInvalidCVV:             "The CVV is incorrect.",
	protocol.CodeSuspectedCard:          "The card is reported lost or stolen.",
	protocol.CodeRiskReject:             "The payment was rejected by risk control.",
	protocol.CodeAuthenticationRequired: "The issuer requires 3-D Secure authentication.",
}

// Simulator is the sandbox acquirer. Every reference it hands out carries what it needs to answer
// about it later (its scenario and, for late answers, when the answer is ready), so any number of
// gateway instances can share it and a restart loses nothing. The one thing a reference cannot
// carry is an authorization whose answer never reached the gateway: those the simulator books in
// its Ledger by the gateway's reference, as an acquirer's own books outlive a gateway's crash.
type Simulator struct {
	name       string
	merchantID string
	format     IDFormat
	clock      clock.Clock
	ledger     Ledger
}

// Ledger is where the simulator books its authorizations by the gateway's reference
// (AuthRequest.PaymentID). serve keeps it in the gateway's database (table sim_acquirer_ledger),
// so that any instance can ask about an authorization another one sent before it died; tests use
// a MemoryLedger.
type Ledger interface {
	// RecordAuth books the latest authorization under ref (a re-authorization after a 3-D Secure
	// upgrade replaces the first); a reference that was reversed stays reversed.
	RecordAuth(ctx context.Context, ref string, result []byte, at time.Time) error
	// AuthByRef returns what RecordAuth booked and whether ref was reversed;
	// acquirer.ErrNotFound when nothing was booked or reversed under it.
	AuthByRef(ctx context.Context, ref string) (result []byte, reversed bool, err error)
	// ReverseAuth marks ref reversed, booked or not (a reversal may overtake its authorization).
	ReverseAuth(ctx context.Context, ref string, at time.Time) error
}

// New returns a simulator that calls itself name (acquirerInfo.acquirerName) and tells time by
// clk: in the sandbox, the gateway's movable clock, so "5 s later" follows clock advances. Its
// ledger is in memory until WithLedger gives it a shared one.
func New(name string, clk clock.Clock) *Simulator {
	return &Simulator{name: name, merchantID: "SIM" + name, format: legacyFormat{}, clock: clk, ledger: NewMemoryLedger()}
}

// NewProfile returns a simulator that presents itself as p.
func NewProfile(p Profile, clk clock.Clock) *Simulator {
	return &Simulator{name: p.Name, merchantID: p.MerchantID, format: p.Format, clock: clk, ledger: NewMemoryLedger()}
}

// WithLedger books authorizations in l.
func (s *Simulator) WithLedger(l Ledger) *Simulator {
	s.ledger = l
	return s
}

// MemoryLedger is a Ledger in memory: one process's simulator, or one test's.
type MemoryLedger struct {
	mu       sync.Mutex
	auths    map[string][]byte
	reversed map[string]bool
}

// NewMemoryLedger returns an empty ledger.
func NewMemoryLedger() *MemoryLedger {
	return &MemoryLedger{auths: map[string][]byte{}, reversed: map[string]bool{}}
}

// RecordAuth implements Ledger.
func (l *MemoryLedger) RecordAuth(_ context.Context, ref string, result []byte, _ time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.reversed[ref] {
		l.auths[ref] = append([]byte(nil), result...)
	}
	return nil
}

// AuthByRef implements Ledger.
func (l *MemoryLedger) AuthByRef(_ context.Context, ref string) ([]byte, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res, ok := l.auths[ref]
	if !ok && !l.reversed[ref] {
		return nil, false, acquirer.ErrNotFound
	}
	return res, l.reversed[ref], nil
}

// ReverseAuth implements Ledger.
func (l *MemoryLedger) ReverseAuth(_ context.Context, ref string, _ time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reversed[ref] = true
	return nil
}

// Name implements acquirer.Acquirer.
func (s *Simulator) Name() string { return s.name }

// Authorize implements acquirer.Acquirer. The answer is booked in the ledger before it is given,
// as an acquirer's is: whatever happens to the gateway afterwards, InquireByReference finds it.
func (s *Simulator) Authorize(ctx context.Context, req acquirer.AuthRequest) (acquirer.AuthResult, error) {
	if err := ctx.Err(); err != nil {
		return acquirer.AuthResult{}, err
	}
	if req.PaymentID == "" {
		return acquirer.AuthResult{}, errors.New("simulator: authorization without a payment reference")
	}
	res, b := s.decide(req)
	if err := wait(ctx, b.Transit); err != nil {
		return acquirer.AuthResult{}, err
	}
	if res.Outcome == acquirer.Unavailable {
		return res, nil // refused before anything was booked: nothing is held
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return acquirer.AuthResult{}, fmt.Errorf("simulator: encode authorization: %w", err)
	}
	if err := s.ledger.RecordAuth(ctx, req.PaymentID, raw, s.clock.Now()); err != nil {
		// Not booked, so not granted: the gateway hears an unknown outcome and asks again.
		return acquirer.AuthResult{}, fmt.Errorf("simulator: book authorization: %w", err)
	}
	if err := wait(ctx, b.Hold); err != nil {
		return acquirer.AuthResult{}, err
	}
	if b.LoseFirst && req.Attempt <= 1 {
		return acquirer.AuthResult{}, errors.New("simulator: connection reset before the answer was read")
	}
	return res, nil
}

// wait sleeps d of wall time, or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// InquireByReference implements acquirer.Acquirer from the ledger: the authorization booked under
// the gateway's reference as it stands now (a late answer that has arrived since is the approval).
func (s *Simulator) InquireByReference(ctx context.Context, paymentID string) (acquirer.AuthResult, error) {
	if err := ctx.Err(); err != nil {
		return acquirer.AuthResult{}, err
	}
	raw, reversed, err := s.ledger.AuthByRef(ctx, paymentID)
	if err != nil {
		return acquirer.AuthResult{}, err
	}
	if reversed {
		return acquirer.AuthResult{}, acquirer.ErrNotFound // released: nothing is held under it
	}
	var res acquirer.AuthResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return acquirer.AuthResult{}, fmt.Errorf("simulator: booked authorization of %s: %w", paymentID, err)
	}
	if res.Outcome == acquirer.Pending || res.Outcome == acquirer.NoAnswer {
		return s.InquireAuthorization(ctx, res.AcquirerTransactionID)
	}
	return res, nil
}

// decide is the card's answer.
func (s *Simulator) decide(req acquirer.AuthRequest) (acquirer.AuthResult, Behaviour) {
	b := BehaviourOf(req.Card)
	if b.FailFirst && req.Attempt <= 1 {
		b = Behaviour{Outcome: acquirer.Unavailable}
	}
	if b.Outcome == acquirer.Unavailable {
		return acquirer.AuthResult{Outcome: acquirer.Unavailable, AcquirerName: s.name, AcquirerMerchantID: s.merchantID,
			DeclineCode: protocol.CodeProcessFail, DeclineMsg: "The acquirer is temporarily unable to process the request.",
			AcquirerResultCode: "SYSTEM_ERROR", AcquirerResultMessage: "The acquirer is temporarily unable to process the request."}, b
	}
	if b.ThreeDS == ThreeDSSoftDecline && (req.Authenticated || req.MIT) {
		// The issuer asked for authentication and got it (3DS-Retry), or the payment is
		// merchant-initiated: no buyer is there to authenticate, and the networks exempt MITs
		// from strong customer authentication.
		b = Behaviour{Outcome: acquirer.Approved}
	}
	res := acquirer.AuthResult{
		Outcome:               b.Outcome,
		AcquirerName:          s.name,
		AcquirerMerchantID:    s.merchantID,
		AcquirerTransactionID: s.reference("auth", scenarioOf(b), b.SettleAfter),
	}
	// The network's facts about the card, as an acquirer's answer carries them.
	info := bin.Lookup(req.Card)
	res.Funding, res.Category, res.IssuingCountry, res.IssuerName = info.Funding, info.Category, info.Country, info.Issuer
	switch b.Outcome {
	case acquirer.Pending, acquirer.NoAnswer:
		// The answer is not in yet: nothing about AVS, CVV or the network is known.
		res.RetryAfter = b.SettleAfter
		return res, b
	}
	res.AVSResult = b.AVS
	if res.AVSResult == "" {
		res.AVSResult = "U" // no address sent: AVS unavailable
		if req.AVSPresent {
			res.AVSResult = "Y"
		}
	}
	res.CVVResult = b.CVV
	if res.CVVResult == "" {
		res.CVVResult = "U" // no CVV sent: not checked
		if req.CVV != "" {
			res.CVVResult = "Y"
		}
	}
	res.NetworkTransactionID = randomDigits(15)
	if b.Outcome == acquirer.Declined {
		res.DeclineCode = b.DeclineCode
		res.DeclineMsg = declineMessages[b.DeclineCode]
		res.RefusalCodeRaw = string(b.DeclineCode)
		res.RefusalReasonRaw = res.DeclineMsg
		res.AcquirerResultCode = string(b.DeclineCode)
		res.AcquirerResultMessage = res.DeclineMsg
		return res, b
	}
	res.AuthorizationCode = randomDigits(6)
	res.AcquirerResultCode = "SUCCESS"
	res.AcquirerResultMessage = "success"
	res.Chargeback = b.Chargeback
	return res, b
}

func randomDigits(n int) string {
	b := make([]byte, n)
	ten := big.NewInt(10)
	for i := range b {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}

// Scenarios carried in references.
const (
	scenarioApprove       = "ok"
	scenarioCaptureFails  = "cf"
	scenarioCaptureDelays = "cd"
	scenarioTimeout       = "to"
	scenarioNoAnswer      = "na"
)

func scenarioOf(b Behaviour) string {
	switch {
	case b.Outcome == acquirer.Pending:
		return scenarioTimeout
	case b.Outcome == acquirer.NoAnswer:
		return scenarioNoAnswer
	case b.CaptureFails:
		return scenarioCaptureFails
	case b.CaptureDelay > 0:
		return scenarioCaptureDelays
	}
	return scenarioApprove
}

// reference makes an id of this acquirer's shape that carries its kind, scenario and, for a
// late answer, when it is ready.
func (s *Simulator) reference(kind, scenario string, readyIn time.Duration) string {
	now := s.clock.Now()
	r := reference{kind: kind, scenario: scenario}
	if readyIn > 0 {
		r.ready = now.Add(readyIn)
	}
	return s.format.encode(r, now)
}

type reference struct {
	kind, scenario string
	ready          time.Time
}

func (s *Simulator) parseReference(ref string) (reference, error) { return s.format.decode(ref) }

// InquireAuthorization implements acquirer.Acquirer: the timeout card's answer is ready once its
// settle time has passed on the gateway clock; the never-answering card never answers.
func (s *Simulator) InquireAuthorization(ctx context.Context, id string) (acquirer.AuthResult, error) {
	if err := ctx.Err(); err != nil {
		return acquirer.AuthResult{}, err
	}
	ref, err := s.parseReference(id)
	if err != nil {
		return acquirer.AuthResult{}, err
	}
	res := acquirer.AuthResult{AcquirerName: s.name, AcquirerMerchantID: s.merchantID, AcquirerTransactionID: id}
	now := s.clock.Now()
	switch {
	case ref.scenario == scenarioNoAnswer:
		res.Outcome = acquirer.NoAnswer
	case ref.scenario == scenarioTimeout && now.Before(ref.ready):
		res.Outcome, res.RetryAfter = acquirer.Pending, ref.ready.Sub(now)
	default:
		res.Outcome = acquirer.Approved
		res.AVSResult, res.CVVResult = "U", "U"
		res.NetworkTransactionID = randomDigits(15)
		res.AuthorizationCode = randomDigits(6)
		res.AcquirerResultCode, res.AcquirerResultMessage = "SUCCESS", "success"
		// The reference does not carry the card, so the card's facts stay the gateway's own
		// (its BIN table), as they were when the authorization went out.
	}
	return res, nil
}

// Capture implements acquirer.Acquirer.
func (s *Simulator) Capture(ctx context.Context, req acquirer.CaptureRequest) (acquirer.OpResult, error) {
	if err := ctx.Err(); err != nil {
		return acquirer.OpResult{}, err
	}
	ref, err := s.parseReference(req.AcquirerTransactionID)
	if err != nil {
		return acquirer.OpResult{}, err
	}
	switch ref.scenario {
	case scenarioCaptureFails:
		return acquirer.OpResult{Status: acquirer.OpFailed, Code: protocol.CodeProcessFail,
			Message: "General business failure. No retry.", Reference: s.reference("cap", ref.scenario, 0)}, nil
	case scenarioCaptureDelays:
		delay := Cards["4000000000000028"].CaptureDelay
		return acquirer.OpResult{Status: acquirer.OpPending, Reference: s.reference("cap", ref.scenario, delay), RetryAfter: delay}, nil
	}
	return acquirer.OpResult{Status: acquirer.OpSucceeded, Reference: s.reference("cap", ref.scenario, 0)}, nil
}

// InquireCapture implements acquirer.Acquirer: a delayed capture succeeds once its time has come.
func (s *Simulator) InquireCapture(ctx context.Context, id string) (acquirer.OpResult, error) {
	if err := ctx.Err(); err != nil {
		return acquirer.OpResult{}, err
	}
	ref, err := s.parseReference(id)
	if err != nil {
		return acquirer.OpResult{}, err
	}
	if now := s.clock.Now(); now.Before(ref.ready) {
		return acquirer.OpResult{Status: acquirer.OpPending, Reference: id, RetryAfter: ref.ready.Sub(now)}, nil
	}
	if ref.scenario == scenarioCaptureFails {
		return acquirer.OpResult{Status: acquirer.OpFailed, Code: protocol.CodeProcessFail, Message: "General business failure. No retry.", Reference: id}, nil
	}
	return acquirer.OpResult{Status: acquirer.OpSucceeded, Reference: id}, nil
}

// Refund implements acquirer.Acquirer: the simulator refunds at once.
func (s *Simulator) Refund(ctx context.Context, req acquirer.RefundRequest) (acquirer.OpResult, error) {
	if err := ctx.Err(); err != nil {
		return acquirer.OpResult{}, err
	}
	if _, err := s.parseReference(req.AcquirerTransactionID); err != nil {
		return acquirer.OpResult{}, err
	}
	return acquirer.OpResult{Status: acquirer.OpSucceeded, Reference: s.reference("ref", scenarioApprove, 0)}, nil
}

// Reverse implements acquirer.Acquirer: the reference is marked reversed in the ledger, so an
// inquiry by it finds nothing held any more.
func (s *Simulator) Reverse(ctx context.Context, paymentID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if paymentID == "" {
		return fmt.Errorf("simulator: reversal without a payment reference")
	}
	if err := s.ledger.ReverseAuth(ctx, paymentID, s.clock.Now()); err != nil {
		return fmt.Errorf("simulator: book reversal: %w", err)
	}
	return nil
}

// Void implements acquirer.Acquirer.
func (s *Simulator) Void(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := s.parseReference(id)
	return err
}
