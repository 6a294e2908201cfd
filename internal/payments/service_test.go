package payments_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// countingAcquirer counts the calls to the acquirer and can slow down or fail them; everything
// else goes to the simulator.
type countingAcquirer struct {
	next  acquirer.Acquirer
	calls atomic.Int64 // Authorize
	delay time.Duration
	err   error
	// during runs inside Authorize, before the answer (e.g. to cancel the caller's context).
	during func()

	captures, refunds, voids, inquiries, reversals, byReference atomic.Int64
	// captureErr, refundErr, voidErr and inquireErr (InquireByReference) fail those calls (the
	// outcome is then unknown).
	captureErr, refundErr, voidErr, inquireErr error
	// refundAnswer, when set, is the acquirer's answer to every refund.
	refundAnswer *acquirer.OpResult
}

func (a *countingAcquirer) Name() string { return "COUNTING" }

func (a *countingAcquirer) Authorize(ctx context.Context, req acquirer.AuthRequest) (acquirer.AuthResult, error) {
	a.calls.Add(1)
	if a.delay > 0 {
		time.Sleep(a.delay)
	}
	if a.during != nil {
		a.during()
	}
	if a.err != nil {
		return acquirer.AuthResult{}, a.err
	}
	return a.next.Authorize(ctx, req)
}

func (a *countingAcquirer) InquireAuthorization(ctx context.Context, id string) (acquirer.AuthResult, error) {
	a.inquiries.Add(1)
	return a.next.InquireAuthorization(ctx, id)
}

func (a *countingAcquirer) Capture(ctx context.Context, req acquirer.CaptureRequest) (acquirer.OpResult, error) {
	a.captures.Add(1)
	if a.captureErr != nil {
		return acquirer.OpResult{}, a.captureErr
	}
	return a.next.Capture(ctx, req)
}

func (a *countingAcquirer) InquireCapture(ctx context.Context, ref string) (acquirer.OpResult, error) {
	a.inquiries.Add(1)
	return a.next.InquireCapture(ctx, ref)
}

func (a *countingAcquirer) Refund(ctx context.Context, req acquirer.RefundRequest) (acquirer.OpResult, error) {
	a.refunds.Add(1)
	if a.refundErr != nil {
		return acquirer.OpResult{}, a.refundErr
	}
	if a.refundAnswer != nil {
		return *a.refundAnswer, nil
	}
	return a.next.Refund(ctx, req)
}

func (a *countingAcquirer) Reverse(ctx context.Context, paymentID string) error {
	a.reversals.Add(1)
	if a.voidErr != nil {
		return a.voidErr
	}
	return a.next.Reverse(ctx, paymentID)
}

func (a *countingAcquirer) InquireByReference(ctx context.Context, paymentID string) (acquirer.AuthResult, error) {
	a.byReference.Add(1)
	if a.inquireErr != nil {
		return acquirer.AuthResult{}, a.inquireErr
	}
	return a.next.InquireByReference(ctx, paymentID)
}

