package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
)

var notifyErrNotFound = notify.ErrNotFound

// Notice writes a payment of merchant m and its PAYMENT_RESULT notification, due at at, and
// returns the message.
func Notice(t *testing.T, s store.Store, m merchant.Merchant, paymentID string, at time.Time) notify.Message {
	t.Helper()
	p := mustCreate(t, s, NewPayment(m, paymentID, "R-"+paymentID))
	c := change(p, approved(p), payments.OpAuthApproved)
	c.Outbox = &payments.OutboxMessage{MerchantID: m.ClientID, PaymentID: paymentID, NotifyType: "PAYMENT_RESULT", Ref: paymentID,
		URL: "https://m.example/notify?x=1", Body: []byte(`{"paymentId":"` + paymentID + `","result":{"resultStatus":"S"}}`), CreatedAt: at}
	mustApply(t, s, c)
	msgs, err := s.Messages(ctx, m.ClientID, paymentID)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("messages of %s: %v %v", paymentID, msgs, err)
	}
	return msgs[0]
}

func ids(msgs []notify.Message) []int64 {
	out := []int64{}
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

func message(t *testing.T, s store.Store, m notify.Message) notify.Message {
	t.Helper()
	got, err := s.Message(ctx, m.MerchantID, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// testOutboxOneMessagePerResult: invariant 5 — one notification per result, and a change that
// would write a second one is refused whole.
func testOutboxOneMessagePerResult(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	msg := Notice(t, s, m, "P1", T0)
	same(t, "message", msg, notify.Message{ID: msg.ID, MerchantID: m.ClientID, PaymentID: "P1", NotifyType: "PAYMENT_RESULT", Ref: "P1",
		URL: "https://m.example/notify?x=1", Body: []byte(`{"paymentId":"P1","result":{"resultStatus":"S"}}`), Status: notify.StatusPending,
		NextAttemptAt: T0, CreatedAt: T0})
	same(t, "Message", message(t, s, msg), msg)
	p, err := s.PaymentByID(ctx, m.ClientID, "P1")
	if err != nil {
		t.Fatal(err)
	}
	before := counts(t, s)
	c := change(p, p, payments.OpAuthApproved)
	c.Outbox = &payments.OutboxMessage{MerchantID: m.ClientID, PaymentID: "P1", NotifyType: "PAYMENT_RESULT", Ref: "P1", URL: "https://m.example/n", Body: []byte(`{}`), CreatedAt: T0}
	if err := s.Apply(ctx, c); err == nil {
		t.Fatal("a second PAYMENT_RESULT for one payment was stored")
	}
	if after := counts(t, s); after != before {
		t.Fatalf("the refused change wrote rows: %s, before %s", after, before)
	}
	// Another type about the same payment is another message; Messages lists them oldest first.
	c.Outbox.NotifyType = "CAPTURE_RESULT"
	mustApply(t, s, c)
	msgs, err := s.Messages(ctx, m.ClientID, "P1")
	if err != nil || len(msgs) != 2 || msgs[0].ID != msg.ID || msgs[1].NotifyType != "CAPTURE_RESULT" {
		t.Fatalf("messages: %+v %v", msgs, err)
	}
	_, err = s.Message(ctx, m.ClientID, 1<<40)
	wantErr(t, "unknown message", err, notify.ErrNotFound)
}

func testOutboxClaimDue(t *testing.T, s store.Store) {
	a := Sandbox(t, s)
	b := Other(t, s, "OTHER_B")
	a1 := Notice(t, s, a, "A1", T0)
	b1 := Notice(t, s, b, "B1", T0.Add(30*time.Second))
	a2 := Notice(t, s, a, "A2", T0.Add(time.Minute))
	a3 := Notice(t, s, a, "A3", T0.Add(10*time.Minute)) // not due by T0+5m
	due := T0.Add(5 * time.Minute)
	wall := time.Now()
	lease := wall.Add(time.Minute)

	listed, err := s.DueMessages(ctx, due, 10)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "due messages", ids(listed), []int64{a1.ID, b1.ID, a2.ID})
	if listed, _ = s.DueMessages(ctx, due, 2); !slices.Equal(ids(listed), []int64{a1.ID, b1.ID}) {
		t.Fatalf("due messages, limit 2: %v", ids(listed))
	}

	// A busy merchant's messages stay where they are.
	got, err := s.ClaimDue(ctx, due, wall, lease, 10, []string{a.ClientID})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "claimed with A busy", ids(got), []int64{b1.ID})
	// Leased messages are not claimed again; the limit holds; earliest first.
	if got, err = s.ClaimDue(ctx, due, wall, lease, 1, nil); err != nil {
		t.Fatal(err)
	}
	same(t, "claimed, limit 1", ids(got), []int64{a1.ID})
	same(t, "the claimed message", got[0], a1)
	if got, err = s.ClaimDue(ctx, due, wall, lease, 10, []string{}); err != nil {
		t.Fatal(err)
	}
	same(t, "claimed the rest", ids(got), []int64{a2.ID})
	if got, err = s.ClaimDue(ctx, due, wall, lease, 10, nil); err != nil || len(got) != 0 {
		t.Fatalf("everything due is leased, yet claimed %v (%v)", ids(got), err)
	}
	// DueMessages lists leased messages too (the sandbox clock steps through them).
	if listed, _ = s.DueMessages(ctx, due, 10); len(listed) != 3 {
		t.Fatalf("due messages while leased: %v", ids(listed))
	}
	// Released, a message is claimable at once; a lease that ran out (by the wall clock) too.
	if err := s.Release(ctx, a2.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.ClaimDue(ctx, due, wall, lease, 10, nil); !slices.Equal(ids(got), []int64{a2.ID}) {
		t.Fatalf("after release: %v", ids(got))
	}
	if got, _ = s.ClaimDue(ctx, due, lease.Add(-time.Millisecond), lease.Add(time.Minute), 10, nil); len(got) != 0 {
		t.Fatalf("claimed before the lease ran out: %v", ids(got))
	}
	later := lease
	if got, _ = s.ClaimDue(ctx, due, later, later.Add(time.Minute), 10, nil); !slices.Equal(ids(got), []int64{a1.ID, b1.ID, a2.ID}) {
		t.Fatalf("after the leases ran out: %v", ids(got))
	}
	// The gateway clock decides what is due.
	if got, _ = s.ClaimDue(ctx, T0.Add(time.Hour), later, later.Add(time.Minute), 10, nil); !slices.Equal(ids(got), []int64{a3.ID}) {
		t.Fatalf("due by T0+1h: %v", ids(got))
	}
	// A delivered message is never claimed again.
	m := a1
	m.Status, m.Attempts, m.LastAttemptAt, m.DeliveredAt = notify.StatusDelivered, 1, T0, T0
	if err := s.RecordAttempt(ctx, m, notify.Attempt{OutboxID: m.ID, Attempt: 1, At: T0, HTTPStatus: 200, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	far := later.Add(time.Hour)
	if got, _ = s.ClaimDue(ctx, T0.Add(time.Hour), far, far.Add(time.Minute), 10, nil); !slices.Equal(ids(got), []int64{b1.ID, a2.ID, a3.ID}) {
		t.Fatalf("after delivery of a1: %v", ids(got))
	}
	if listed, _ = s.DueMessages(ctx, T0.Add(time.Hour), 10); !slices.Equal(ids(listed), []int64{b1.ID, a2.ID, a3.ID}) {
		t.Fatalf("due after delivery of a1: %v", ids(listed))
	}
}

func testOutboxClaim(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	msg := Notice(t, s, m, "P1", T0.Add(time.Hour)) // Claim does not look at the due time
	wall := time.Now()
	got, ok, err := s.Claim(ctx, msg.ID, wall, wall.Add(time.Minute))
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	same(t, "claimed", got, msg)
	if _, ok, err = s.Claim(ctx, msg.ID, wall, wall.Add(time.Minute)); err != nil || ok {
		t.Fatalf("claimed twice: %v %v", ok, err)
	}
	if got, _ := s.ClaimDue(ctx, T0.Add(2*time.Hour), wall, wall.Add(time.Minute), 10, nil); len(got) != 0 {
		t.Fatalf("ClaimDue took a message Claim leased: %v", ids(got))
	}
	if _, ok, _ = s.Claim(ctx, msg.ID, wall.Add(time.Minute), wall.Add(2*time.Minute)); !ok {
		t.Fatal("a lease that ran out still holds")
	}
	if err := s.Release(ctx, msg.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ = s.Claim(ctx, msg.ID, wall, wall.Add(time.Minute)); !ok {
		t.Fatal("a released message cannot be claimed")
	}
	if _, ok, err = s.Claim(ctx, 1<<40, wall, wall.Add(time.Minute)); err != nil || ok {
		t.Fatalf("claim of an unknown message: %v %v", ok, err)
	}
	// A failed message is claimed no more.
	m2 := got
	m2.Status, m2.Attempts, m2.LastAttemptAt = notify.StatusFailed, len(notify.Schedule), T0
	if err := s.RecordAttempt(ctx, m2, notify.Attempt{OutboxID: m2.ID, Attempt: m2.Attempts, At: T0, HTTPStatus: 500}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ = s.Claim(ctx, msg.ID, wall.Add(time.Hour), wall.Add(2*time.Hour)); ok {
		t.Fatal("claimed a failed message")
	}
}

// testOutboxRecordAttempt: a scheduled attempt writes the schedule and releases the lease.
func testOutboxRecordAttempt(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	msg := Notice(t, s, m, "P1", T0)
	wall := time.Now()
	claimed, ok, err := s.Claim(ctx, msg.ID, wall, wall.Add(time.Hour))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	// First attempt refused: the next one is due 2 minutes later; the lease is gone.
	next := claimed
	next.Attempts, next.LastAttemptAt, next.NextAttemptAt = 1, T0.Add(time.Second), T0.Add(notify.Schedule[1])
	first := notify.Attempt{OutboxID: msg.ID, Attempt: 1, At: T0.Add(time.Second), HTTPStatus: 503, Latency: 1500 * time.Millisecond,
		Response: "busy", Error: "HTTP 503"}
	if err := s.RecordAttempt(ctx, next, first); err != nil {
		t.Fatal(err)
	}
	same(t, "after a refused attempt", message(t, s, msg), next)
	if _, ok, _ := s.Claim(ctx, msg.ID, wall, wall.Add(time.Hour)); !ok {
		t.Fatal("RecordAttempt must release the lease")
	}
	if got, _ := s.DueMessages(ctx, T0.Add(time.Minute), 10); len(got) != 0 {
		t.Fatalf("due before its next attempt: %v", ids(got))
	}
	// Second attempt acknowledged: delivered.
	done := next
	done.Attempts, done.Status, done.LastAttemptAt, done.DeliveredAt = 2, notify.StatusDelivered, T0.Add(2*time.Minute), T0.Add(2*time.Minute)
	second := notify.Attempt{OutboxID: msg.ID, Attempt: 2, At: T0.Add(2 * time.Minute), HTTPStatus: 200, Latency: 20 * time.Millisecond,
		Response: `{"result":{"resultCode":"SUCCESS","resultStatus":"S"}}`, Delivered: true}
	if err := s.RecordAttempt(ctx, done, second); err != nil {
		t.Fatal(err)
	}
	same(t, "after delivery", message(t, s, msg), done)
	attempts, err := s.Attempts(ctx, msg.ID)
	if err != nil || len(attempts) != 2 {
		t.Fatalf("attempts: %+v %v", attempts, err)
	}
	first.ID, second.ID = attempts[0].ID, attempts[1].ID
	same(t, "attempts", attempts, []notify.Attempt{first, second})
	if attempts[0].ID >= attempts[1].ID {
		t.Fatal("attempts not in order")
	}
	// A late scheduled failure (a lease that ran out, another instance's attempt) never turns a
	// delivered message back to pending, and keeps when it was delivered.
	late := next
	late.Attempts, late.LastAttemptAt, late.NextAttemptAt = 3, T0.Add(3*time.Minute), T0.Add(20*time.Minute)
	if err := s.RecordAttempt(ctx, late, notify.Attempt{OutboxID: msg.ID, Attempt: 3, At: T0.Add(3 * time.Minute), Error: "timeout"}); err != nil {
		t.Fatal(err)
	}
	if got := message(t, s, msg); got.Status != notify.StatusDelivered || !got.DeliveredAt.Equal(done.DeliveredAt) {
		t.Fatalf("a late failure undid the delivery: %+v", got)
	}
	if got, _ := s.Attempts(ctx, 1<<40); len(got) != 0 {
		t.Fatalf("attempts of an unknown message: %v", got)
	}

	// A failed message stays failed when a late scheduled attempt fails.
	msg2 := Notice(t, s, m, "P2", T0)
	failed := msg2
	failed.Status, failed.Attempts, failed.LastAttemptAt = notify.StatusFailed, len(notify.Schedule), T0.Add(time.Hour)
	if err := s.RecordAttempt(ctx, failed, notify.Attempt{OutboxID: msg2.ID, Attempt: failed.Attempts, At: T0.Add(time.Hour), Error: "refused"}); err != nil {
		t.Fatal(err)
	}
	pending := failed
	pending.Status = notify.StatusPending
	if err := s.RecordAttempt(ctx, pending, notify.Attempt{OutboxID: msg2.ID, Attempt: failed.Attempts, At: T0.Add(time.Hour), Error: "refused"}); err != nil {
		t.Fatal(err)
	}
	if got := message(t, s, msg2); got.Status != notify.StatusFailed {
		t.Fatalf("a failed message went back to %s", got.Status)
	}
}

// testOutboxManualResend: a resend is one extra attempt outside the schedule. It never touches the
// attempt count, the next due time or a lease (a scheduled attempt may hold one meanwhile); only
// an acknowledgement changes the message, to delivered.
func testOutboxManualResend(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	msg := Notice(t, s, m, "P1", T0)
	wall := time.Now()
	// One scheduled attempt failed; the next is due at +2m and a dispatcher holds the lease.
	sched := msg
	sched.Attempts, sched.LastAttemptAt, sched.NextAttemptAt = 1, T0, T0.Add(2*time.Minute)
	if err := s.RecordAttempt(ctx, sched, notify.Attempt{OutboxID: msg.ID, Attempt: 1, At: T0, Error: "refused"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Claim(ctx, msg.ID, wall, wall.Add(time.Hour)); !ok {
		t.Fatal("claim")
	}

	// A refused resend: only the last attempt time moves.
	cur := message(t, s, msg)
	resend := cur
	resend.LastAttemptAt = T0.Add(time.Minute)
	if err := s.RecordAttempt(ctx, resend, notify.Attempt{OutboxID: msg.ID, Attempt: cur.Attempts, Manual: true, At: T0.Add(time.Minute), HTTPStatus: 500}); err != nil {
		t.Fatal(err)
	}
	want := sched
	want.LastAttemptAt = T0.Add(time.Minute)
	same(t, "after a refused resend", message(t, s, msg), want)
	if _, ok, _ := s.Claim(ctx, msg.ID, wall, wall.Add(time.Hour)); ok {
		t.Fatal("a resend released the scheduled attempt's lease")
	}
	// An older resend recorded late does not move the last attempt back.
	old := resend
	old.LastAttemptAt = T0.Add(30 * time.Second)
	if err := s.RecordAttempt(ctx, old, notify.Attempt{OutboxID: msg.ID, Attempt: cur.Attempts, Manual: true, At: T0.Add(30 * time.Second), HTTPStatus: 500}); err != nil {
		t.Fatal(err)
	}
	same(t, "after an older resend", message(t, s, msg), want)

	// An acknowledged resend delivers the message, the schedule stops; the count is untouched.
	ack := cur
	ack.Status, ack.DeliveredAt, ack.LastAttemptAt = notify.StatusDelivered, T0.Add(90*time.Second), T0.Add(90*time.Second)
	if err := s.RecordAttempt(ctx, ack, notify.Attempt{OutboxID: msg.ID, Attempt: cur.Attempts, Manual: true, At: T0.Add(90 * time.Second), HTTPStatus: 200, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	want.Status, want.DeliveredAt, want.LastAttemptAt = notify.StatusDelivered, T0.Add(90*time.Second), T0.Add(90*time.Second)
	same(t, "after an acknowledged resend", message(t, s, msg), want)
	if got, _ := s.DueMessages(ctx, T0.Add(time.Hour), 10); len(got) != 0 {
		t.Fatalf("a delivered message is still due: %v", ids(got))
	}
	// A second acknowledged resend keeps the first delivery time.
	ack2 := ack
	ack2.DeliveredAt, ack2.LastAttemptAt = T0.Add(100*time.Second), T0.Add(100*time.Second)
	if err := s.RecordAttempt(ctx, ack2, notify.Attempt{OutboxID: msg.ID, Attempt: cur.Attempts, Manual: true, At: T0.Add(100 * time.Second), HTTPStatus: 200, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	if got := message(t, s, msg); !got.DeliveredAt.Equal(T0.Add(90 * time.Second)) {
		t.Fatalf("delivered at %v, want the first acknowledgement", got.DeliveredAt)
	}
	// The scheduled attempt that was in flight fails after the resend delivered: still delivered.
	inflight := sched
	inflight.Attempts, inflight.LastAttemptAt, inflight.NextAttemptAt = 2, T0.Add(2*time.Minute), T0.Add(12*time.Minute)
	if err := s.RecordAttempt(ctx, inflight, notify.Attempt{OutboxID: msg.ID, Attempt: 2, At: T0.Add(2 * time.Minute), Error: "timeout"}); err != nil {
		t.Fatal(err)
	}
	if got := message(t, s, msg); got.Status != notify.StatusDelivered || !got.DeliveredAt.Equal(T0.Add(90*time.Second)) {
		t.Fatalf("the late scheduled failure undid the resend's delivery: %+v", got)
	}
	attempts, err := s.Attempts(ctx, msg.ID)
	if err != nil || len(attempts) != 6 {
		t.Fatalf("attempts: %d %v", len(attempts), err)
	}
	var manual []bool
	for _, a := range attempts {
		manual = append(manual, a.Manual)
	}
	same(t, "manual flags", manual, []bool{false, true, true, true, true, false})

	// A resend acknowledged for a failed message delivers it too.
	msg2 := Notice(t, s, m, "P2", T0)
	failed := msg2
	failed.Status, failed.Attempts, failed.LastAttemptAt = notify.StatusFailed, len(notify.Schedule), T0.Add(time.Hour)
	if err := s.RecordAttempt(ctx, failed, notify.Attempt{OutboxID: msg2.ID, Attempt: failed.Attempts, At: T0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAttempt(ctx, failed, notify.Attempt{OutboxID: msg2.ID, Attempt: failed.Attempts, Manual: true, At: T0.Add(2 * time.Hour), HTTPStatus: 500}); err != nil {
		t.Fatal(err)
	}
	if got := message(t, s, msg2); got.Status != notify.StatusFailed {
		t.Fatalf("a refused resend changed a failed message to %s", got.Status)
	}
	if err := s.RecordAttempt(ctx, failed, notify.Attempt{OutboxID: msg2.ID, Attempt: failed.Attempts, Manual: true, At: T0.Add(3 * time.Hour), HTTPStatus: 200, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	if got := message(t, s, msg2); got.Status != notify.StatusDelivered || !got.DeliveredAt.Equal(T0.Add(3*time.Hour)) || got.Attempts != len(notify.Schedule) {
		t.Fatalf("after an acknowledged resend of a failed message: %+v", got)
	}
}

// testOutboxAttemptTextIsStored: what a merchant's server answers is stored whatever its bytes
// (the first bytes of a body may end inside a UTF-8 sequence, or hold NUL).
func testOutboxAttemptTextIsStored(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	msg := Notice(t, s, m, "P1", T0)
	next := msg
	next.Attempts, next.LastAttemptAt, next.NextAttemptAt = 1, T0, T0.Add(2*time.Minute)
	a := notify.Attempt{OutboxID: msg.ID, Attempt: 1, At: T0, HTTPStatus: 200, Response: "ok \x00 bin\xff\xfe " + strings.Repeat("é", 3)[:5],
		Error: "answer is not the JSON acknowledgement \xc3"}
	if err := s.RecordAttempt(ctx, next, a); err != nil {
		t.Fatalf("an answer with odd bytes could not be recorded (the message would be re-sent forever): %v", err)
	}
	got, err := s.Attempts(ctx, msg.ID)
	if err != nil || len(got) != 1 || !strings.HasPrefix(got[0].Response, "ok ") || !strings.HasPrefix(got[0].Error, "answer is not") {
		t.Fatalf("attempts: %+v %v", got, err)
	}
	if m := message(t, s, msg); m.Attempts != 1 {
		t.Fatalf("attempts count %d", m.Attempts)
	}
}

// ConcurrentClaims checks that dispatchers sharing one outbox — goroutines of one store, or
// several stores (instances) on one database — never lease one message twice at once: several
// workers per store race with ClaimDue (some with a merchant busy) and with Claim by id until
// every message is leased, and each is leased exactly once.
func ConcurrentClaims(t *testing.T, stores ...store.Store) {
	s := stores[0]
	a := Sandbox(t, s)
	b := Other(t, s, "OTHER_CLAIMS")
	const n = 60
	var all []int64
	for i := range n {
		m := a
		if i%3 == 0 {
			m = b
		}
		all = append(all, Notice(t, s, m, fmt.Sprintf("P%03d", i), T0.Add(time.Duration(i%7)*time.Second)).ID)
	}
	var (
		mu      sync.Mutex
		claimed = map[int64]int{}
		total   atomic.Int64
		wg      sync.WaitGroup
	)
	take := func(id int64) {
		mu.Lock()
		defer mu.Unlock()
		claimed[id]++
		total.Add(1)
	}
	deadline := time.Now().Add(30 * time.Second)
	wall := time.Now()
	lease := wall.Add(time.Hour)
	for i, st := range stores {
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for total.Load() < n && time.Now().Before(deadline) {
					if w == 3 {
						// A sandbox clock stepping through due attempts by id.
						for _, id := range all {
							if _, ok, err := st.Claim(ctx, id, wall, lease); err != nil {
								t.Errorf("store %d claim: %v", i, err)
								return
							} else if ok {
								take(id)
							}
						}
						continue
					}
					var busy []string
					if w == 1 {
						busy = []string{b.ClientID}
					}
					var (
						got []notify.Message
						err error
					)
					if w == 2 {
						got, err = st.ClaimBatch(ctx, T0.Add(time.Minute), wall, lease, 5, 2, nil)
					} else {
						got, err = st.ClaimDue(ctx, T0.Add(time.Minute), wall, lease, 1+w, busy)
					}
					if err != nil {
						t.Errorf("store %d claim due: %v", i, err)
						return
					}
					for _, m := range got {
						take(m.ID)
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, id := range all {
		if claimed[id] != 1 {
			t.Errorf("message %d leased %d times", id, claimed[id])
		}
	}
	if got, err := s.ClaimDue(ctx, T0.Add(time.Hour), wall, lease, 100, nil); err != nil || len(got) != 0 {
		t.Fatalf("left unleased: %v %v", ids(got), err)
	}
}

// testOutboxClaimBatch: a batch claim takes due messages earliest first, at most perMerchant of
// any merchant, none of a busy one; Release gives several back at once.
func testOutboxClaimBatch(t *testing.T, s store.Store) {
	a := Sandbox(t, s)
	b := Other(t, s, "BATCH_B")
	c := Other(t, s, "BATCH_C")
	var as []notify.Message
	for i := range 5 {
		as = append(as, Notice(t, s, a, fmt.Sprintf("A%d", i), T0.Add(time.Duration(2*i)*time.Second)))
	}
	b0 := Notice(t, s, b, "B0", T0.Add(time.Second))
	b1 := Notice(t, s, b, "B1", T0.Add(3*time.Second))
	c0 := Notice(t, s, c, "C0", T0)
	notDue := Notice(t, s, a, "A-later", T0.Add(time.Hour))
	due := T0.Add(time.Minute)
	wall := time.Now()
	lease := wall.Add(time.Minute)

	got, err := s.ClaimBatch(ctx, due, wall, lease, 10, 2, []string{c.ClientID})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "two of each, C busy", ids(got), []int64{as[0].ID, b0.ID, as[1].ID, b1.ID})
	same(t, "a claimed message", got[0], as[0])
	if got, err = s.ClaimBatch(ctx, due, wall, lease, 2, 2, nil); err != nil {
		t.Fatal(err)
	}
	same(t, "the limit holds", ids(got), []int64{c0.ID, as[2].ID})
	if got, err = s.ClaimBatch(ctx, due, wall, lease, 10, 1, nil); err != nil {
		t.Fatal(err)
	}
	same(t, "one per merchant", ids(got), []int64{as[3].ID})
	if got, _ = s.ClaimBatch(ctx, due, wall, lease, 10, 5, nil); !slices.Equal(ids(got), []int64{as[4].ID}) {
		t.Fatalf("the last due one: %v", ids(got))
	}
	if got, _ = s.ClaimBatch(ctx, due, wall, lease, 10, 5, nil); len(got) != 0 {
		t.Fatalf("everything due is leased, yet claimed %v", ids(got))
	}
	if got, _ = s.ClaimBatch(ctx, due, wall, lease, 0, 5, nil); len(got) != 0 {
		t.Fatalf("limit 0 claimed %v", ids(got))
	}
	if err := s.Release(ctx); err != nil {
		t.Fatalf("release of nothing: %v", err)
	}
	if err := s.Release(ctx, b1.ID, as[0].ID, 1<<40); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.ClaimBatch(ctx, due, wall, lease, 10, 5, nil); !slices.Equal(ids(got), []int64{as[0].ID, b1.ID}) {
		t.Fatalf("after releasing two: %v", ids(got))
	}
	// Leases run out by the wall clock; the gateway clock decides what is due.
	if got, _ = s.ClaimBatch(ctx, T0.Add(2*time.Hour), lease, lease.Add(time.Minute), 100, 100, nil); len(got) != 9 || got[8].ID != notDue.ID {
		t.Fatalf("after the leases ran out, by T0+2h: %v", ids(got))
	}
}

// testOutboxRecordAttempts: many attempts in one transaction, with RecordAttempt's semantics,
// and a batch that cannot be written whole writes nothing.
func testOutboxRecordAttempts(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p1 := Notice(t, s, m, "P1", T0)
	p2 := Notice(t, s, m, "P2", T0)
	wall := time.Now()
	got, err := s.ClaimBatch(ctx, T0, wall, wall.Add(time.Hour), 10, 10, nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("claim: %v %v", ids(got), err)
	}
	if err := s.RecordAttempts(ctx, nil); err != nil {
		t.Fatalf("no attempts: %v", err)
	}
	delivered := p1
	delivered.Status, delivered.Attempts, delivered.LastAttemptAt, delivered.DeliveredAt = notify.StatusDelivered, 1, T0.Add(time.Second), T0.Add(time.Second)
	refused := p2
	refused.Attempts, refused.LastAttemptAt, refused.NextAttemptAt = 1, T0.Add(time.Second), T0.Add(notify.Schedule[1])
	a1 := notify.Attempt{OutboxID: p1.ID, Attempt: 1, At: T0.Add(time.Second), HTTPStatus: 200, Latency: 3 * time.Millisecond, Response: "ok", Delivered: true}
	a2 := notify.Attempt{OutboxID: p2.ID, Attempt: 1, At: T0.Add(time.Second), HTTPStatus: 503, Latency: 4 * time.Millisecond, Error: "HTTP 503"}

	// An attempt of an unknown message makes the whole batch fail, and nothing of it stays.
	ghost := p2
	ghost.ID = 1 << 40
	bad := []notify.Recorded{{Message: delivered, Attempt: a1}, {Message: ghost, Attempt: notify.Attempt{OutboxID: ghost.ID, Attempt: 1, At: T0}}}
	if err := s.RecordAttempts(ctx, bad); err == nil {
		t.Fatal("a batch with an unknown message was recorded")
	}
	if got := message(t, s, p1); got.Status != notify.StatusPending || got.Attempts != 0 {
		t.Fatalf("the failed batch wrote its first attempt: %+v", got)
	}
	if list, _ := s.Attempts(ctx, p1.ID); len(list) != 0 {
		t.Fatalf("the failed batch left attempts: %+v", list)
	}

	if err := s.RecordAttempts(ctx, []notify.Recorded{{Message: delivered, Attempt: a1}, {Message: refused, Attempt: a2}}); err != nil {
		t.Fatal(err)
	}
	same(t, "delivered", message(t, s, p1), delivered)
	same(t, "refused", message(t, s, p2), refused)
	for _, c := range []struct {
		id   int64
		want notify.Attempt
	}{{p1.ID, a1}, {p2.ID, a2}} {
		list, err := s.Attempts(ctx, c.id)
		if err != nil || len(list) != 1 {
			t.Fatalf("attempts of %d: %+v %v", c.id, list, err)
		}
		c.want.ID = list[0].ID
		same(t, "attempt", list[0], c.want)
	}
	// The leases went with the records: the refused one is claimable when due again.
	if got, _ := s.ClaimBatch(ctx, T0.Add(notify.Schedule[1]), wall, wall.Add(time.Hour), 10, 10, nil); !slices.Equal(ids(got), []int64{p2.ID}) {
		t.Fatalf("claim after the records: %v", ids(got))
	}
}
