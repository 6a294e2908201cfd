package payments_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// TestStateOperationTable drives every cell of the stage × operation table through the payments
// service on a real SQLite store: each stage is reached the way a merchant reaches it (test cards,
// MANUAL capture, cancel, the clock moved past paymentExpiryTime or authExpiryTime), then one
// merchant operation (capture, cancel, refund) or one piece of time-driven work (expire, auto-void,
// the timeout card's late answer, the processing capture's result) is applied once it is due. Each
// cell asserts the resulting stage and state, the event rows and outbox rows it wrote, and the
// answer: the wire code of an accepted operation, or of a refused one, which writes nothing.
func TestStateOperationTable(t *testing.T) {
	for _, stage := range stageOrder {
		for _, op := range opOrder {
			want, ok := table[stage][op]
			if !ok {
				t.Fatalf("test table bug: no cell for %s × %s", stage, op)
			}
			t.Run(stage+"/"+op, func(t *testing.T) {
				t.Parallel()
				runCell(t, stage, op, want)
			})
		}
	}
}

// cell is what one operation does to a payment in one stage.
type cell struct {
	stage  payments.Stage // after the operation
	state  payments.State
	events []string // the ops of the new payment_events rows, in order
	outbox []string // the new outbox rows, as notifyType:resultCode
	// answer is the wire code the merchant gets (accepted or refused); "" for time-driven work.
	answer  string
	refused bool
}

// The shorthand of the table.
func refused(code protocol.Code) cell { return cell{answer: string(code), refused: true} }

var noop = cell{} // time-driven work that is not due in this stage: nothing happens

func to(stage payments.Stage, state payments.State, answer string, events []string, outbox ...string) cell {
	return cell{stage: stage, state: state, answer: answer, events: events, outbox: outbox}
}

func evs(ops ...string) []string { return ops }

const (
	stProcessingTimeout  = "PROCESSING(timeout-card)"
	stProcessingNoAnswer = "PROCESSING(never-answering-card)"
	stAuthorized         = "AUTHORIZED"
	stAuthorizedCaptFail = "AUTHORIZED(capture-failed)"
	stCapturing          = "CAPTURING"
	stCaptured           = "CAPTURED"
	stDeclined           = "DECLINED"
	stExpired            = "EXPIRED"
	stCancelled          = "CANCELLED"
	stVoided             = "VOIDED"

	opCapture       = "capture"
	opCancel        = "cancel"
	opRefund        = "refund"
	opExpire        = "expire(+15m)"
	opAutoVoid      = "auto-void(+7d1m)"
	opSettle        = "late-answer(+5s)"
	opCaptureStatus = "capture-result(+1m)"
)

var (
	stageOrder = []string{stProcessingTimeout, stProcessingNoAnswer, stAuthorized, stAuthorizedCaptFail, stCapturing,
		stCaptured, stDeclined, stExpired, stCancelled, stVoided}
	opOrder = []string{opCapture, opCancel, opRefund, opExpire, opAutoVoid, opSettle, opCaptureStatus}
)

const (
	S        = "SUCCESS"
	osi      = protocol.CodeOrderStatusInvalid
	canceled = protocol.CodeOrderIsCanceled
	multi    = protocol.CodeMultiCaptureNotSupported
)