func (a *countingAcquirer) Void(ctx context.Context, id string) error {
	a.voids.Add(1)
	if a.voidErr != nil {
		return a.voidErr
	}
	return a.next.Void(ctx, id)
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// harness is one service on a fresh SQLite store (through hookStore), with an acquirer that
// counts its calls, a fixed clock and a log the test reads.
type harness struct {
	svc   *payments.Service
	store *hookStore
	acq   *countingAcquirer
	clock *clock.Fixed
	logs  *syncBuffer
}

func newHarness(t *testing.T, cfg ...payments.Config) *harness {
	t.Helper()
	clk := clock.NewFixed(testNow)
	h := &harness{
		store: newHookStore(t, merchantA, merchantB, quietMerchant),
		acq:   &countingAcquirer{next: simulator.New("SIMULATOR", clk)},
		clock: clk,
		logs:  &syncBuffer{},
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.svc = payments.NewService(h.store, h.acq, h.clock, log, append(cfg, payments.Config{})[0])
	t.Cleanup(func() {
		for _, pan := range allTestPANs() {
			if strings.Contains(h.logs.String(), pan) {
				t.Errorf("the logs contain the card number %s", pan)
			}
		}
	})
	return h
}

var (
	merchantA = payments.Merchant{ID: "merchant-a", FingerprintKey: []byte("fingerprint key of merchant A, 32b"), NotifyURL: "https://a.example/default-notify"}
	merchantB = payments.Merchant{ID: "merchant-b", FingerprintKey: []byte("fingerprint key of merchant B, 32b"), NotifyURL: "https://b.example/default-notify"}
	// quietMerchant has no notify URL: nobody is told.
	quietMerchant = payments.Merchant{ID: "quiet", FingerprintKey: []byte("k")}
)

const requestNotifyURL = "https://shop.example/notify?x=1"

// payRequest is seed 004-34 with the given card and request id, a future expiry and a CVV of the
// card's length; mutate changes anything else.
func payRequest(t testing.TB, pan, requestID string, mutate ...func(jsonObj)) *protocol.PayRequest {
	t.Helper()
	m := base(t)
	set(m, "paymentRequestId", requestID)
	set(m, "paymentNotifyUrl", requestNotifyURL)
	set(m, meta+".cardNo", pan)
	addLocalFields(m, pan)
	set(m, meta+".expiryMonth", "12")
	set(m, meta+".expiryYear", "2030")
	cvv := "123"
	if strings.HasPrefix(pan, "34") || strings.HasPrefix(pan, "37") {
		cvv = "1234"
	}
	set(m, meta+".cvv", cvv)
	for _, f := range mutate {
		f(m)
	}
	return decodePay(t, m)
}

// serviceCards is what pay must end in for every sandbox card without 3-D Secure (docs/design.md's
// table). Every card in simulator.Cards must have a row here.
var serviceCards = map[string]struct {
	state payments.State
	code  protocol.Code
	acq   payments.AcquirerState
}{
	// Brand cards and Antom's samples: approved.
	"4054695723100768": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"4117347806156383": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"4242424242424242": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"5555555555554444": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"378282246310005":  {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"3566002020360505": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"6011111111111117": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"36227206271667":   {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"6200000000000005": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	// Declines.
	"4000000000000002": {payments.StateFail, protocol.CodeDoNotHonor, payments.AcquirerAnswered},
	"4000000000009995": {payments.StateFail, protocol.CodeUserBalanceNotEnough, payments.AcquirerAnswered},
	"4000000000000069": {payments.StateFail, protocol.CodeCardExpired, payments.AcquirerAnswered},
	"4000000000000127": {payments.StateFail, protocol.CodeInvalidCVV, payments.AcquirerAnswered},
	"4000000000009987": {payments.StateFail, protocol.CodeSuspectedCard, payments.AcquirerAnswered},
	"4100000000000019": {payments.StateFail, protocol.CodeRiskReject, payments.AcquirerAnswered},
	"4000008400001629": {payments.StateFail, protocol.CodeDoNotHonor, payments.AcquirerAnswered},
	"4000000000003063": {payments.StateFail, protocol.CodeAuthenticationRequired, payments.AcquirerAnswered},
	// Approved, with something for later.
	"4000000000000010": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"4000002760003184": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"4000000000003220": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"4000000000000259": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"4000000000000416": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"4000000000000036": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"4000000000000028": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered},
	"4000000000000077": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered}, // after a 2 s hold
	"4000000000000085": {payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered}, // after 2 s in transit
	// The acquirer times out or never answers: still in process, nothing to notify yet.
	"4000000000000119": {payments.StateProcessing, protocol.CodePaymentInProcess, payments.AcquirerPending},
	"4000000000000044": {payments.StateProcessing, protocol.CodePaymentInProcess, payments.AcquirerPending},
	// A technical failure with no other acquirer to fail over to (the harness has one).
	"4000000000000309": {payments.StateFail, protocol.CodeProcessFail, payments.AcquirerAnswered},
	"4000000000000317": {payments.StateFail, protocol.CodeProcessFail, payments.AcquirerAnswered},
	// The answer is lost and there is no other acquirer: in process until resolved.
	"4000000000000325": {payments.StateProcessing, protocol.CodePaymentInProcess, payments.AcquirerPending},
}

func allTestPANs() []string {
	var out []string
	for pan := range serviceCards {
		out = append(out, pan)
	}
	return out
}

func TestServiceCardsCoverSimulator(t *testing.T) {
	for pan := range simulator.Cards {
		if _, ok := serviceCards[pan]; !ok {
			t.Errorf("simulator card %s has no expected pay outcome here", pan)
		}
	}
}

var paymentIDShape = regexp.MustCompile(`^20260515[0-9]{27}$`)

func TestPayEveryCard(t *testing.T) {
	notifyCases := []struct {
		name       string
		merchant   payments.Merchant
		requestURL string
		wantURL    string
	}{
		{"request notify URL", merchantA, requestNotifyURL, requestNotifyURL},
		{"merchant default", merchantA, "", merchantA.NotifyURL},
		{"no notify URL", quietMerchant, "", ""},
	}
	for pan, want := range serviceCards {
		for _, nc := range notifyCases {
			t.Run(pan+"/"+nc.name, func(t *testing.T) {
				h := newHarness(t)
				req := payRequest(t, pan, "req-1", func(m jsonObj) {
					if nc.requestURL == "" {
						del(m, "paymentNotifyUrl")
					}
				})
				p, err := h.svc.Pay(context.Background(), nc.merchant, req)
				if err != nil {
					t.Fatalf("Pay: %v", err)
				}
				if p.State != want.state || p.ResultCode != want.code || p.AcquirerState != want.acq {
					t.Fatalf("payment %s/%s/%s, want %s/%s/%s", p.State, p.ResultCode, p.AcquirerState, want.state, want.code, want.acq)
				}
				if !paymentIDShape.MatchString(p.ID) {
					t.Errorf("paymentId %q is not date + 27 digits", p.ID)
				}
				// AUTOMATIC capture follows an approval at once: CREATE, then AUTH_APPROVED and
				// CAPTURE in one commit, then the capture's outcome: a version per commit.
				wantCapture, captureOp := captureOutcome(pan, want.state)
				wantVersion := 2
				if want.state == payments.StateSuccess {
					wantVersion = 3
				}
				if p.MerchantID != nc.merchant.ID || p.RequestID != "req-1" || p.Version != wantVersion {
					t.Errorf("merchant %q, request %q, version %d (want %d)", p.MerchantID, p.RequestID, p.Version, wantVersion)
				}
				if p.Capture != wantCapture {
					t.Errorf("capture state %q, want %q", p.Capture, wantCapture)
				}
				if p.Amount.Currency.Code != "SGD" || p.Amount.Minor != 4200 || p.CaptureMode != payments.CaptureAutomatic {
					t.Errorf("amount %v, capture %s", p.Amount, p.CaptureMode)
				}
				if p.Order.NotifyURL != nc.wantURL {
					t.Errorf("Order.NotifyURL = %q, want %q", p.Order.NotifyURL, nc.wantURL)
				}
				stored, err := h.store.PaymentByID(context.Background(), nc.merchant.ID, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(stored, p) {
					t.Errorf("Pay returned\n%+v\nbut the store holds\n%+v", p, stored)
				}
				if s := fmt.Sprintf("%+v %#v", stored, stored); strings.Contains(s, pan) {
					t.Errorf("the stored payment holds the card number")
				}
				if h.acq.calls.Load() != 1 {
					t.Errorf("Authorize called %d times", h.acq.calls.Load())
				}
				txns, err := h.store.Txns(context.Background(), nc.merchant.ID, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				var capture payments.Txn
				if want.state == payments.StateSuccess {
					if len(txns) != 1 || txns[0].Type != payments.TxnCapture || txns[0].RequestID != p.RequestID || txns[0].Amount != p.Amount {
						t.Fatalf("transactions %+v, want one CAPTURE of the full amount under the paymentRequestId", txns)
					}
					capture = txns[0]
					if wantCapture == payments.CaptureSucceeded && (p.CapturedMinor != 4200 || !p.CapturedAt.Equal(testNow) || capture.Status != payments.TxnSucceeded) {
						t.Errorf("captured %d at %v, capture %s", p.CapturedMinor, p.CapturedAt, capture.Status)
					}
					if wantCapture != payments.CaptureSucceeded && p.CapturedMinor != 0 {
						t.Errorf("captured %d with capture %s", p.CapturedMinor, wantCapture)
					}
				} else if len(txns) != 0 {
					t.Fatalf("transactions %+v, want none", txns)
				}

				// One event per transition.
				events := h.store.eventsOf(p.ID)
				authOp := map[payments.State]payments.Op{payments.StateSuccess: payments.OpAuthApproved, payments.StateFail: payments.OpAuthDeclined, payments.StateProcessing: payments.OpAuthPending}[want.state]
				wantEvents := []payments.Event{
					{PaymentID: p.ID, Op: payments.OpCreate, From: "", To: payments.StateProcessing, ResultCode: protocol.CodePaymentInProcess, At: testNow},
					{PaymentID: p.ID, Op: authOp, From: payments.StateProcessing, To: want.state, ResultCode: want.code, At: testNow},
				}
				if want.state == payments.StateSuccess {
					wantEvents = append(wantEvents,
						payments.Event{PaymentID: p.ID, TxnID: capture.ID, Op: payments.OpCapture, From: payments.StateSuccess, To: payments.StateSuccess, ResultCode: protocol.CodeCaptureInProcess, At: testNow},
						payments.Event{PaymentID: p.ID, TxnID: capture.ID, Op: captureOp, From: payments.StateSuccess, To: payments.StateSuccess, ResultCode: capture.ResultCode, At: testNow})
				}
				if fmt.Sprint(events) != fmt.Sprint(wantEvents) {
					t.Errorf("events\n%v\nwant\n%v", events, wantEvents)
				}

				// The outbox row exists exactly when the payment is final and someone is to be told;
				// a capture that ended (succeeded or failed) adds CAPTURE_RESULT.
				rows := h.store.outboxOf(p.ID)
				final := want.state == payments.StateSuccess || want.state == payments.StateFail
				if !final || nc.wantURL == "" {
					if len(rows) != 0 {
						t.Fatalf("outbox rows %v, want none", rows)
					}
					return
				}
				wantRows := 1
				if wantCapture == payments.CaptureSucceeded || wantCapture == payments.CaptureFailed {
					wantRows = 2
				}
				if len(rows) != wantRows {
					t.Fatalf("%d outbox rows (%v), want %d", len(rows), h.store.notifyTypesOf(p.ID), wantRows)
				}
				row := rows[0]
				if row.URL != nc.wantURL || row.NotifyType != protocol.NotifyTypePaymentResult || row.MerchantID != nc.merchant.ID || !row.CreatedAt.Equal(testNow) || row.Ref != p.ID {
					t.Errorf("outbox row %+v", row)
				}
				if bytes.Contains(row.Body, []byte(pan)) {
					t.Errorf("notification body carries the card number: %s", row.Body)
				}
				var n protocol.NotifyPayment
				if err := json.Unmarshal(row.Body, &n); err != nil {
					t.Fatalf("outbox body: %v", err)
				}
				wantStatus := protocol.StatusSuccess
				if want.state == payments.StateFail {
					wantStatus = protocol.StatusFail
				}
				if n.NotifyType != "PAYMENT_RESULT" || n.Result.ResultCode != string(want.code) || n.Result.ResultStatus != string(wantStatus) {
					t.Errorf("notification %s %+v, want PAYMENT_RESULT %s/%s", n.NotifyType, n.Result, want.code, wantStatus)
				}
				if n.PaymentID != p.ID || n.PaymentRequestID != p.RequestID || *n.PaymentAmount != (protocol.Amount{Currency: "SGD", Value: "4200"}) {
					t.Errorf("notification names %s/%s %+v", n.PaymentID, n.PaymentRequestID, n.PaymentAmount)
				}
				// The notification says what an inquiry would: rendered from the stored payment.
				again, _ := json.Marshal(payments.NotifyPaymentOf(stored))
				if !bytes.Equal(again, row.Body) {
					t.Errorf("outbox body\n%s\ndiffers from the stored payment's notification\n%s", row.Body, again)
				}
				if wantRows == 1 {
					return
				}
				row = rows[1]
				if row.URL != nc.wantURL || row.NotifyType != protocol.NotifyTypeCaptureResult || row.Ref != capture.ID || row.MerchantID != nc.merchant.ID {
					t.Errorf("capture outbox row %+v", row)
				}
				var nc2 protocol.NotifyCapture
				if err := json.Unmarshal(row.Body, &nc2); err != nil {
					t.Fatalf("capture outbox body: %v", err)
				}
				wantCode, wantCaptureStatus := protocol.CodeSuccess, protocol.StatusSuccess
				if wantCapture == payments.CaptureFailed {
					wantCode, wantCaptureStatus = protocol.CodeProcessFail, protocol.StatusFail
				}
				if nc2.NotifyType != "CAPTURE_RESULT" || nc2.Result.ResultCode != string(wantCode) || nc2.Result.ResultStatus != string(wantCaptureStatus) ||
					nc2.CaptureID != capture.ID || nc2.PaymentID != p.ID || nc2.CaptureRequestID != p.RequestID || *nc2.CaptureAmount != (protocol.Amount{Currency: "SGD", Value: "4200"}) {
					t.Errorf("capture notification %+v", nc2)
				}
				if again, _ := json.Marshal(payments.NotifyCaptureOf(stored, capture)); !bytes.Equal(again, row.Body) {
					t.Errorf("capture outbox body\n%s\ndiffers from the stored capture's notification\n%s", row.Body, again)
				}
			})
		}
	}
}

// captureOutcome is where the automatic capture of a pay with pan ends (docs/design.md's test cards):
// 0036 fails every capture, 0028's stays in process for a minute, every other approval captures.
func captureOutcome(pan string, state payments.State) (payments.CaptureState, payments.Op) {
	switch {
	case state != payments.StateSuccess:
		return payments.CaptureNone, ""
	case pan == "4000000000000036":
		return payments.CaptureFailed, payments.OpCaptureFailed
	case pan == "4000000000000028":
		return payments.CaptureProcessing, payments.OpCapturePending
	}
	return payments.CaptureSucceeded, payments.OpCaptureSucceeded
}

func TestPayAcquirerErrorStaysInProcess(t *testing.T) {
	h := newHarness(t)
	h.acq.err = errors.New("connection reset by peer")
	p, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "r1"))
	if err != nil {
		t.Fatalf("Pay: %v (an unknown acquirer outcome is an answer in process, not an error)", err)
	}
	if p.State != payments.StateProcessing || p.AcquirerState != payments.AcquirerPending || p.ResultCode != protocol.CodePaymentInProcess {
		t.Fatalf("payment %s/%s/%s, want PROCESSING/PENDING/PAYMENT_IN_PROCESS", p.State, p.AcquirerState, p.ResultCode)
	}
	if r := payments.PayResponseOf(p).Result; r.ResultStatus != "U" || r.ResultCode != "PAYMENT_IN_PROCESS" {
		t.Errorf("pay answers %+v, want U/PAYMENT_IN_PROCESS (never a fake F)", r)
	}
	if rows := h.store.outboxOf(p.ID); len(rows) != 0 {
		t.Errorf("outbox %v, want nothing before the outcome is known", rows)
	}
	ev := h.store.eventsOf(p.ID)
	if len(ev) != 2 || ev[1].Op != payments.OpAuthPending {
		t.Errorf("events %v, want CREATE then AUTH_PENDING", ev)
	}

	// A replay answers at once from the store; the acquirer is not asked again.
	start := time.Now()
	again, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "r1"))
	if err != nil || again.ID != p.ID || again.State != payments.StateProcessing {
		t.Fatalf("replay = %s %s, %v", again.ID, again.State, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("replay of a pending payment took %v; it should not wait for an answer that is owed later", d)
	}
	if n := h.acq.calls.Load(); n != 1 {
		t.Errorf("Authorize called %d times", n)
	}
}

// TestPayFinishesWhenTheCallerGoesAway: the buyer's HTTP request may be cancelled while the
// acquirer works; the authorization it started must still be recorded, or an approved hold would
// be left with a payment that never learns about it.
func TestPayFinishesWhenTheCallerGoesAway(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.acq.during = cancel
	p, err := h.svc.Pay(ctx, merchantA, payRequest(t, "4242424242424242", "gone"))
	if err != nil {
		t.Fatalf("Pay: %v", err)
	}
	stored, err := h.store.PaymentByID(context.Background(), merchantA.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.State != payments.StateSuccess || stored.AcquirerState != payments.AcquirerAnswered {
		t.Errorf("stored payment %s/%s, want the approval recorded", stored.State, stored.AcquirerState)
	}
	if got := h.store.notifyTypesOf(p.ID); !slices.Equal(got, []string{"PAYMENT_RESULT", "CAPTURE_RESULT"}) {
		t.Errorf("notifications %v: the approval's and the automatic capture's must be written", got)
	}
	if stored.Stage() != payments.StageCaptured {
		t.Errorf("stage %s: the automatic capture did not finish", stored.Stage())
	}
}

func TestPayValidationStoresNothing(t *testing.T) {
	h := newHarness(t)
	for i, pan := range []string{"4242424242424241", "9000000000000001"} {
		_, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, pan, fmt.Sprint("bad-", i)))
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Fatalf("%s: error %v, want a *protocol.Error", pan, err)
		}
	}
	_, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "expired", func(m jsonObj) {
		set(m, meta+".expiryYear", "2025")
	}))
	assertRefused(t, err, protocol.CodeInvalidExpirationDate, meta)
	if n := h.store.count(); n != 0 {
		t.Errorf("%d payments stored after refusals", n)
	}
	if n := h.acq.calls.Load(); n != 0 {
		t.Errorf("Authorize called %d times for refused requests", n)
	}
	_, err = h.svc.Inquire(context.Background(), merchantA, &protocol.InquiryPaymentRequest{PaymentRequestID: "expired"})
	assertRefused(t, err, protocol.CodeOrderNotExist, "")
}

