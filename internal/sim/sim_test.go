package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/threeds"
	"github.com/cardgate/cardgate/protocol"
)

var (
	flagSeeds = flag.Int("sim.seeds", 500, "number of seeds TestSimulation runs (nightly: 20000)")
	flagSeed  = flag.Int64("sim.seed", -1, "run only this seed and print its trace")
	flagSteps = flag.Int("sim.steps", 0, "operations per seed (default 100, 10 under the race detector)")
)

var simStart = time.Date(2026, time.May, 15, 12, 0, 0, 0, time.UTC)

// cardKind is a test card and what the simulation may expect of it.
type cardKind struct {
	name string
	pan  string
	// neverApproved: no path (3-D Secure or not) ends this card's payment authorized.
	neverApproved bool
}

var cards = []cardKind{
	{"approve", "4242424242424242", false},
	{"approve-mc", "5555555555554444", false},
	{"approve-amex", "378282246310005", false},
	{"decline", "4000000000000002", true},
	{"decline-balance", "4000000000009995", true},
	{"timeout", "4000000000000119", false},
	{"no-answer", "4000000000000044", false},
	{"3ds-challenge", "4000002760003184", false},
	{"3ds-frictionless", "4000000000003220", false},
	{"3ds-then-decline", "4000008400001629", true},
	{"soft-decline", "4000000000003063", false},
	{"capture-fails", "4000000000000036", false},
	{"capture-delayed", "4000000000000028", false},
	// Failover across the sandbox's acquirers (issue 13).
	{"failover", "4000000000000309", false},
	{"failover-after-lost-answer", "4000000000000325", false},
	{"every-acquirer-fails", "4000000000000317", true},
	// Disputes (issue 15): a chargeback a day after capture, won or lost when defended.
	{"dispute-won", "4000000000000259", false},
	{"dispute-lost", "4000000000000416", false},
}

// Shared by every seed: key generation is the slow part of a gateway's start.
var shared struct {
	once sync.Once
	key  keyring.Key
	err  error
}

