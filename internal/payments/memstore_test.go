package payments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// memStore is an in-memory Store with the guarantees the interface asks of a real one, and the
// same rules the SQLite schema enforces (migrations 00001, 00002):
//
//   - a payment request id is unique per merchant, a capture or refund request id per (merchant,
//     type), an internal transaction per (payment, type) (ErrDuplicate);
//   - a change applies only at the version it was computed from (ErrConflict), and a transaction
//     is updated only while it is PROCESSING (ErrConflict);
//   - the invariants of the payments triggers: 0 ≤ captured ≤ authorized, 0 ≤ refunded ≤ captured,
//     never CANCELLED while capturing or captured, a successful capture never undone; and the
//     CHECKs on the enumerations;
//   - each write records its payment, transaction, event and outbox row together or not at all;
//     one outbox row per (notifyType, ref);
//   - lookups never cross merchants, and a cancelled context fails the call as a driver would.
//
// Apply writes only the columns the SQLite store updates; the others keep their stored values.
type memStore struct {
	mu       sync.Mutex
	payments map[string]Payment   // by payment id
	byReq    map[[2]string]string // (merchant, request id) → payment id
	txns     map[string]Txn       // by txn id
	txnByReq map[[3]string]string // (merchant, type, request id) → txn id
	events   []Event
	outbox   []OutboxMessage
	outRefs  map[[2]string]bool // (notify type, ref)
	// applyHook, when set, runs before each Apply (under no lock), to interleave tests with it.
	applyHook func(c Change)
	// failApply, when set, may refuse a change before it is written (the instance died, the
	// database went away).
	failApply func(c Change) error
	leases    map[string]time.Time // payment id → work lease end (wall clock)
	tokens    map[string]Token     // by token id
}

func newMemStore() *memStore {
	return &memStore{
		payments: map[string]Payment{}, byReq: map[[2]string]string{},
		txns: map[string]Txn{}, txnByReq: map[[3]string]string{}, outRefs: map[[2]string]bool{},
		leases: map[string]time.Time{}, tokens: map[string]Token{},
	}
}

var errInvariant = errors.New("memstore: payment invariant violated")

// checkPayment is the schema's CHECKs and the payments_invariants triggers (old is nil on insert).
func checkPayment(p Payment, old *Payment) error {
	switch {
	case !slices.Contains([]State{StateProcessing, StateSuccess, StateFail, StateCancelled}, p.State):
		return fmt.Errorf("memstore: CHECK state %q", p.State)
	case p.Version <= 0:
		return fmt.Errorf("memstore: CHECK version %d", p.Version)
	case len(p.Amount.Currency.Code) != 3 || p.Amount.Minor <= 0:
		return fmt.Errorf("memstore: CHECK amount %v", p.Amount)
	case p.CaptureMode != CaptureAutomatic && p.CaptureMode != CaptureManual:
		return fmt.Errorf("memstore: CHECK capture mode %q", p.CaptureMode)
	case !slices.Contains([]CaptureState{CaptureNone, CaptureProcessing, CaptureSucceeded, CaptureFailed}, p.Capture):
		return fmt.Errorf("memstore: CHECK capture state %q", p.Capture)
	case !slices.Contains([]VoidState{VoidNone, VoidPending, VoidDone}, p.VoidState):
		return fmt.Errorf("memstore: CHECK void state %q", p.VoidState)
	case p.CapturedMinor < 0 || p.CapturedMinor > p.Amount.Minor,
		p.RefundedMinor < 0 || p.RefundedMinor > p.CapturedMinor,
		p.State == StateCancelled && (p.Capture == CaptureProcessing || p.Capture == CaptureSucceeded),
		old != nil && old.Capture == CaptureSucceeded && p.Capture != CaptureSucceeded:
		return errInvariant
	}
	return nil
}

func checkTxn(t Txn) error {
	switch {
	case !slices.Contains([]TxnType{TxnCapture, TxnRefund, TxnCancel, TxnVoid}, t.Type):
		return fmt.Errorf("memstore: CHECK txn type %q", t.Type)
	case !slices.Contains([]TxnStatus{TxnProcessing, TxnSucceeded, TxnFailed}, t.Status):
		return fmt.Errorf("memstore: CHECK txn status %q", t.Status)
	case t.Amount.Minor < 0:
		return fmt.Errorf("memstore: CHECK txn amount %v", t.Amount)
	}
	return nil
}