func TestPayIdempotency(t *testing.T) {
	const pan = "4242424242424242"
	tests := []struct {
		name       string
		mutate     func(m jsonObj)
		inconsists bool
	}{
		{"identical replay", func(jsonObj) {}, false},
		{"other fields ignored", func(m jsonObj) {
			set(m, meta+".cvv", "999")
			set(m, meta+".expiryYear", "2031")
			set(m, meta+".cardholderName.firstName", "Someone")
			set(m, "order.orderDescription", "another description")
			set(m, "order.referenceOrderId", "another order")
			set(m, "paymentNotifyUrl", "https://elsewhere.example/n")
			set(m, "paymentFactor.captureMode", "AUTOMATIC")
		}, false},
		{"different amount", func(m jsonObj) { set(m, "paymentAmount.value", "4201") }, true},
		{"different currency", func(m jsonObj) { set(m, "paymentAmount.currency", "USD") }, true},
		{"different card", func(m jsonObj) { set(m, meta+".cardNo", "5555555555554444") }, true},
		{"different capture mode", func(m jsonObj) { set(m, "paymentFactor.captureMode", "MANUAL") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			first, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, pan, "idem"))
			if err != nil {
				t.Fatal(err)
			}
			again, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, pan, "idem", tt.mutate))
			if tt.inconsists {
				assertRefused(t, err, protocol.CodeRepeatReqInconsistent, "idem")
			} else {
				if err != nil {
					t.Fatalf("replay: %v", err)
				}
				if fmt.Sprintf("%+v", again) != fmt.Sprintf("%+v", first) {
					t.Errorf("replay returned\n%+v\nwant the first payment\n%+v", again, first)
				}
			}
			if h.store.count() != 1 || h.acq.calls.Load() != 1 {
				t.Errorf("%d payments, %d authorizations; want 1 and 1", h.store.count(), h.acq.calls.Load())
			}
			if len(h.store.outboxOf(first.ID)) != 2 || len(h.store.eventsOf(first.ID)) != 4 {
				t.Errorf("a replay wrote events or notifications: %v, %v", h.store.opsOf(first.ID), h.store.notifyTypesOf(first.ID))
			}
		})
	}
}