// table is docs/design.md ("State machine", "Answer codes after authorization", "The sandbox test
// cards") written out cell by cell. Every payment is MANUAL capture except CAPTURED (AUTOMATIC),
// and notifies https://shop.example/notify. Cancel and the auto-void notify nothing; a closed
// payment whose authorization the acquirer holds (or may still grant) is voided there at once
// (VOID_SENT).
var table = map[string]map[string]cell{
	stProcessingTimeout: {
		opCapture:       refused(osi),
		opCancel:        to(payments.StageCancelled, payments.StateCancelled, S, evs("CANCEL", "VOID_SENT")),
		opRefund:        refused(osi),
		opExpire:        to(payments.StageExpired, payments.StateFail, "", evs("EXPIRE", "VOID_SENT"), "PAYMENT_RESULT:ORDER_IS_CLOSED"),
		opAutoVoid:      noop, // nothing to void before an authorization (the expiry is a separate cell)
		opSettle:        to(payments.StageAuthorized, payments.StateSuccess, "", evs("AUTH_APPROVED"), "PAYMENT_RESULT:SUCCESS"),
		opCaptureStatus: noop,
	},
	stProcessingNoAnswer: {
		opCapture:       refused(osi),
		opCancel:        to(payments.StageCancelled, payments.StateCancelled, S, evs("CANCEL", "VOID_SENT")),
		opRefund:        refused(osi),
		opExpire:        to(payments.StageExpired, payments.StateFail, "", evs("EXPIRE", "VOID_SENT"), "PAYMENT_RESULT:ORDER_IS_CLOSED"),
		opAutoVoid:      noop,
		opSettle:        noop, // the acquirer never answers: nothing to ask
		opCaptureStatus: noop,
	},
	stAuthorized: {
		opCapture:       to(payments.StageCaptured, payments.StateSuccess, S, evs("CAPTURE", "CAPTURE_SUCCEEDED"), "CAPTURE_RESULT:SUCCESS"),
		opCancel:        to(payments.StageCancelled, payments.StateCancelled, S, evs("CANCEL", "VOID_SENT")),
		opRefund:        refused(osi),
		opExpire:        noop,
		opAutoVoid:      to(payments.StageVoided, payments.StateCancelled, "", evs("AUTO_VOID", "VOID_SENT")),
		opSettle:        noop,
		opCaptureStatus: noop,
	},
	stAuthorizedCaptFail: {
		// 4000000000000036: every capture fails PROCESS_FAIL; the authorization stays.
		opCapture:       to(payments.StageAuthorized, payments.StateSuccess, string(protocol.CodeProcessFail), evs("CAPTURE", "CAPTURE_FAILED"), "CAPTURE_RESULT:PROCESS_FAIL"),
		opCancel:        to(payments.StageCancelled, payments.StateCancelled, S, evs("CANCEL", "VOID_SENT")),
		opRefund:        refused(osi),
		opExpire:        noop,
		opAutoVoid:      to(payments.StageVoided, payments.StateCancelled, "", evs("AUTO_VOID", "VOID_SENT")),
		opSettle:        noop,
		opCaptureStatus: noop, // the failed capture is final
	},
	stCapturing: {
		// 4000000000000028: the capture stays in process until the clock moves 1 minute.
		opCapture:       refused(multi),
		opCancel:        refused(osi),
		opRefund:        refused(osi),
		opExpire:        noop,
		opAutoVoid:      noop, // a capture is under way: nothing to void
		opSettle:        noop,
		opCaptureStatus: to(payments.StageCaptured, payments.StateSuccess, "", evs("CAPTURE_SUCCEEDED"), "CAPTURE_RESULT:SUCCESS"),
	},
	stCaptured: {
		opCapture:       refused(multi),
		opCancel:        refused(osi),
		opRefund:        to(payments.StageCaptured, payments.StateSuccess, S, evs("REFUND", "REFUND_SUCCEEDED"), "REFUND_RESULT:SUCCESS"),
		opExpire:        noop,
		opAutoVoid:      noop,
		opSettle:        noop,
		opCaptureStatus: noop,
	},
	stDeclined: {
		opCapture:       refused(osi),
		opCancel:        refused(osi),
		opRefund:        refused(osi),
		opExpire:        noop,
		opAutoVoid:      noop,
		opSettle:        noop,
		opCaptureStatus: noop,
	},
	stExpired: {
		opCapture:       refused(osi),
		opCancel:        refused(osi),
		opRefund:        refused(osi),
		opExpire:        noop,
		opAutoVoid:      noop,
		opSettle:        noop,
		opCaptureStatus: noop,
	},
	stCancelled: {
		opCapture:       refused(canceled),
		opCancel:        to(payments.StageCancelled, payments.StateCancelled, S, evs()), // idempotent
		opRefund:        refused(canceled),
		opExpire:        noop,
		opAutoVoid:      noop,
		opSettle:        noop,
		opCaptureStatus: noop,
	},
	stVoided: {
		opCapture:       refused(protocol.CodeAuthExpired),
		opCancel:        to(payments.StageVoided, payments.StateCancelled, S, evs()), // already cancelled
		opRefund:        refused(canceled),
		opExpire:        noop,
		opAutoVoid:      noop,
		opSettle:        noop,
		opCaptureStatus: noop,
	},
}

