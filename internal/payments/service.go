// Package payments is the domain: the Payment aggregate, its state machine and invariants, and the
// service that runs pay and inquiry. It does no I/O of its own: the store, the acquirer and the
// clock are injected.
package payments

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/protocol"
)

// Merchant is what the payments service needs to know about the caller.
type Merchant struct {
	ID             string
	FingerprintKey []byte
	// NotifyURL is the merchant's default notification address, used when a payment names none.
	NotifyURL string
	// SettlementCurrencies are the currencies the merchant is contracted to settle in, its default
	// first; nil is every supported currency (the sandbox merchant's contract).
	SettlementCurrencies []string
}

// Config tunes the service.
type Config struct {
	// AcquirerTimeout bounds one authorization call; Java and Python SDKs give up after 15 s, so
	// the whole pay must answer well before that.
	AcquirerTimeout time.Duration
	// DuplicateWait bounds how long a concurrent duplicate pay waits for the first one's answer
	// before answering PAYMENT_IN_PROCESS.
	DuplicateWait time.Duration
	// AcquirerRetry is when to ask the acquirer again about an unknown outcome when it gave no hint.
	AcquirerRetry time.Duration
	// RefundWindow is how long after capture a payment can be refunded (default 365 days).
	RefundWindow time.Duration
	// OnOutbox, when set, is called after a commit that wrote a notification, so that delivery
	// starts at once instead of at the dispatcher's next poll.
	OnOutbox func()
	// PublicURL is the base of every normalUrl (serve --public-url).
	PublicURL string
	// OnFailover, when set, is told of each authorization moved to the next acquirer (metrics).
	OnFailover func(from, to string)
	// InFlightLease is how long an authorization call may be in flight before another instance
	// takes its sender for dead and resolves it (DefaultInFlightLease).
	InFlightLease time.Duration
	// Wall is the clock every instance shares (default clock.Wall): work leases and the wait for
	// a duplicate's in-flight acquirer call measure real elapsed time, which the gateway clock
	// (moved by sandbox time travel, fixed in tests) does not.
	Wall clock.Clock
	// Settlement is the rate table and the fees a new payment records (settlement.go).
	Settlement SettlementConfig
}

// DefaultInFlightLease is far longer than an authorization call may take (AcquirerTimeout), and
// short enough that an instance's death leaves its in-flight payments U for about a minute rather
// than until their 14-minute expiry.
const DefaultInFlightLease = time.Minute

// Authenticator is the 3-D Secure server (internal/threeds in the sandbox).
type Authenticator interface {
	// Challenge reports whether the issuer wants the buyer challenged.
	Challenge(pan card.Number) bool
	// CheckCode checks the code typed on the challenge page.
	CheckCode(code string) bool
	// Result is the outcome of a successful authentication.
	Result(brand string) (version, eci, cavv, dsTransactionID string)
}

// Vault seals card data while a 3-D Secure challenge is pending (internal/vault): AES-256-GCM
// under a per-record key; aad binds the sealed text to its payment.
type Vault interface {
	SealText(plaintext, aad []byte) (string, error)
	OpenText(sealed string, aad []byte) ([]byte, error)
}

// Service runs payments.
type Service struct {
	store  Store
	router Router
	clock  clock.Clock
	log    *slog.Logger
	cfg    Config
	auth   Authenticator // nil: 3-D Secure requests are refused
	vault  Vault
	// captures holds the automatic captures owed (captures.go).
	captures captureQueue
}

// With3DS enables 3-D Secure with an authenticator and a vault for the card data it holds.
func (s *Service) With3DS(a Authenticator, v Vault) *Service {
	s.auth, s.vault = a, v
	return s
}

// NewService wires a service.
func NewService(store Store, acq acquirer.Acquirer, clk clock.Clock, log *slog.Logger, cfg Config) *Service {
	if cfg.AcquirerTimeout == 0 {
		cfg.AcquirerTimeout = 8 * time.Second
	}
	if cfg.DuplicateWait == 0 {
		// Long enough for the first request's acquirer call to end (it is bounded by
		// AcquirerTimeout), short enough to answer before the SDKs' 15 s timeouts.
		cfg.DuplicateWait = cfg.AcquirerTimeout + 2*time.Second
	}
	if cfg.AcquirerRetry == 0 {
		cfg.AcquirerRetry = time.Minute
	}
	if cfg.InFlightLease == 0 {
		cfg.InFlightLease = DefaultInFlightLease
	}
	if cfg.RefundWindow == 0 {
		cfg.RefundWindow = 365 * 24 * time.Hour
	}
	if cfg.Wall == nil {
		cfg.Wall = clock.Wall{}
	}
	return &Service{store: store, router: singleRouter{acq}, clock: clk, log: log, cfg: cfg}
}