func TestPayReplayOfDecline(t *testing.T) {
	h := newHarness(t)
	first, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4000000000000002", "declined"))
	if err != nil || first.State != payments.StateFail {
		t.Fatalf("first pay %s, %v", first.State, err)
	}
	again, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4000000000000002", "declined"))
	if err != nil || again.ID != first.ID || again.State != payments.StateFail || again.ResultCode != protocol.CodeDoNotHonor {
		t.Fatalf("replay %s %s %s, %v", again.ID, again.State, again.ResultCode, err)
	}
	if h.acq.calls.Load() != 1 {
		t.Errorf("a declined request was sent to the acquirer again")
	}
}

func TestPayRequestIDIsPerMerchant(t *testing.T) {
	h := newHarness(t)
	a, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "shared-id"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.svc.Pay(context.Background(), merchantB, payRequest(t, "5555555555554444", "shared-id"))
	if err != nil {
		t.Fatalf("merchant B reusing merchant A's request id: %v", err)
	}
	if a.ID == b.ID || b.MerchantID != merchantB.ID || h.store.count() != 2 {
		t.Errorf("payments %s (%s) and %s (%s)", a.ID, a.MerchantID, b.ID, b.MerchantID)
	}
}

func TestPayConcurrentDuplicates(t *testing.T) {
	h := newHarness(t)
	h.acq.delay = 100 * time.Millisecond
	const n = 50
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]payments.Payment, n)
		errs    = make([]error, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "race"))
		}()
	}
	close(start)
	wg.Wait()
	if c := h.acq.calls.Load(); c != 1 {
		t.Errorf("Authorize called %d times, want 1", c)
	}
	if c := h.store.count(); c != 1 {
		t.Errorf("%d payments stored, want 1", c)
	}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("pay %d: %v", i, errs[i])
			continue
		}
		if results[i].ID != results[0].ID {
			t.Errorf("pay %d got payment %s, pay 0 got %s", i, results[i].ID, results[0].ID)
		}
		// The duplicates wait for the first answer (DuplicateWait 5 s > the acquirer's 100 ms).
		if results[i].State != payments.StateSuccess {
			t.Errorf("pay %d answered %s, want SUCCESS", i, results[i].State)
		}
	}
	if len(h.store.outboxOf(results[0].ID)) != 2 || len(h.store.eventsOf(results[0].ID)) != 4 {
		t.Errorf("duplicates wrote events or notifications: %v, %v", h.store.opsOf(results[0].ID), h.store.notifyTypesOf(results[0].ID))
	}
	if n := h.acq.captures.Load(); n != 1 {
		t.Errorf("Capture called %d times, want 1", n)
	}
}