// reach brings a new payment to a stage the way a merchant would, and checks it got there.
func reach(t *testing.T, e *env, stage string) payments.Payment {
	t.Helper()
	const manual, auto = payments.CaptureManual, payments.CaptureAutomatic
	var (
		p    payments.Payment
		want payments.Stage
	)
	switch stage {
	case stProcessingTimeout:
		p, want = e.pay(t, "4000000000000119", "pay-1", manual), payments.StageProcessing
	case stProcessingNoAnswer:
		p, want = e.pay(t, "4000000000000044", "pay-1", manual), payments.StageProcessing
	case stAuthorized:
		p, want = e.pay(t, "4242424242424242", "pay-1", manual), payments.StageAuthorized
	case stAuthorizedCaptFail:
		p = e.pay(t, "4000000000000036", "pay-1", manual)
		tx, _, err := e.capture(p, "cap-1")
		if err != nil || tx.Status != payments.TxnFailed || tx.ResultCode != protocol.CodeProcessFail {
			t.Fatalf("first capture of 0036: %+v, %v", tx, err)
		}
		want = payments.StageAuthorized
	case stCapturing:
		p = e.pay(t, "4000000000000028", "pay-1", manual)
		tx, _, err := e.capture(p, "cap-1")
		if err != nil || tx.Status != payments.TxnProcessing {
			t.Fatalf("capture of 0028: %+v, %v", tx, err)
		}
		want = payments.StageCapturing
	case stCaptured:
		p, want = e.pay(t, "4242424242424242", "pay-1", auto), payments.StageCaptured
	case stDeclined:
		p, want = e.pay(t, "4000000000000002", "pay-1", manual), payments.StageDeclined
	case stExpired:
		p = e.pay(t, "4000000000000044", "pay-1", manual)
		e.clk.Advance(payments.DefaultPaymentExpiry + time.Minute)
		e.runDue(t)
		want = payments.StageExpired
	case stCancelled:
		p = e.pay(t, "4242424242424242", "pay-1", manual)
		if _, err := e.cancel(p); err != nil {
			t.Fatal(err)
		}
		want = payments.StageCancelled
	case stVoided:
		p = e.pay(t, "4242424242424242", "pay-1", manual)
		e.clk.Advance(payments.AuthValidity + time.Minute)
		e.runDue(t)
		want = payments.StageVoided
	default:
		t.Fatalf("unknown stage %s", stage)
	}
	p = e.reload(t, p)
	if p.Stage() != want {
		t.Fatalf("set-up of %s reached stage %s", stage, p.Stage())
	}
	return p
}

// dueOp is the time-driven work of an op column: how far the clock moves, and which work runs.
var dueOps = map[string]struct {
	advance time.Duration
	kind    payments.DueKind
}{
	opExpire:        {15 * time.Minute, payments.DueExpire},
	opAutoVoid:      {7*24*time.Hour + time.Minute, payments.DueAutoVoid},
	opSettle:        {5 * time.Second, payments.DueSettle},
	opCaptureStatus: {time.Minute, payments.DueCaptureStatus},
}