func gatewayKey(t testing.TB) keyring.Key {
	shared.once.Do(func() {
		// 1024 bits: signatures are not what is under test, and each delivery signs once.
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		shared.key, shared.err = keyring.Key{Version: "1", Private: k}, err
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.key
}

// template is a migrated database with the merchant in it, copied for each seed: migrating a
// fresh file is most of a short seed's cost under the race detector.
var template struct {
	once sync.Once
	dir  string
	err  error
}

var simMerchant = merchant.Merchant{ClientID: "SIMMERCHANT", Name: "sim", Sandbox: true,
	FingerprintKey: []byte("sim fingerprint key, 32 bytes...")[:32], CreatedAt: simStart}

func copyTemplate(t testing.TB, dst string) {
	template.once.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "cardgate-sim-template")
		if err != nil {
			template.err = err
			return
		}
		st, err := sqlite.Open(ctx, dir)
		if err != nil {
			template.err = err
			return
		}
		// The gateway's key is the short one of gatewayKey, stored as keyring.Ensure would store it.
		enc, err := protocol.EncodePrivateKeyPKCS8(gatewayKey(t).Private)
		if err != nil {
			template.err = err
			return
		}
		template.dir, template.err = dir, errors.Join(st.CreateMerchant(ctx, simMerchant),
			st.AddGatewayKey(ctx, keyring.StoredKey{Version: gatewayKey(t).Version, PrivateKey: enc, CreatedAt: simStart}), st.Close())
	})
	if template.err != nil {
		t.Fatal(template.err)
	}
	data, err := os.ReadFile(filepath.Join(template.dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, sqlite.FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// receiver is the merchant's notification endpoint; the world decides each answer before the
// delivery that gets it, so acknowledgements follow the seed.
type receiver struct {
	mu     sync.Mutex
	answer string
	srv    *httptest.Server
}

func newReceiver() *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		answer := r.answer
		r.mu.Unlock()
		switch answer {
		case "ack":
			_, _ = io.WriteString(w, `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`)
		case "refuse":
			_, _ = io.WriteString(w, `{"result":{"resultCode":"FAIL","resultStatus":"F","resultMessage":"signature check failed"}}`)
		case "http500":
			http.Error(w, "down", http.StatusInternalServerError)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	return r
}

func (r *receiver) set(answer string) {
	r.mu.Lock()
	r.answer = answer
	r.mu.Unlock()
}

// simPay is what the merchant knows of one of its payments.
type simPay struct {
	idx   int
	reqID string
	card  cardKind
	req   *protocol.PayRequest
	id    string // the paymentId, once the merchant has seen it
}

// txnReq is a capture or refund request the merchant sent, kept to send again.
type txnReq struct {
	reqID  string
	pay    *simPay
	amount int64
}

// world is one seed's gateway, merchant and acquirer.
type world struct {
	seed   uint64
	rng    *mrand.Rand
	in     *Injector
	ledger *Ledger
	dir    string
	// gw is the gateway process of the moment, as serve assembles it; raw is its store, to look
	// at what it wrote.
	gw      *gateway.Gateway
	raw     *sqlite.Store
	svc     *payments.Service
	disp    *notify.Dispatcher
	clk     *clock.Fixed
	key     keyring.Key
	m       payments.Merchant
	recv    *receiver
	log     *slog.Logger
	pays    []*simPay
	caps    []txnReq
	refunds []txnReq
	nextReq int

	trace         []string
	violations    []string
	steps         int
	reversedHolds int // authorizations whose answer was lost, released by the gateway's reference
	// resolved counts the in-flight authorizations of crashed processes that RESOLVE settled,
	// by the outcome it recorded (the result code, PROCESS_FAIL when the acquirer knew nothing).
	resolved map[string]int
	// changes is the connection's total_changes() at the last check: a step that wrote nothing
	// leaves the invariants as they were (-1 forces a check, after a restart).
	changes int64

	// What the checks remember between steps (by payment or transaction id).
	finalSeen    map[string]string // FAIL/CANCELLED payment → "state/result" first seen
	wasSuccess   map[string]bool
	wasCaptured  map[string]bool
	txnFinalSeen map[string]string
	// disputeFinalSeen: dispute → its final state, first seen.
	disputeFinalSeen map[string]string
}

func newWorld(t testing.TB, seed uint64) *world {
	w := &world{
		seed: seed, rng: mrand.New(mrand.NewPCG(seed, 0xca4d_6a7e)), ledger: NewLedger(), dir: t.TempDir(),
		clk: clock.NewFixed(simStart), key: gatewayKey(t), log: slog.New(slog.DiscardHandler),
		resolved: map[string]int{}, finalSeen: map[string]string{}, wasSuccess: map[string]bool{}, wasCaptured: map[string]bool{}, txnFinalSeen: map[string]string{},
		disputeFinalSeen: map[string]string{},
	}
	// Some seeds run without faults, most with a few, some with many: the rates are part of the seed.
	level := []float64{0, 0.5, 1, 1, 2}[w.rng.IntN(5)]
	w.in = NewInjector(seed, Rates{
		StoreBefore: 0.01 * level, StoreAfter: 0.01 * level, Crash: 0.004 * level,
		AcquirerTimeout: 0.03 * level, AcquirerLost: 0.03 * level, CrashMidAuth: 0.03 * level,
		CrashOwedCapture: 0.2 * level,
	})
	w.recv = newReceiver()
	t.Cleanup(w.recv.srv.Close)
	w.m = payments.Merchant{ID: simMerchant.ClientID, FingerprintKey: simMerchant.FingerprintKey}
	copyTemplate(t, w.dir)
	w.open(t)
	t.Cleanup(func() { w.gw.Close() })
	return w
}

// open starts a gateway process on the store's file: a fresh gateway, nothing carried over in
// memory but the clock (the gateway clock is durable in the sandbox). The store and the acquirer
// are wrapped with the seed's faults; the simulator's books, in the store, outlive the
// processes as an acquirer's do.
func (w *world) open(t testing.TB) {
	st, err := sqlite.Open(context.Background(), w.dir)
	if err != nil {
		t.Fatal(err)
	}
	w.raw, w.changes = st, -1
	g, err := gateway.Start(context.Background(), gateway.Config{
		Mode: gateway.Sandbox, Store: st, Data: w.dir, Log: w.log,
		// The simulation moves its own clock and runs due work and deliveries itself.
		Manual: true, Clock: w.clk, NotifyTimeout: 5 * time.Second,
		// Automatic captures wait for the driver's flush after each step, which a crash may
		// come before (FaultCrashOwedCapture).
		DeferCaptures: true,
		WrapStore:     func(s payments.Store) payments.Store { return &Store{Inner: s, In: w.in} },
		WrapAcquirer: func(a acquirer.Acquirer) acquirer.Acquirer {
			return &Acquirer{Inner: a, In: w.in, Ledger: w.ledger}
		},
		Payments: payments.Config{
			// Calls are sequential: no first request is ever still in flight when its replay
			// comes, and waiting for one would make the run depend on the wall clock.
			DuplicateWait: -1,
			PublicURL:     "https://gateway.sim",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	w.gw, w.svc, w.disp = g, g.Service, g.Dispatcher
}

// crashed throws the process away and starts another on the same file, which recovers by
// running the due work.
func (w *world) recoverFromCrash(t testing.TB) {
	if err := w.gw.Close(); err != nil {
		t.Fatal(err)
	}
	w.in.Revive()
	w.open(t)
	w.tracef("  restart, recovery:")
	w.runDue()
}

func (w *world) tracef(format string, args ...any) {
	w.trace = append(w.trace, fmt.Sprintf(format, args...))
}

func (w *world) violatef(format string, args ...any) {
	w.violations = append(w.violations, fmt.Sprintf("step %d: ", w.steps)+fmt.Sprintf(format, args...))
}

func sgd(minor int64) *protocol.Amount {
	return &protocol.Amount{Currency: "SGD", Value: fmt.Sprint(minor)}
}

// answer is the part of an answer that the seed decides: codes and states, never ids.
func answerOf(err error) string {
	if err == nil {
		return "ok"
	}
	return "ERR " + protocol.ResultOf(err).ResultCode
}

func codeOf(err error) protocol.Code {
	if err == nil {
		return protocol.CodeSuccess
	}
	return protocol.Code(protocol.ResultOf(err).ResultCode)
}

func describe(p payments.Payment) string {
	s := fmt.Sprintf("%s/%s", p.Stage(), p.ResultCode)
	if p.Order.NormalURL != "" {
		s += " normalUrl"
	}
	return s
}

// ---- operations ----

func (w *world) newPayRequest(c cardKind) *protocol.PayRequest {
	cvv := "731"
	if strings.HasPrefix(c.pan, "37") {
		cvv = "7319"
	}
	mode := "AUTOMATIC"
	if w.rng.IntN(2) == 0 {
		mode = "MANUAL"
	}
	w.nextReq++
	meta := &protocol.CardMetaData{CardNo: c.pan, ExpiryMonth: "06", ExpiryYear: "39", CVV: cvv,
		CardholderName: &protocol.UserName{FirstName: "Alan", LastName: "Wallex"}}
	if w.rng.IntN(3) == 0 {
		meta.Is3DSAuthentication = true
	}
	if c.name == "soft-decline" && w.rng.IntN(2) == 0 {
		meta.EnableAuthenticationUpgrade = true
	}
	notifyURL := w.recv.srv.URL + "/notify"
	if w.rng.IntN(10) == 0 {
		notifyURL = "" // the merchant has no default either: nothing can be notified
	}
	return &protocol.PayRequest{
		ProductCode:        "CASHIER_PAYMENT",
		PaymentRequestID:   fmt.Sprintf("pay-%d-%d", w.seed, w.nextReq),
		PaymentAmount:      sgd(1 + w.rng.Int64N(50_000)),
		PaymentMethod:      &protocol.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodMetaData: meta},
		PaymentRedirectURL: "https://shop.example/return",
		PaymentNotifyURL:   notifyURL,
		PaymentFactor:      &protocol.PaymentFactor{IsAuthorization: true, CaptureMode: mode},
		Order: &protocol.Order{ReferenceOrderID: "order-1", OrderDescription: "simulated order",
			Buyer: &protocol.Buyer{ReferenceBuyerID: "buyer-1"}},
		Env: &protocol.Env{TerminalType: "WEB", ClientIP: "203.0.113.7"},
	}
}

// stored reads a payment through the store itself, without faults.
func (w *world) stored(reqID string) (payments.Payment, bool) {
	p, err := w.raw.PaymentByRequestID(context.Background(), w.m.ID, reqID)
	return p, err == nil
}

func (w *world) opPay(ctx context.Context) {
	c := cards[w.rng.IntN(len(cards))]
	sp := &simPay{idx: len(w.pays), card: c, req: w.newPayRequest(c)}
	sp.reqID = sp.req.PaymentRequestID
	w.pays = append(w.pays, sp)
	p, err := w.svc.Pay(ctx, w.m, sp.req)
	if err == nil {
		sp.id = p.ID
	}
	mode := sp.req.PaymentFactor.CaptureMode
	w.tracef("pay #%d %s %s %s 3ds=%v -> %s %s", sp.idx, c.name, mode, sp.req.PaymentAmount.Value,
		sp.req.PaymentMethod.PaymentMethodMetaData.Is3DSAuthentication, answerOf(err), describeIf(p, err))
}

func describeIf(p payments.Payment, err error) string {
	if err != nil {
		return ""
	}
	return describe(p)
}

// opReplayPay sends a pay request again: the same (an SDK's retry) or with another amount.
func (w *world) opReplayPay(ctx context.Context) {
	sp := w.pickPay(nil)
	if sp == nil {
		return
	}
	req := *sp.req
	consistent := w.rng.IntN(4) != 0
	if !consistent {
		var v int64
		fmt.Sscan(req.PaymentAmount.Value, &v)
		req.PaymentAmount = sgd(v + 1)
	}
	before, known := w.stored(sp.reqID)
	p, err := w.svc.Pay(ctx, w.m, &req)
	w.tracef("pay again #%d consistent=%v known=%v -> %s %s", sp.idx, consistent, known, answerOf(err), describeIf(p, err))
	if err == nil && sp.id == "" {
		sp.id = p.ID
	}
	if !known || len(w.in.Step) > 0 {
		return
	}
	switch {
	case !consistent && codeOf(err) != protocol.CodeRepeatReqInconsistent:
		w.violatef("pay #%d replayed with another amount answered %s, want REPEAT_REQ_INCONSISTENT", sp.idx, answerOf(err))
	case consistent && err != nil:
		w.violatef("pay #%d replayed answered %s", sp.idx, answerOf(err))
	case consistent && p.ID != before.ID:
		w.violatef("pay #%d replayed answered another payment", sp.idx)
	case consistent && (p.State != before.State || p.ResultCode != before.ResultCode):
		w.violatef("pay #%d replayed answered %s/%s, the payment is %s/%s", sp.idx, p.State, p.ResultCode, before.State, before.ResultCode)
	}
}

// pickPay picks a payment the store knows, preferring one that prefer accepts.
func (w *world) pickPay(prefer func(payments.Payment) bool) *simPay {
	// One query for all: the fields the stage and the open challenge are derived from.
	stored := map[string]payments.Payment{}
	w.query(`SELECT request_id, payment_id, state, capture_state, close_reason, acquirer_state, sealed_card <> '' FROM payments`,
		func(scan func(...any) error) error {
			var p payments.Payment
			var sealed bool
			err := scan(&p.RequestID, &p.ID, &p.State, &p.Capture, &p.CloseReason, &p.AcquirerState, &sealed)
			if sealed {
				p.SealedCard = "sealed"
			}
			stored[p.RequestID] = p
			return err
		})
	var known, preferred []*simPay
	for _, sp := range w.pays {
		p, ok := stored[sp.reqID]
		if !ok {
			continue
		}
		if sp.id == "" && w.rng.IntN(2) == 0 {
			// The merchant learns a paymentId it never got an answer with by inquiring.
			sp.id = p.ID
		}
		known = append(known, sp)
		if prefer != nil && prefer(p) {
			preferred = append(preferred, sp)
		}
	}
	switch {
	case len(preferred) > 0 && w.rng.IntN(5) != 0:
		return preferred[w.rng.IntN(len(preferred))]
	case len(known) > 0:
		return known[w.rng.IntN(len(known))]
	}
	return nil
}

func (w *world) paymentID(sp *simPay) string {
	if sp.id != "" {
		return sp.id
	}
	// Unknown to the merchant (its pay got no answer): an id that exists nowhere.
	return "20260515000000000000000000000000000"
}

func (w *world) opSubmitCode(ctx context.Context) {
	sp := w.pickPay(payments.Payment.ChallengeOpen)
	if sp == nil {
		return
	}
	p, _ := w.stored(sp.reqID)
	if p.ChallengeToken == "" {
		w.tracef("3ds #%d: no page", sp.idx)
		return
	}
	code := threeds.Code
	if w.rng.IntN(3) == 0 {
		code = "0000"
	}
	got, err := w.svc.SubmitCode(ctx, p.ChallengeToken, code)
	w.tracef("3ds #%d right=%v -> %s %s", sp.idx, code == threeds.Code, answerOf(err), describeIf(got, err))
}

func (w *world) opCapture(ctx context.Context) {
	var req txnReq
	replay := len(w.caps) > 0 && w.rng.IntN(5) == 0
	if replay {
		req = w.caps[w.rng.IntN(len(w.caps))]
		if w.rng.IntN(3) == 0 {
			req.amount++ // the same captureRequestId with another amount
		}
	} else {
		sp := w.pickPay(func(p payments.Payment) bool { return p.Stage() == payments.StageAuthorized })
		if sp == nil {
			return
		}
		p, _ := w.stored(sp.reqID)
		w.nextReq++
		req = txnReq{reqID: fmt.Sprintf("cap-%d", w.nextReq), pay: sp, amount: p.Amount.Minor}
		switch w.rng.IntN(8) {
		case 0:
			req.amount++
		case 1:
			req.amount = max(1, req.amount-1)
		}
		w.caps = append(w.caps, req)
	}
	before, _ := w.stored(req.pay.reqID)
	prior, priorErr := w.raw.TxnByRequestID(ctx, w.m.ID, payments.TxnCapture, req.reqID)
	txn, p, err := w.svc.Capture(ctx, w.m, &protocol.CaptureRequest{CaptureRequestID: req.reqID, PaymentID: w.paymentID(req.pay), CaptureAmount: sgd(req.amount)})
	w.tracef("capture #%d %d/%d replay=%v -> %s %s %s", req.pay.idx, req.amount, before.Amount.Minor, replay, answerOf(err), txnDesc(txn, err), describeIf(p, err))
	if len(w.in.Step) > 0 || req.pay.id == "" {
		return
	}
	var want protocol.Code
	switch {
	case priorErr == nil && (prior.Amount.Minor != req.amount || prior.PaymentID != req.pay.id):
		want = protocol.CodeRepeatReqInconsistent
	case priorErr == nil:
		if err == nil && txn.ID != prior.ID {
			w.violatef("capture #%d replay answered another capture", req.pay.idx)
		}
		want = protocol.CodeSuccess
	default:
		want = payments.Refusal(payments.OpCapture, before.Stage()).Code
		if before.Stage() == payments.StageAuthorized {
			switch {
			case req.amount > before.Amount.Minor:
				want = protocol.CodeCaptureAmountExceedAuthLimit
			case req.amount < before.Amount.Minor:
				want = protocol.CodeParamIllegal
			default:
				want = protocol.CodeSuccess
			}
		}
	}
	if got := codeOf(err); got != want {
		w.violatef("capture #%d in %s (%d of %d, replay=%v) answered %s, want %s", req.pay.idx, before.Stage(), req.amount, before.Amount.Minor, replay, got, want)
	}
}

func txnDesc(t payments.Txn, err error) string {
	if err != nil {
		return ""
	}
	return fmt.Sprintf("txn %s/%s %d", t.Status, t.ResultCode, t.Amount.Minor)
}

func (w *world) opRefund(ctx context.Context) {
	var req txnReq
	replay := len(w.refunds) > 0 && w.rng.IntN(5) == 0
	if replay {
		req = w.refunds[w.rng.IntN(len(w.refunds))]
		if w.rng.IntN(3) == 0 {
			req.amount++
		}
	} else {
		sp := w.pickPay(func(p payments.Payment) bool { return p.Stage() == payments.StageCaptured })
		if sp == nil {
			return
		}
		p, _ := w.stored(sp.reqID)
		left := p.CapturedMinor - p.RefundedMinor
		w.nextReq++
		req = txnReq{reqID: fmt.Sprintf("ref-%d", w.nextReq), pay: sp}
		switch k := w.rng.IntN(6); {
		case left <= 0 || k == 0:
			req.amount = max(left, 0) + 1 + w.rng.Int64N(100) // more than is left
		case k == 1:
			req.amount = left
		default:
			req.amount = 1 + w.rng.Int64N(left)
		}
		w.refunds = append(w.refunds, req)
	}
	before, _ := w.stored(req.pay.reqID)
	prior, priorErr := w.raw.TxnByRequestID(ctx, w.m.ID, payments.TxnRefund, req.reqID)
	txn, p, err := w.svc.Refund(ctx, w.m, &protocol.RefundRequest{RefundRequestID: req.reqID, PaymentID: w.paymentID(req.pay), RefundAmount: sgd(req.amount),
		RefundNotifyURL: w.recv.srv.URL + "/refunds"})
	w.tracef("refund #%d %d of %d-%d replay=%v -> %s %s %s", req.pay.idx, req.amount, before.CapturedMinor, before.RefundedMinor, replay, answerOf(err), txnDesc(txn, err), describeIf(p, err))
	if len(w.in.Step) > 0 || req.pay.id == "" {
		return
	}
	var want protocol.Code
	switch {
	case priorErr == nil && (prior.Amount.Minor != req.amount || prior.PaymentID != req.pay.id):
		want = protocol.CodeRepeatReqInconsistent
	case priorErr == nil:
		if err == nil && txn.ID != prior.ID {
			w.violatef("refund #%d replay answered another refund", req.pay.idx)
		}
		want = protocol.CodeSuccess
	case before.Stage() == payments.StageCaptured && req.amount > before.CapturedMinor-before.RefundedMinor-before.DisputedMinor:
		want = protocol.CodeRefundAmountExceed
	case before.Stage() == payments.StageCaptured:
		want = protocol.CodeSuccess
	default:
		want = payments.Refusal(payments.OpRefund, before.Stage()).Code
	}
	if got := codeOf(err); got != want {
		w.violatef("refund #%d in %s (%d of %d-%d, replay=%v) answered %s, want %s", req.pay.idx, before.Stage(), req.amount, before.CapturedMinor, before.RefundedMinor, replay, got, want)
	}
}

func (w *world) opCancel(ctx context.Context) {
	sp := w.pickPay(func(p payments.Payment) bool {
		return p.Stage() == payments.StageAuthorized || p.Stage() == payments.StageProcessing
	})
	if sp == nil {
		return
	}
	before, _ := w.stored(sp.reqID)
	req := &protocol.CancelRequest{PaymentID: w.paymentID(sp)}
	if w.rng.IntN(3) == 0 {
		req = &protocol.CancelRequest{PaymentRequestID: sp.reqID}
	}
	p, err := w.svc.Cancel(ctx, w.m, req)
	w.tracef("cancel #%d byRequestId=%v -> %s %s", sp.idx, req.PaymentID == "", answerOf(err), describeIf(p, err))
	if len(w.in.Step) > 0 || (req.PaymentID != "" && sp.id == "") {
		return
	}
	want := protocol.CodeSuccess
	switch before.Stage() {
	case payments.StageProcessing, payments.StageAuthorized, payments.StageCancelled, payments.StageVoided:
	default:
		want = payments.Refusal(payments.OpCancel, before.Stage()).Code
	}
	if got := codeOf(err); got != want {
		w.violatef("cancel #%d in %s answered %s, want %s", sp.idx, before.Stage(), got, want)
	}
}

func (w *world) opInquire(ctx context.Context) {
	sp := w.pickPay(nil)
	if sp == nil {
		return
	}
	req := &protocol.InquiryPaymentRequest{PaymentRequestID: sp.reqID}
	if sp.id != "" && w.rng.IntN(2) == 0 {
		req = &protocol.InquiryPaymentRequest{PaymentID: sp.id}
	}
	p, err := w.svc.Inquire(ctx, w.m, req)
	w.tracef("inquire #%d -> %s %s", sp.idx, answerOf(err), describeIf(p, err))
	if err == nil {
		if cur, _ := w.stored(sp.reqID); cur.Version != p.Version || cur.ID != p.ID {
			w.violatef("inquiry of #%d answered version %d, the store has %d", sp.idx, p.Version, cur.Version)
		}
	}
}

// intruder is another merchant: it must never see or change the simulated merchant's payments
// (invariant 7), whatever ids it sends.
var intruder = payments.Merchant{ID: "OTHERMERCHANT", FingerprintKey: []byte("another merchant's fingerprint key")}

func (w *world) opIntruder(ctx context.Context) {
	sp := w.pickPay(nil)
	if sp == nil || sp.id == "" {
		return
	}
	var before int64
	_ = w.raw.Raw().QueryRow(context.Background(), `SELECT total_changes()`).Scan(&before)
	var err error
	op := w.rng.IntN(5)
	switch op {
	case 0:
		_, err = w.svc.Inquire(ctx, intruder, &protocol.InquiryPaymentRequest{PaymentID: sp.id})
	case 1:
		_, err = w.svc.Cancel(ctx, intruder, &protocol.CancelRequest{PaymentRequestID: sp.reqID})
	case 2:
		p, _ := w.stored(sp.reqID)
		_, _, err = w.svc.Capture(ctx, intruder, &protocol.CaptureRequest{CaptureRequestID: "intruder-cap", PaymentID: sp.id, CaptureAmount: sgd(p.Amount.Minor)})
	case 3:
		_, _, err = w.svc.Refund(ctx, intruder, &protocol.RefundRequest{RefundRequestID: "intruder-ref", PaymentID: sp.id, RefundAmount: sgd(1)})
	default:
		// The same paymentRequestId is another merchant's own: it makes a payment of its own.
		_, err = w.svc.Inquire(ctx, intruder, &protocol.InquiryPaymentRequest{PaymentRequestID: sp.reqID})
	}
	w.tracef("intruder op %d on #%d -> %s", op, sp.idx, answerOf(err))
	var after int64
	_ = w.raw.Raw().QueryRow(context.Background(), `SELECT total_changes()`).Scan(&after)
	switch {
	case after != before:
		w.violatef("another merchant's call %d on #%d wrote %d rows", op, sp.idx, after-before)
	case len(w.in.Step) == 0 && codeOf(err) != protocol.CodeOrderNotExist:
		w.violatef("another merchant's call %d on #%d answered %s, want ORDER_NOT_EXIST", op, sp.idx, answerOf(err))
	}
}

// simDisputeReason is the reason of the disputes opDispute opens, told apart from the dispute
// cards' chargebacks in the summary.
const simDisputeReason = "12.6"

// opDispute is the buyer's issuer opening a chargeback on a captured payment (for a random
// amount, sometimes more than it has left), or the merchant accepting or defending one.
func (w *world) opDispute(ctx context.Context) {
	svc := w.gw.Disputes
	var open []struct{ id, state, paymentID string }
	w.query(`SELECT dispute_id, state, payment_id FROM disputes ORDER BY opened_at, rowid`, func(scan func(...any) error) error {
		var d struct{ id, state, paymentID string }
		err := scan(&d.id, &d.state, &d.paymentID)
		open = append(open, d)
		return err
	})
	order := w.creationOrder()
	if k := w.rng.IntN(3); k > 0 && len(open) > 0 {
		d := open[w.rng.IntN(len(open))]
		var err error
		if k == 1 {
			_, err = svc.Accept(ctx, w.m.ID, d.id)
		} else {
			_, err = svc.SupplyDefense(ctx, w.m.ID, d.id, "JVBERi0xLjQKZGVmZW5zZQo=")
		}
		w.tracef("dispute %s on #%d in %s -> %s", map[int]string{1: "accept", 2: "defend"}[k], order[d.paymentID], d.state, answerOf(err))
		if d.state != "OPEN" && codeOf(err) != protocol.CodeOrderStatusInvalid {
			w.violatef("dispute in %s: %s answered %s, want ORDER_STATUS_INVALID", d.state, map[int]string{1: "accept", 2: "defend"}[k], answerOf(err))
		}
		return
	}
	sp := w.pickPay(func(p payments.Payment) bool { return p.Stage() == payments.StageCaptured })
	if sp == nil || sp.id == "" {
		return
	}
	before, _ := w.stored(sp.reqID)
	left := before.CapturedMinor - before.RefundedMinor - before.DisputedMinor
	amount := 1 + w.rng.Int64N(max(left, 1)+50)
	_, err := svc.Open(ctx, disputes.OpenRequest{MerchantID: w.m.ID, PaymentID: sp.id, AmountMinor: amount, ReasonCode: simDisputeReason, DefenseWins: w.rng.IntN(2) == 0})
	w.tracef("dispute open #%d %d of %d left -> %s", sp.idx, amount, left, answerOf(err))
	switch want := protocol.CodeSuccess; {
	case before.Stage() != payments.StageCaptured:
		if err == nil {
			w.violatef("dispute opened on #%d in %s", sp.idx, before.Stage())
		}
	case amount > left:
		if want = protocol.CodeParamIllegal; codeOf(err) != want {
			w.violatef("dispute of %d on #%d with %d left answered %s, want %s", amount, sp.idx, left, answerOf(err), want)
		}
	case err != nil:
		w.violatef("dispute of %d on #%d with %d left answered %s", amount, sp.idx, left, answerOf(err))
	}
}

func (w *world) opInquireRefund(ctx context.Context) {
	if len(w.refunds) == 0 {
		return
	}
	req := w.refunds[w.rng.IntN(len(w.refunds))]
	t, err := w.svc.InquireRefund(ctx, w.m, &protocol.InquiryRefundRequest{RefundRequestID: req.reqID})
	w.tracef("inquire refund #%d -> %s %s", req.pay.idx, answerOf(err), txnDesc(t, err))
}

var clockSteps = []time.Duration{time.Second, 6 * time.Second, 30 * time.Second, 61 * time.Second, 3 * time.Minute,
	15 * time.Minute, 2 * time.Hour, 7*24*time.Hour + time.Minute}

func (w *world) opAdvance() {
	// Long jumps are rarer, so that payments live long enough to be worked on.
	i := min(w.rng.IntN(len(clockSteps)), w.rng.IntN(len(clockSteps)))
	w.clk.Advance(clockSteps[i])
	w.tracef("clock +%s", clockSteps[i])
	w.runDue()
	if !w.in.Dead() {
		w.deliver()
	}
}

// runDue runs the work due now the way the jobs runner's pass does (each piece once per pass,
// until a listing brings nothing new), in an order the seed fixes.
func (w *world) runDue() {
	ctx := context.Background()
	order := w.creationOrder()
	tried := map[string]bool{}
	for range 20 {
		if w.in.Dead() {
			return
		}
		items, err := w.svc.DueWork(ctx, w.clk.Now(), 1000)
		if err != nil {
			w.tracef("  due: %s", answerOf(err))
			return
		}
		sort.SliceStable(items, func(i, j int) bool {
			a, b := items[i], items[j]
			if !a.At.Equal(b.At) {
				return a.At.Before(b.At)
			}
			if a.Kind != b.Kind {
				return a.Kind < b.Kind
			}
			if order[a.PaymentID] != order[b.PaymentID] {
				return order[a.PaymentID] < order[b.PaymentID]
			}
			return order[a.TxnID] < order[b.TxnID]
		})
		progressed := false
		for _, d := range items {
			key := fmt.Sprint(d)
			if tried[key] || w.in.Dead() {
				continue
			}
			tried[key], progressed = true, true
			err := w.svc.RunDue(ctx, d)
			w.tracef("  due %s #%d -> %s", d.Kind, order[d.PaymentID], answerOf(err))
			if d.Kind == payments.DueResolve && err == nil {
				if p, err := w.raw.PaymentByID(ctx, d.MerchantID, d.PaymentID); err == nil && p.InFlightUntil.IsZero() {
					w.resolved[string(p.ResultCode)]++
				}
			}
		}
		if !w.in.Dead() {
			w.svc.FlushCaptures(ctx) // the captures of the approvals this pass recorded
		}
		disputed, err := w.gw.Disputes.DueWork(ctx, w.clk.Now(), 1000)
		if err != nil {
			w.tracef("  due disputes: %s", answerOf(err))
			return
		}
		sort.SliceStable(disputed, func(i, j int) bool {
			a, b := disputed[i], disputed[j]
			if !a.At.Equal(b.At) {
				return a.At.Before(b.At)
			}
			return order[a.PaymentID] < order[b.PaymentID]
		})
		for _, d := range disputed {
			key := fmt.Sprint(d)
			if tried[key] || w.in.Dead() {
				continue
			}
			tried[key], progressed = true, true
			err := w.gw.Disputes.RunDueWork(ctx, d)
			w.tracef("  due dispute #%d chargeback=%v -> %s", order[d.PaymentID], d.DisputeID == "", answerOf(err))
		}
		if !progressed {
			return
		}
	}
}

// creationOrder numbers payments and transactions in the order they were stored.
func (w *world) creationOrder() map[string]int {
	order := map[string]int{}
	for _, q := range []string{`SELECT payment_id FROM payments ORDER BY rowid`, `SELECT txn_id FROM transactions ORDER BY rowid`} {
		rows, err := w.raw.Raw().Query(context.Background(), q)
		if err != nil {
			w.violatef("read creation order: %v", err)
			return order
		}
		i := 0
		for rows.Next() {
			var id string
			if rows.Scan(&id) == nil {
				order[id] = i
			}
			i++
		}
		rows.Close()
	}
	return order
}

var answers = []string{"ack", "ack", "ack", "refuse", "http500", "garbage"}

// deliver makes every notification attempt that is due, with the receiver's answer drawn from the
// seed for each.
func (w *world) deliver() {
	ctx := context.Background()
	tried := map[string]bool{}
	for range 20 {
		due, err := w.disp.DueNotifications(ctx, w.clk.Now(), 1000)
		if err != nil {
			w.violatef("list due notifications: %v", err)
			return
		}
		progressed := false
		for _, n := range due {
			key := fmt.Sprint(n.ID, "@", n.At.UnixMilli())
			if tried[key] {
				continue
			}
			tried[key], progressed = true, true
			answer := answers[w.rng.IntN(len(answers))]
			w.recv.set(answer)
			err := w.disp.DeliverDue(ctx, n.ID)
			w.tracef("  notify %d %s -> %s", n.ID, answer, answerOf(err))
		}
		if !progressed {
			return
		}
	}
}

// step runs one random operation.
func (w *world) step(t testing.TB) {
	ctx := context.Background()
	w.in.Step = w.in.Step[:0]
	n := len(w.trace)
	switch r := w.rng.IntN(100); {
	case r < 22:
		w.opPay(ctx)
	case r < 30:
		w.opReplayPay(ctx)
	case r < 38:
		w.opSubmitCode(ctx)
	case r < 52:
		w.opCapture(ctx)
	case r < 58:
		w.opCancel(ctx)
	case r < 70:
		w.opRefund(ctx)
	case r < 75:
		w.opInquire(ctx)
	case r < 76:
		w.opInquireRefund(ctx)
	case r < 77:
		w.opIntruder(ctx)
	case r < 80:
		w.opDispute(ctx)
	case r < 93:
		w.opAdvance()
	case r < 97:
		w.deliver()
	default:
		w.in.Crash()
	}
	// The step's automatic captures, reserved by the approvals it made, run after it: a real
	// gateway runs them right after the answer, in the background.
	if !w.in.Dead() && !w.in.CrashOwedCapture(w.svc.CapturesOwed() > 0) {
		w.svc.FlushCaptures(ctx)
	}
	if len(w.in.Step) > 0 && len(w.trace) > n {
		w.trace[n] += fmt.Sprintf(" faults=%v", w.in.Step)
	}
	// Recovery may crash too: start processes until one survives its recovery.
	for w.in.Dead() {
		w.tracef("  crash")
		w.recoverFromCrash(t)
	}
}

// settle ends a seed: faults off, the clock moved past every deadline (expiry, capture retries,
// the 7-day void) with the due work and deliveries run on the way, then past the whole
// notification schedule of what that work notified.
func (w *world) settle() {
	w.in.Off = true
	w.tracef("settle")
	// The second 8 days: a chargeback opened in the first (a day after its capture) runs its
	// defense window and judgement.
	for _, d := range []time.Duration{15 * time.Minute, 8 * 24 * time.Hour, 2 * 24 * time.Hour, 8 * 24 * time.Hour, 2 * 24 * time.Hour} {
		w.clk.Advance(d)
		w.runDue()
		w.deliver()
	}
}

// run plays one seed and returns its trace hash.
func run(t testing.TB, seed uint64, steps int) *world {
	w := newWorld(t, seed)
	for i := range steps {
		w.steps = i
		w.step(t)
		w.check(false)
	}
	w.steps = steps
	w.settle()
	w.check(true)
	w.summarize()
	w.scanFiles(t)
	return w
}

func (w *world) hash() string {
	h := sha256.New()
	for _, l := range w.trace {
		io.WriteString(h, l)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// summarize appends the final state of every payment to the trace.
func (w *world) summarize() {
	order := w.creationOrder()
	rows, err := w.raw.Raw().Query(context.Background(), `SELECT payment_id, state, capture_state, close_reason, result_code, captured_minor, refunded_minor,
		(SELECT count(*) FROM transactions t WHERE t.payment_id = p.payment_id),
		(SELECT count(*) FROM outbox o WHERE o.payment_id = p.payment_id AND o.status = 'DELIVERED')
		FROM payments p ORDER BY rowid`)
	if err != nil {
		w.violatef("summary: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id, state, capture, closed, code string
		var captured, refunded, txns, delivered int64
		if err := rows.Scan(&id, &state, &capture, &closed, &code, &captured, &refunded, &txns, &delivered); err != nil {
			w.violatef("summary: %v", err)
			return
		}
		w.tracef("final #%d %s %s %s %s captured=%d refunded=%d txns=%d delivered=%d", order[id], state, capture, closed, code, captured, refunded, txns, delivered)
	}
}

// scanFiles looks for card numbers and CVVs in the database files (invariant 6).
func (w *world) scanFiles(t testing.TB) {
	paths, _ := filepath.Glob(filepath.Join(w.dir, sqlite.FileName+"*"))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cards {
			if bytes.Contains(data, []byte(c.pan)) {
				w.violatef("card number %s found in %s", c.pan, filepath.Base(path))
			}
		}
		if bytes.Contains(data, []byte(`"cvv":`)) || bytes.Contains(data, []byte(`"cvv" :`)) {
			w.violatef("a CVV field found in %s", filepath.Base(path))
		}
	}
}

// ---- the tests ----

type seedResult struct {
	seed       uint64
	hash       string
	steps      int
	faults     map[Fault]int
	violations []string
	trace      []string
	reversed   int
	resolved   map[string]int
	disputes   map[string]int // final dispute states, and how many a chargeback opened
	took       time.Duration
}

func runSeed(t testing.TB, seed uint64, steps int) seedResult {
	began := time.Now()
	w := run(t, seed, steps)
	ds := map[string]int{}
	w.query(`SELECT state, reason_code FROM disputes`, func(scan func(...any) error) error {
		var state, reason string
		err := scan(&state, &reason)
		ds[state]++
		if reason != simDisputeReason {
			ds["opened by a chargeback card"]++
		}
		return err
	})
	return seedResult{seed: seed, hash: w.hash(), steps: steps, faults: w.in.Counts, violations: w.violations, trace: w.trace,
		reversed: w.reversedHolds, resolved: w.resolved, disputes: ds, took: time.Since(began)}
}

// stepsPerSeed is -sim.steps, or the default for this build.
func stepsPerSeed() int {
	switch {
	case *flagSteps > 0:
		return *flagSteps
	case raceEnabled:
		return 10
	}
	return 100
}

func TestSimulation(t *testing.T) {
	steps := stepsPerSeed()
	if *flagSeed >= 0 {
		r := runSeed(t, uint64(*flagSeed), steps)
		for _, l := range r.trace {
			t.Log(l)
		}
		t.Logf("seed %d: hash %s, faults %v, reversed holds %d", r.seed, r.hash, r.faults, r.reversed)
		for _, v := range r.violations {
			t.Errorf("seed %d: %s", r.seed, v)
		}
		return
	}
	n := *flagSeeds
	if testing.Short() {
		n = min(n, 50)
	}
	start := time.Now()
	results := make(chan seedResult)
	seeds := make(chan uint64)
	var wg sync.WaitGroup
	// SQLite waits on the disk: more workers than cores keep the cores busy.
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range seeds {
				// A subtest per seed: a seed's setup may FailNow, which only its own goroutine may do.
				t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) { results <- runSeed(t, s, steps) })
			}
		}()
	}
	go func() {
		for s := range n {
			seeds <- uint64(s)
		}
		close(seeds)
		wg.Wait()
		close(results)
	}()
	faults := map[Fault]int{}
	var totalSteps, violations, reversed int
	resolved, disputeStates := map[string]int{}, map[string]int{}
	var slowest seedResult
	ran := 0
	for r := range results {
		ran++
		if r.took > slowest.took {
			slowest = r
		}
		totalSteps += r.steps
		for k, v := range r.faults {
			faults[k] += v
		}
		reversed += r.reversed
		for k, v := range r.resolved {
			resolved[k] += v
		}
		for k, v := range r.disputes {
			disputeStates[k] += v
		}
		if len(r.violations) > 0 {
			violations += len(r.violations)
			t.Errorf("seed %d: %d invariant violations; rerun with -run 'TestSimulation$' -sim.seed %d -v\n  %s\n  last steps:\n    %s",
				r.seed, len(r.violations), r.seed, strings.Join(r.violations[:min(5, len(r.violations))], "\n  "),
				strings.Join(r.trace[max(0, len(r.trace)-25):], "\n    "))
		}
	}
	var kinds []string
	for _, f := range Faults {
		kinds = append(kinds, fmt.Sprintf("%s=%d", f, faults[f]))
	}
	t.Logf("%d seeds, %d steps, %s; faults: %s; invariant violations: %d", ran, totalSteps, time.Since(start).Round(time.Millisecond), strings.Join(kinds, " "), violations)
	t.Logf("slowest seed: %d, %s, %d trace lines", slowest.seed, slowest.took.Round(time.Millisecond), len(slowest.trace))
	t.Logf("authorizations approved by the acquirer whose answer the gateway never received, released by reversal: %d", reversed)
	t.Logf("in-flight authorizations of crashed processes resolved (RESOLVE), by the result recorded: %v", resolved)
	t.Logf("disputes, by final state: %v", disputeStates)
}

func TestSimulationReplay(t *testing.T) {
	const steps = 80
	a, b := runSeed(t, 7, steps), runSeed(t, 7, steps)
	if a.hash != b.hash {
		for i := range min(len(a.trace), len(b.trace)) {
			if a.trace[i] != b.trace[i] {
				t.Fatalf("seed 7 ran differently twice: hashes %s and %s; first difference at line %d:\n  %s\n  %s", a.hash, b.hash, i, a.trace[i], b.trace[i])
			}
		}
		t.Fatalf("seed 7 ran differently twice: hashes %s and %s (traces of %d and %d lines)", a.hash, b.hash, len(a.trace), len(b.trace))
	}
	if c := runSeed(t, 8, steps); c.hash == a.hash {
		t.Fatalf("seeds 7 and 8 have the same trace hash %s", a.hash)
	}
	t.Logf("seed 7 twice: %s, %s; seed 8: different", a.hash, b.hash)
}