// maxAttempts bounds the retries of a guarded change that lost a race: each retry re-reads the
// payment and re-applies the rules, so a loser either succeeds on fresh data or is refused. Every
// lost round has a winner, so a change loses at most once per concurrent change to the same
// payment: the bound must exceed the concurrency a merchant may put on one payment. With 8, one
// of 24 concurrent refunds of one payment lost every round under CI's load and answered
// UNKNOWN_EXCEPTION; 64 leaves a wide margin and still ends a livelock.
const maxAttempts = 64

// step is one transition to commit.
type step struct {
	op   Op
	next Payment // the payment after the step; stage, version and times are set by commit
	// then is a second transition made by the same commit (CAPTURE after AUTH_APPROVED for an
	// automatic capture); newTxn then belongs to it.
	then Op
	// newTxn is inserted, txn updated (both optional).
	newTxn, txn *Txn
	// newToken is a card saved by the step.
	newToken *Token
	// notify builds the notification the step owes the merchant, if any.
	notify func(p Payment, txn *Txn) *OutboxMessage
	// eventCode, when set, is the event's result code instead of the payment's (a failover
	// records why the acquirer was left while the payment stays in process).
	eventCode protocol.Code
}

// commit applies a step to p: the state machine decides the next stage, and the store writes the
// payment, the transaction, the event and the notification in one transaction, guarded by p's
// version. ErrConflict means p changed meanwhile.
func (s *Service) commit(ctx context.Context, p Payment, st step) (Payment, error) {
	ch, err := s.change(p, st)
	if err != nil {
		return Payment{}, err
	}
	if err := s.store.Apply(ctx, ch); err != nil {
		return Payment{}, fmt.Errorf("%s payment %s: %w", st.op, p.ID, err)
	}
	s.committed(ctx, p, ch)
	return ch.Payment, nil
}

// change is the store's Change that step st makes of p.
func (s *Service) change(p Payment, st step) (Change, error) {
	to, err := Next(p.Stage(), st.op)
	if err != nil {
		return Change{}, err
	}
	next := st.next
	next.Version = p.Version + 1
	next.UpdatedAt = s.clock.Now()
	// first is the payment as the first transition leaves it: the event and the notification of
	// an approval describe the approval, whatever the same commit does next.
	first := next
	first.setStage(to)
	if st.then != "" {
		if to, err = Next(to, st.then); err != nil {
			return Change{}, err
		}
	}
	next.setStage(to)
	ch := Change{Payment: next, FromVersion: p.Version, Prev: &p, NewTxn: st.newTxn, Txn: st.txn, NewToken: st.newToken}
	var txn *Txn
	switch {
	case st.newTxn != nil:
		txn = st.newTxn
	case st.txn != nil:
		txn = st.txn
	}
	if txn != nil {
		txn.UpdatedAt = next.UpdatedAt
	}
	ch.Event = Event{PaymentID: p.ID, Op: st.op, From: p.State, To: first.State, ResultCode: first.ResultCode, At: next.UpdatedAt}
	firstTxn := txn
	if st.then != "" {
		ch.Then = &Event{PaymentID: p.ID, Op: st.then, From: first.State, To: next.State, ResultCode: next.ResultCode, At: next.UpdatedAt}
		if txn != nil {
			ch.Then.TxnID, ch.Then.ResultCode = txn.ID, txn.ResultCode
		}
		firstTxn = nil
	} else if txn != nil {
		ch.Event.TxnID, ch.Event.ResultCode = txn.ID, txn.ResultCode
	}
	if st.eventCode != "" {
		ch.Event.ResultCode = st.eventCode
	}
	if st.notify != nil {
		ch.Outbox = st.notify(first, firstTxn)
	}
	return ch, nil
}