func runCell(t *testing.T, stage, op string, want cell) {
	ctx := context.Background()
	e := newEnv(t)
	p := reach(t, e, stage)
	before := p
	if want.stage == "" { // refused, or work that is not due: the payment stays as it was
		want.stage, want.state = before.Stage(), before.State
	}
	m := e.mark(t)

	var (
		answer string
		err    error
		txn    payments.Txn // the capture or refund the operation created or finished
	)
	switch op {
	case opCapture:
		var after payments.Payment
		txn, after, err = e.capture(p, "cap-new")
		if err == nil {
			answer = payments.CaptureResponseOf(after, txn).Result.ResultCode
		}
	case opCancel:
		var after payments.Payment
		after, err = e.cancel(p)
		if err == nil {
			answer = payments.CancelResponseOf(after).Result.ResultCode
		}
	case opRefund:
		var after payments.Payment
		txn, after, err = e.refund(p, "ref-new", "1000")
		if err == nil {
			answer = payments.RefundResponseOf(after, txn).Result.ResultCode
		}
	default:
		d := dueOps[op]
		e.clk.Advance(d.advance)
		items, lerr := e.svc.DueWork(ctx, e.clk.Now(), 100)
		if lerr != nil {
			t.Fatal(lerr)
		}
		work := payments.Due{Kind: d.kind, MerchantID: p.MerchantID, PaymentID: p.ID, At: e.clk.Now()}
		if d.kind == payments.DueCaptureStatus {
			for _, x := range e.txns(t, p) {
				if x.Type == payments.TxnCapture {
					work.TxnID, txn = x.ID, x
				}
			}
		}
		listed := false
		for _, it := range items {
			if it.Kind == d.kind && it.PaymentID == p.ID {
				listed, work = true, it
			}
		}
		// The due-work query lists exactly the work that does something.
		if changes := len(want.events) > 0; listed != changes {
			t.Errorf("DueWork listed %s: %v; the cell changes the payment: %v (listed %+v)", d.kind, listed, changes, items)
		}
		// Work that is not (or no longer) due is skipped, so running it anyway is harmless. (A
		// payment without a capture has no capture to ask about.)
		if d.kind != payments.DueCaptureStatus || work.TxnID != "" {
			if err := e.svc.RunDue(ctx, work); err != nil {
				t.Fatalf("RunDue(%s): %v", d.kind, err)
			}
		}
	}

	// The answer.
	if want.refused {
		if err == nil {
			t.Fatalf("%s in %s was accepted (answer %s), want %s", op, stage, answer, want.answer)
		}
		if got := code(err); got != want.answer {
			t.Fatalf("%s in %s refused with %s (%v), want %s", op, stage, got, err, want.answer)
		}
		if r := protocol.ResultOf(err); r.ResultStatus != "F" {
			t.Errorf("refusal %s has status %s, want F", r.ResultCode, r.ResultStatus)
		}
	} else {
		if err != nil {
			t.Fatalf("%s in %s: %v (wire %s), want %s", op, stage, err, code(err), want.answer)
		}
		if answer != want.answer {
			t.Errorf("%s in %s answered %q, want %q", op, stage, answer, want.answer)
		}
	}

	// The payment.
	after := e.reload(t, p)
	if after.Stage() != want.stage || after.State != want.state {
		t.Errorf("stage %s / %s, want %s / %s", after.Stage(), after.State, want.stage, want.state)
	}
	if len(want.events) == 0 && after.Version != before.Version {
		t.Errorf("version moved from %d to %d without an event", before.Version, after.Version)
	}
	if got := after.Version - before.Version; got != len(want.events) {
		t.Errorf("version moved by %d, want one per event (%d)", got, len(want.events))
	}

	// The rows it wrote.
	events := e.eventsSince(t, m, p.ID)
	if got := ops(events); !slices.Equal(got, want.events) {
		t.Errorf("events %v, want %v", got, want.events)
	}
	for i, ev := range events {
		if ev.to != string(want.state) {
			t.Errorf("event %s goes to %s, want %s", ev.op, ev.to, want.state)
		}
		if i == 0 && ev.from != string(before.State) {
			t.Errorf("event %s comes from %s, want %s", ev.op, ev.from, before.State)
		}
		isTxnOp := slices.Contains([]string{"CAPTURE", "CAPTURE_SUCCEEDED", "CAPTURE_FAILED", "REFUND", "REFUND_SUCCEEDED"}, ev.op)
		if isTxnOp && (txn.ID == "" || ev.txnID != txn.ID) {
			t.Errorf("event %s names transaction %q, want %q", ev.op, ev.txnID, txn.ID)
		}
	}
	rows := e.outboxSince(t, m, p.ID)
	var got []string
	for _, r := range rows {
		var body struct {
			Result protocol.Result `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil {
			t.Fatalf("outbox body %s: %v", r.body, err)
		}
		got = append(got, r.notifyType+":"+body.Result.ResultCode)
		if r.url != notifyURL {
			t.Errorf("%s goes to %q", r.notifyType, r.url)
		}
		wantRef := p.ID
		if r.notifyType != protocol.NotifyTypePaymentResult {
			wantRef = txn.ID
		}
		if r.ref != wantRef {
			t.Errorf("%s is about %q, want %q", r.notifyType, r.ref, wantRef)
		}
	}
	if !slices.Equal(got, want.outbox) {
		t.Errorf("outbox %v, want %v", got, want.outbox)
	}
	after2 := e.mark(t)
	if want.refused || len(want.events) == 0 {
		if after2 != m {
			t.Errorf("rows moved from %+v to %+v; a refusal (or work not due) writes nothing", m, after2)
		}
	}
	if after2.payments != 1 {
		t.Errorf("%d payments in the store", after2.payments)
	}
}

// TestTableCoversEveryStage: the table's rows reach every stage a payment can be in.
func TestTableCoversEveryStage(t *testing.T) {
	reached := map[payments.Stage]bool{payments.StageNew: true} // "new" has no payment to act on
	stageOf := map[string]payments.Stage{
		stProcessingTimeout: payments.StageProcessing, stProcessingNoAnswer: payments.StageProcessing,
		stAuthorized: payments.StageAuthorized, stAuthorizedCaptFail: payments.StageAuthorized, stCapturing: payments.StageCapturing,
		stCaptured: payments.StageCaptured, stDeclined: payments.StageDeclined, stExpired: payments.StageExpired,
		stCancelled: payments.StageCancelled, stVoided: payments.StageVoided,
	}
	for _, s := range stageOrder {
		reached[stageOf[s]] = true
	}
	for _, s := range payments.Stages {
		if !reached[s] {
			t.Errorf("no row of the table is in stage %s", s)
		}
	}
}