func TestInquire(t *testing.T) {
	h := newHarness(t)
	p, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4000000000000002", "inq"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	found := []*protocol.InquiryPaymentRequest{
		{PaymentID: p.ID},
		{PaymentRequestID: "inq"},
		{PaymentID: p.ID, PaymentRequestID: "does-not-matter"}, // paymentId wins
	}
	for _, req := range found {
		got, err := h.svc.Inquire(ctx, merchantA, req)
		if err != nil || got.ID != p.ID || got.State != payments.StateFail || got.ResultCode != protocol.CodeDoNotHonor {
			t.Errorf("Inquire(%+v) = %s %s %s, %v", req, got.ID, got.State, got.ResultCode, err)
		}
	}
	notFound := []struct {
		m   payments.Merchant
		req *protocol.InquiryPaymentRequest
	}{
		{merchantA, &protocol.InquiryPaymentRequest{PaymentID: "20260515000000000000000000000000000"}},
		{merchantA, &protocol.InquiryPaymentRequest{PaymentRequestID: "unknown"}},
		{merchantA, &protocol.InquiryPaymentRequest{PaymentID: "unknown", PaymentRequestID: "inq"}},
		{merchantB, &protocol.InquiryPaymentRequest{PaymentID: p.ID}},
		{merchantB, &protocol.InquiryPaymentRequest{PaymentRequestID: "inq"}},
	}
	for _, c := range notFound {
		_, err := h.svc.Inquire(ctx, c.m, c.req)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeOrderNotExist {
			t.Errorf("Inquire(%s, %+v) error = %v, want ORDER_NOT_EXIST", c.m.ID, c.req, err)
		}
	}
	_, err = h.svc.Inquire(ctx, merchantA, &protocol.InquiryPaymentRequest{})
	assertRefused(t, err, protocol.CodeParamIllegal, "paymentId")
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestRenderApproved(t *testing.T) {
	h := newHarness(t)
	p, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "ok"))
	if err != nil || p.State != payments.StateSuccess {
		t.Fatalf("pay %s, %v", p.State, err)
	}
	wantTime := protocol.FormatTime(testNow)
	wantExpiry := protocol.FormatTime(testNow.Add(7 * 24 * time.Hour))
	wantAmount := protocol.Amount{Currency: "SGD", Value: "4200"}

	pr := payments.PayResponseOf(p)
	if pr.Result != protocol.SuccessResult() {
		t.Errorf("pay result %+v", pr.Result)
	}
	if pr.PaymentID != p.ID || pr.PaymentRequestID != "ok" || *pr.PaymentAmount != wantAmount || pr.PaymentCreateTime != wantTime {
		t.Errorf("pay response %+v", pr)
	}
	checkTimes(t, "pay", pr.PaymentTime, pr.AuthExpiryTime, wantTime, wantExpiry)
	checkResultInfo(t, pr.PaymentResultInfo, "4242424242424242")
	if pr.PaymentResultInfo.CVVResultRaw != "Y" || pr.PaymentResultInfo.AVSResultRaw != "U" {
		t.Errorf("AVS %q CVV %q, want U (no billing address) and Y", pr.PaymentResultInfo.AVSResultRaw, pr.PaymentResultInfo.CVVResultRaw)
	}
	if pr.AcquirerInfo == nil || pr.AcquirerInfo.AcquirerName != "SIMULATOR" || pr.AcquirerInfo.ReferenceRequestID != p.ID {
		t.Errorf("acquirerInfo %+v", pr.AcquirerInfo)
	}

	ir := payments.InquiryResponseOf(p, nil)
	if ir.Result != protocol.SuccessResult() || ir.PaymentStatus != "SUCCESS" || ir.PaymentResultCode != "SUCCESS" {
		t.Errorf("inquiry %+v / %s / %s", ir.Result, ir.PaymentStatus, ir.PaymentResultCode)
	}
	if ir.PaymentMethodType != "CARD" || ir.ActualPaymentAmount == nil || *ir.ActualPaymentAmount != wantAmount {
		t.Errorf("inquiry method %q, actual amount %+v", ir.PaymentMethodType, ir.ActualPaymentAmount)
	}
	checkTimes(t, "inquiry", ir.PaymentTime, ir.AuthExpiryTime, wantTime, wantExpiry)
	checkResultInfo(t, ir.PaymentResultInfo, "4242424242424242")
	if ir.CardInfo == nil || ir.CardInfo.CardNo != "************4242" || ir.CardInfo.CardBrand != "VISA" || ir.CardInfo.IssuingCountry != "US" {
		t.Errorf("cardInfo %+v", ir.CardInfo)
	}

	n := payments.NotifyPaymentOf(p)
	if n.NotifyType != "PAYMENT_RESULT" || n.Result != protocol.SuccessResult() || n.PaymentID != p.ID {
		t.Errorf("notification %s %+v %s", n.NotifyType, n.Result, n.PaymentID)
	}
	checkTimes(t, "notification", n.PaymentTime, n.AuthExpiryTime, wantTime, wantExpiry)
	checkResultInfo(t, n.PaymentResultInfo, "4242424242424242")

	for _, v := range []any{pr, ir, n} {
		b, _ := json.Marshal(v)
		if bytes.Contains(b, []byte("4242424242424242")) || bytes.Contains(b, []byte("424242424242")) {
			t.Errorf("%T carries the card number: %s", v, b)
		}
	}
}