// committed is what follows a change the store wrote: delivery woken, the transitions logged.
func (s *Service) committed(ctx context.Context, p Payment, ch Change) {
	if ch.Outbox != nil && s.cfg.OnOutbox != nil {
		s.cfg.OnOutbox()
	}
	from := p.Stage()
	for _, ev := range []*Event{&ch.Event, ch.Then} {
		if ev == nil {
			continue
		}
		to := ch.Payment.Stage()
		if ev == &ch.Event && ch.Then != nil {
			to, _ = Next(from, ev.Op)
		}
		s.log.InfoContext(ctx, "payment transition", "paymentId", p.ID, "op", ev.Op, "from", from, "to", to, "resultCode", ev.ResultCode)
		from = to
	}
}

// commitFresh builds a step from p and commits it; when p changed meanwhile (ErrConflict) it
// re-reads p and builds again, so every rule is applied to fresh data and a loser of a race is
// either refused by the rules or succeeds on the new state. A build that finds nothing to do
// returns a step without op: commitFresh then returns p unchanged.
func (s *Service) commitFresh(ctx context.Context, p Payment, build func(Payment) (step, error)) (Payment, step, error) {
	for attempt := 0; ; attempt++ {
		st, err := build(p)
		if err != nil {
			return Payment{}, step{}, err
		}
		if st.op == "" {
			return p, st, nil
		}
		done, err := s.commit(ctx, p, st)
		if errors.Is(err, ErrConflict) && attempt < maxAttempts {
			if p, err = s.reload(ctx, p); err != nil {
				return Payment{}, step{}, err
			}
			continue
		}
		return done, st, err
	}
}

func (s *Service) reload(ctx context.Context, p Payment) (Payment, error) {
	cur, err := s.store.PaymentByID(ctx, p.MerchantID, p.ID)
	if err != nil {
		return Payment{}, fmt.Errorf("reload payment %s: %w", p.ID, err)
	}
	return cur, nil
}

// notice builds an outbox message for the payment's notify URL, or nil when none is known.
func notice(p Payment, notifyType, ref, url string, body any) *OutboxMessage {
	if url == "" {
		return nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("payments: encode %s: %v", notifyType, err)) // wire types always encode
	}
	return &OutboxMessage{MerchantID: p.MerchantID, PaymentID: p.ID, NotifyType: notifyType, Ref: ref, URL: url, Body: raw, CreatedAt: p.UpdatedAt}
}

// paymentNotice is PAYMENT_RESULT, owed when the payment's result becomes known (approved,
// declined or expired); nothing while it stays in process.
func (s *Service) paymentNotice(p Payment, _ *Txn) *OutboxMessage {
	if p.State == StateProcessing {
		return nil
	}
	return notice(p, protocol.NotifyTypePaymentResult, p.ID, p.Order.NotifyURL, NotifyPaymentOf(p))
}

// Inquire finds a payment by paymentId or, when that is empty, by paymentRequestId.
func (s *Service) Inquire(ctx context.Context, m Merchant, req *protocol.InquiryPaymentRequest) (Payment, error) {
	if err := idFields(idCheck{"paymentId", req.PaymentID, maxGatewayID}, idCheck{"paymentRequestId", req.PaymentRequestID, maxRequestID}); err != nil {
		return Payment{}, err
	}
	var (
		p   Payment
		err error
	)
	switch {
	case req.PaymentID != "":
		p, err = s.store.PaymentByID(ctx, m.ID, req.PaymentID)
	case req.PaymentRequestID != "":
		p, err = s.store.PaymentByRequestID(ctx, m.ID, req.PaymentRequestID)
	default:
		return Payment{}, protocol.Errorf(protocol.CodeParamIllegal, "paymentId or paymentRequestId is required")
	}
	if errors.Is(err, ErrNotFound) {
		return Payment{}, protocol.Errorf(protocol.CodeOrderNotExist, "order not exist")
	}
	if err != nil {
		return Payment{}, fmt.Errorf("inquiry: %w", err)
	}
	// An inquiry right after an automatic approval answers with the capture that followed it, as
	// when the capture ran inside the pay: merchants check "captured" that way.
	return s.afterAutoCapture(ctx, p)
}

// newTxnID makes a captureId, refundId or cancel id, shaped like a paymentId.
func newTxnID(now time.Time) string { return newPaymentID(now) }

// newPaymentID makes an Antom-shaped paymentId: the date, then random digits (35 in all, as in
// the seed samples), unguessable so ids cannot be enumerated.
func newPaymentID(now time.Time) string {
	const n = 27
	b := make([]byte, n)
	ten := big.NewInt(10)
	for i := range b {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			panic(err)
		}
		b[i] = byte('0' + d.Int64())
	}
	return now.UTC().Format("20060102") + string(b)
}