func (s *memStore) CreatePayment(ctx context.Context, p Payment, ev Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := [2]string{p.MerchantID, p.RequestID}
	if _, dup := s.byReq[key]; dup {
		return ErrDuplicate
	}
	if _, dup := s.payments[p.ID]; dup {
		return fmt.Errorf("payment id %s reused", p.ID)
	}
	if err := checkPayment(p, nil); err != nil {
		return err
	}
	s.payments[p.ID] = p
	s.byReq[key] = p.ID
	s.events = append(s.events, ev)
	return nil
}

func (s *memStore) Apply(ctx context.Context, c Change) error {
	if s.applyHook != nil {
		s.applyHook(c)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.failApply != nil {
		if err := s.failApply(c); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Everything is checked before anything is written, so a refused change leaves no trace.
	cur, ok := s.payments[c.Payment.ID]
	if !ok || cur.MerchantID != c.Payment.MerchantID || cur.Version != c.FromVersion {
		return ErrConflict // the guarded UPDATE matched no row
	}
	if c.Payment.Version != c.FromVersion+1 {
		return fmt.Errorf("change of payment %s from version %d to %d", cur.ID, c.FromVersion, c.Payment.Version)
	}
	// The columns the SQLite UPDATE sets; the rest (ids, amount, capture mode, creation time) are
	// never rewritten.
	next := cur
	p := c.Payment
	next.State, next.Version, next.ResultCode, next.ResultMsg, next.AcquirerState = p.State, p.Version, p.ResultCode, p.ResultMsg, p.AcquirerState
	next.Card, next.Auth, next.Order, next.UpdatedAt, next.AuthorizedAt, next.AuthExpiresAt, next.ExpiresAt = p.Card, p.Auth, p.Order, p.UpdatedAt, p.AuthorizedAt, p.AuthExpiresAt, p.ExpiresAt
	next.Capture, next.CapturedMinor, next.RefundedMinor, next.CapturedAt, next.CloseReason, next.ClosedAt = p.Capture, p.CapturedMinor, p.RefundedMinor, p.CapturedAt, p.CloseReason, p.ClosedAt
	next.AcquirerDueAt, next.VoidState, next.InFlightUntil = p.AcquirerDueAt, p.VoidState, p.InFlightUntil
	next.ThreeDS, next.ChallengeToken, next.ChallengeAttempts, next.SealedCard = p.ThreeDS, p.ChallengeToken, p.ChallengeAttempts, p.SealedCard
	if err := checkPayment(next, &cur); err != nil {
		return err
	}
	var txnKey [3]string
	if t := c.NewTxn; t != nil {
		txnKey = [3]string{t.MerchantID, string(t.Type), t.RequestID}
		if t.Internal {
			// Internal ids are unique per (payment, type) and invisible to TxnByRequestID, as
			// the partial unique indexes of migration 00002 make them.
			txnKey = [3]string{"\x00internal", t.PaymentID, string(t.Type)}
		}
		if _, dup := s.txnByReq[txnKey]; dup {
			return ErrDuplicate
		}
		if _, dup := s.txns[t.ID]; dup {
			return fmt.Errorf("transaction id %s reused", t.ID)
		}
		if _, ok := s.payments[t.PaymentID]; !ok {
			return fmt.Errorf("transaction %s of unknown payment %s", t.ID, t.PaymentID)
		}
		if err := checkTxn(*t); err != nil {
			return err
		}
	}
	var updated Txn
	if t := c.Txn; t != nil {
		old, ok := s.txns[t.ID]
		if !ok || old.MerchantID != t.MerchantID || old.Status != TxnProcessing {
			return ErrConflict // a final result is never rewritten
		}
		updated = old
		updated.Status, updated.ResultCode, updated.ResultMsg, updated.Details, updated.UpdatedAt, updated.DueAt = t.Status, t.ResultCode, t.ResultMsg, t.Details, t.UpdatedAt, t.DueAt
		if err := checkTxn(updated); err != nil {
			return err
		}
	}
	if o := c.Outbox; o != nil && s.outRefs[[2]string{o.NotifyType, o.Ref}] {
		return fmt.Errorf("memstore: UNIQUE outbox (%s, %s)", o.NotifyType, o.Ref)
	}
	if t := c.NewToken; t != nil {
		// UNIQUE (token id) and UNIQUE (merchant, buyer, fingerprint), as migration 00006.
		if _, dup := s.tokens[t.ID]; dup {
			return ErrConflict
		}
		for _, o := range s.tokens {
			if o.MerchantID == t.MerchantID && o.BuyerID == t.BuyerID && o.Card.Fingerprint == t.Card.Fingerprint {
				return ErrConflict
			}
		}
		s.tokens[t.ID] = *t
	}

	s.payments[cur.ID] = next
	if t := c.NewTxn; t != nil {
		s.txns[t.ID] = *t
		s.txnByReq[txnKey] = t.ID
	}
	if c.Txn != nil {
		s.txns[updated.ID] = updated
	}
	s.events = append(s.events, c.Event)
	if o := c.Outbox; o != nil {
		s.outbox = append(s.outbox, *o)
		s.outRefs[[2]string{o.NotifyType, o.Ref}] = true
	}
	return nil
}

func (s *memStore) PaymentByID(ctx context.Context, merchantID, paymentID string) (Payment, error) {
	if err := ctx.Err(); err != nil {
		return Payment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[paymentID]
	if !ok || p.MerchantID != merchantID {
		return Payment{}, ErrNotFound
	}
	return p, nil
}

func (s *memStore) PaymentByRequestID(ctx context.Context, merchantID, requestID string) (Payment, error) {
	if err := ctx.Err(); err != nil {
		return Payment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byReq[[2]string{merchantID, requestID}]
	if !ok {
		return Payment{}, ErrNotFound
	}
	return s.payments[id], nil
}

func (s *memStore) TxnByRequestID(ctx context.Context, merchantID string, typ TxnType, requestID string) (Txn, error) {
	if err := ctx.Err(); err != nil {
		return Txn{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.txnByReq[[3]string{merchantID, string(typ), requestID}]
	if !ok {
		return Txn{}, ErrNotFound
	}
	return s.txns[id], nil
}

func (s *memStore) TxnByID(ctx context.Context, merchantID string, typ TxnType, txnID string) (Txn, error) {
	if err := ctx.Err(); err != nil {
		return Txn{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.txns[txnID]
	if !ok || t.MerchantID != merchantID || t.Type != typ {
		return Txn{}, ErrNotFound
	}
	return t, nil
}

// Txns lists a payment's transactions ordered as SQLite orders them: created_at, then txn_id.
func (s *memStore) Txns(ctx context.Context, merchantID, paymentID string) ([]Txn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Txn
	for _, t := range s.txns {
		if t.MerchantID == merchantID && t.PaymentID == paymentID {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Txn) int {
		return cmp.Or(cmp.Compare(ms(a.CreatedAt), ms(b.CreatedAt)), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ms is how the SQLite store keeps a time: Unix milliseconds, 0 for the zero time.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Due is the SQLite store's due-work query over the maps: the same five branches, ordered by due
// time then payment id, times compared in milliseconds as stored.
func (s *memStore) Due(ctx context.Context, t time.Time, limit int) ([]Due, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at := ms(t)
	var out []Due
	add := func(kind DueKind, p Payment, txnID string, when time.Time) {
		out = append(out, Due{Kind: kind, MerchantID: p.MerchantID, PaymentID: p.ID, TxnID: txnID, At: fromMS(ms(when))})
	}
	for _, p := range s.payments {
		if p.State == StateProcessing && ms(p.ExpiresAt) <= at {
			add(DueExpire, p, "", p.ExpiresAt)
		}
		if p.State == StateProcessing && ms(p.AcquirerDueAt) > 0 && ms(p.AcquirerDueAt) <= at {
			add(DueSettle, p, "", p.AcquirerDueAt)
		}
		if p.State == StateProcessing && ms(p.InFlightUntil) > 0 && ms(p.InFlightUntil) <= at {
			add(DueResolve, p, "", p.InFlightUntil)
		}
		if p.State == StateSuccess && (p.Capture == CaptureNone || p.Capture == CaptureFailed) && ms(p.AuthExpiresAt) <= at {
			add(DueAutoVoid, p, "", p.AuthExpiresAt)
		}
		if p.VoidState == VoidPending && ms(p.ClosedAt) <= at {
			add(DueVoid, p, "", p.ClosedAt)
		}
		if p.State == StateSuccess && p.CaptureMode == CaptureAutomatic && p.Capture == CaptureNone && ms(p.AuthorizedAt)+AutoCaptureGrace.Milliseconds() <= at {
			add(DueAutoCapture, p, "", p.AuthorizedAt.Add(AutoCaptureGrace))
		}
	}
	for _, tx := range s.txns {
		if tx.Status == TxnProcessing && ms(tx.DueAt) > 0 && ms(tx.DueAt) <= at {
			kind := DueRefundStatus
			if tx.Type == TxnCapture {
				kind = DueCaptureStatus
			}
			out = append(out, Due{Kind: kind, MerchantID: tx.MerchantID, PaymentID: tx.PaymentID, TxnID: tx.ID, At: fromMS(ms(tx.DueAt))})
		}
	}
	slices.SortFunc(out, func(a, b Due) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.PaymentID, b.PaymentID), cmp.Compare(a.Kind, b.Kind))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ClaimWork leases the payments of the due work that no live lease holds, as the SQL stores do.
func (s *memStore) ClaimWork(ctx context.Context, t, now, leaseUntil time.Time, limit int) ([]Due, error) {
	all, err := s.Due(ctx, t, 1<<30)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Due
	claimed := map[string]bool{}
	for _, d := range all {
		if len(out) == limit {
			break
		}
		if !claimed[d.PaymentID] {
			if until, held := s.leases[d.PaymentID]; held && until.After(now) {
				continue
			}
			s.leases[d.PaymentID] = leaseUntil
			claimed[d.PaymentID] = true
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *memStore) ReleaseWork(ctx context.Context, paymentID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.leases, paymentID)
	return nil
}

func (s *memStore) PaymentByChallengeToken(ctx context.Context, token string) (Payment, error) {
	if err := ctx.Err(); err != nil {
		return Payment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.payments {
		if token != "" && p.ChallengeToken == token {
			return p, nil
		}
	}
	return Payment{}, ErrNotFound
}

func (s *memStore) eventsOf(id string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, e := range s.events {
		if e.PaymentID == id {
			out = append(out, e)
		}
	}
	return out
}

func (s *memStore) opsOf(id string) []Op {
	var out []Op
	for _, e := range s.eventsOf(id) {
		out = append(out, e.Op)
	}
	return out
}

func (s *memStore) outboxOf(id string) []OutboxMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []OutboxMessage
	for _, o := range s.outbox {
		if o.PaymentID == id {
			out = append(out, o)
		}
	}
	return out
}

func (s *memStore) notifyTypesOf(id string) []string {
	var out []string
	for _, o := range s.outboxOf(id) {
		out = append(out, o.NotifyType)
	}
	return out
}

func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.payments)
}

// rows counts everything written, to check that a refusal writes nothing.
func (s *memStore) rows() [4]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return [4]int{len(s.payments), len(s.txns), len(s.events), len(s.outbox)}
}

// ensure the interface is met in full.
var _ Store = (*memStore)(nil)

// protocolCode is the wire code of err, as the API would answer it.
func protocolCode(err error) protocol.Code { return protocol.Code(protocol.ResultOf(err).ResultCode) }

func (s *memStore) TokenByID(ctx context.Context, merchantID, tokenID string) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tokenID]
	if !ok || t.MerchantID != merchantID {
		return Token{}, ErrNotFound
	}
	return t, nil
}

func (s *memStore) TokenByFingerprint(ctx context.Context, merchantID, buyerID, fingerprint string) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t.MerchantID == merchantID && t.BuyerID == buyerID && t.Card.Fingerprint == fingerprint {
			return t, nil
		}
	}
	return Token{}, ErrNotFound
}