func TestRenderDeclined(t *testing.T) {
	h := newHarness(t)
	p, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4000000000009995", "no", func(m jsonObj) {
		set(m, meta+".billingAddress", jsonObj{"address1": "1 Main Street", "zipCode": "018956", "region": "SG"})
	}))
	if err != nil || p.State != payments.StateFail {
		t.Fatalf("pay %s, %v", p.State, err)
	}
	pr := payments.PayResponseOf(p)
	if pr.Result.ResultCode != "USER_BALANCE_NOT_ENOUGH" || pr.Result.ResultStatus != "F" || pr.Result.ResultMessage == "" {
		t.Errorf("pay result %+v", pr.Result)
	}
	checkTimes(t, "pay", pr.PaymentTime, pr.AuthExpiryTime, "", "")
	checkResultInfo(t, pr.PaymentResultInfo, "4000000000009995")
	if pr.PaymentResultInfo.AVSResultRaw != "Y" || pr.PaymentResultInfo.RefusalCodeRaw != "USER_BALANCE_NOT_ENOUGH" {
		t.Errorf("AVS %q, refusal %q", pr.PaymentResultInfo.AVSResultRaw, pr.PaymentResultInfo.RefusalCodeRaw)
	}

	ir := payments.InquiryResponseOf(p, nil)
	if ir.Result != protocol.SuccessResult() {
		t.Errorf("inquiry result %+v: the query itself worked", ir.Result)
	}
	if ir.PaymentStatus != "FAIL" || ir.PaymentResultCode != "USER_BALANCE_NOT_ENOUGH" || ir.ActualPaymentAmount != nil {
		t.Errorf("inquiry %s / %s / actual %+v", ir.PaymentStatus, ir.PaymentResultCode, ir.ActualPaymentAmount)
	}
	checkTimes(t, "inquiry", ir.PaymentTime, ir.AuthExpiryTime, "", "")

	n := payments.NotifyPaymentOf(p)
	if n.Result.ResultCode != "USER_BALANCE_NOT_ENOUGH" || n.Result.ResultStatus != "F" {
		t.Errorf("notification result %+v", n.Result)
	}
	checkTimes(t, "notification", n.PaymentTime, n.AuthExpiryTime, "", "")
}

func TestRenderInProcess(t *testing.T) {
	h := newHarness(t)
	p, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4000000000000119", "slow"))
	if err != nil || p.State != payments.StateProcessing {
		t.Fatalf("pay %s, %v", p.State, err)
	}
	pr := payments.PayResponseOf(p)
	if pr.Result.ResultCode != "PAYMENT_IN_PROCESS" || pr.Result.ResultStatus != "U" || pr.NormalURL != "" {
		t.Errorf("pay result %+v, normalUrl %q", pr.Result, pr.NormalURL)
	}
	checkTimes(t, "pay", pr.PaymentTime, pr.AuthExpiryTime, "", "")
	ir := payments.InquiryResponseOf(p, nil)
	if ir.PaymentStatus != "PROCESSING" || ir.PaymentResultCode != "PAYMENT_IN_PROCESS" {
		t.Errorf("inquiry %s / %s", ir.PaymentStatus, ir.PaymentResultCode)
	}
	if ri := pr.PaymentResultInfo; ri != nil && (ri.AVSResultRaw != "" || ri.CVVResultRaw != "" || ri.AuthorizationCode != "") {
		t.Errorf("an unanswered authorization shows check results: %+v", ri)
	}
}

// TestRenderMaskingEveryBrand: cardNo is '*' × (length − 4) + the last four, cardBin the first six,
// for every card length the sandbox has (14 Diners, 15 Amex, 16 the rest).
func TestRenderMaskingEveryBrand(t *testing.T) {
	for _, pan := range []string{"4242424242424242", "5555555555554444", "378282246310005", "3566002020360505", "6011111111111117", "36227206271667", "6200000000000005"} {
		h := newHarness(t)
		p, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, pan, "mask"))
		if err != nil {
			t.Fatalf("%s: %v", pan, err)
		}
		checkResultInfo(t, payments.PayResponseOf(p).PaymentResultInfo, pan)
		if got, want := payments.InquiryResponseOf(p, nil).CardInfo.CardNo, strings.Repeat("*", len(pan)-4)+pan[len(pan)-4:]; got != want {
			t.Errorf("cardInfo.cardNo = %q, want %q", got, want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pay := func(m payments.Merchant, pan, id string) string {
		t.Helper()
		p, err := h.svc.Pay(ctx, m, payRequest(t, pan, id))
		if err != nil {
			t.Fatal(err)
		}
		fp := payments.PayResponseOf(p).PaymentResultInfo.Fingerprint
		if !hex64.MatchString(fp) {
			t.Fatalf("fingerprint %q is not 64 hex characters", fp)
		}
		if payments.InquiryResponseOf(p, nil).PaymentResultInfo.Fingerprint != fp || payments.NotifyPaymentOf(p).PaymentResultInfo.Fingerprint != fp {
			t.Errorf("pay, inquiry and notification disagree on the fingerprint")
		}
		return fp
	}
	a1 := pay(merchantA, "4242424242424242", "f1")
	a2 := pay(merchantA, "4242424242424242", "f2")
	a3 := pay(merchantA, "5555555555554444", "f3")
	b1 := pay(merchantB, "4242424242424242", "f1")
	if a1 != a2 {
		t.Errorf("one card, one merchant: fingerprints %s and %s differ", a1, a2)
	}
	if a1 == a3 {
		t.Errorf("two cards share fingerprint %s", a1)
	}
	if a1 == b1 {
		t.Errorf("one card has fingerprint %s at two merchants", a1)
	}
	if _, err := hex.DecodeString(a1); err != nil {
		t.Error(err)
	}
}

func checkTimes(t *testing.T, what, paymentTime, authExpiry, wantTime, wantExpiry string) {
	t.Helper()
	if paymentTime != wantTime || authExpiry != wantExpiry {
		t.Errorf("%s: paymentTime %q, authExpiryTime %q; want %q, %q", what, paymentTime, authExpiry, wantTime, wantExpiry)
	}
	if wantTime == "" {
		return
	}
	pt, err1 := time.Parse(protocol.WireTimeLayout, paymentTime)
	ae, err2 := time.Parse(protocol.WireTimeLayout, authExpiry)
	if err1 != nil || err2 != nil || ae.Sub(pt) != 7*24*time.Hour {
		t.Errorf("%s: authExpiryTime %s is not paymentTime %s + 7 days (%v, %v)", what, authExpiry, paymentTime, err1, err2)
	}
}

func checkResultInfo(t *testing.T, ri *protocol.PaymentResultInfo, pan string) {
	t.Helper()
	if ri == nil {
		t.Fatal("no paymentResultInfo")
	}
	if want := strings.Repeat("*", len(pan)-4) + pan[len(pan)-4:]; ri.CardNo != want {
		t.Errorf("cardNo = %q, want %q", ri.CardNo, want)
	}
	if ri.CardBin != pan[:6] || ri.LastFour != pan[len(pan)-4:] {
		t.Errorf("cardBin %q, lastFour %q for %s", ri.CardBin, ri.LastFour, pan[len(pan)-4:])
	}
	if !hex64.MatchString(ri.Fingerprint) {
		t.Errorf("fingerprint %q is not 64 hex characters", ri.Fingerprint)
	}
	if ri.ExpiryMonth != "12" || ri.ExpiryYear != "30" || ri.HoldName != "Alan Wallex" {
		t.Errorf("expiry %s/%s, holder %q", ri.ExpiryMonth, ri.ExpiryYear, ri.HoldName)
	}
}

// TestPayReplayAfterExpiryTimePassed: a replay is judged as of the original request, so a
// paymentExpiryTime that has passed since does not turn the payment's answer into PARAM_ILLEGAL.
func TestPayReplayAfterExpiryTimePassed(t *testing.T) {
	h := newHarness(t)
	withExpiry := func(m jsonObj) {
		set(m, "paymentExpiryTime", testNow.Add(10*time.Minute).Format(time.RFC3339))
	}
	first, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "expiring", withExpiry))
	if err != nil || first.State != payments.StateSuccess {
		t.Fatalf("first pay %s, %v", first.State, err)
	}
	h.clock.Advance(time.Hour)
	again, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "expiring", withExpiry))
	if err != nil || again.ID != first.ID || again.State != payments.StateSuccess {
		t.Fatalf("replay %s %s, %v", again.ID, again.State, err)
	}
	// A new request with the same passed expiry is refused.
	if _, err := h.svc.Pay(context.Background(), merchantA, payRequest(t, "4242424242424242", "fresh", withExpiry)); err == nil {
		t.Fatal("a new pay with a past paymentExpiryTime was accepted")
	}
}
