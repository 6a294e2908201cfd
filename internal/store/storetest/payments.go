package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
)

func testPaymentRoundTripAndGuards(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p := NewPayment(m, "P1", "R1")
	p.Card.HolderName, p.Card.ExpiryMonth, p.Card.ExpiryYear, p.Card.IssuingCountry = "Ada Ñandú 李", "12", "2031", "SG"
	p.Order.ReferenceBuyerID, p.Order.OrderCurrency, p.Order.OrderMinor = "buyer-1", "SGD", 5000
	mustCreate(t, s, p)
	got, err := s.PaymentByRequestID(ctx, m.ClientID, "R1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "round trip by request id", got, p)
	if got, err = s.PaymentByID(ctx, m.ClientID, "P1"); err != nil {
		t.Fatal(err)
	}
	same(t, "round trip by id", got, p)
	_, err = s.PaymentByID(ctx, "SANDBOX_OTHER", "P1")
	wantErr(t, "another merchant's payment by id", err, payments.ErrNotFound)
	_, err = s.PaymentByRequestID(ctx, "SANDBOX_OTHER", "R1")
	wantErr(t, "another merchant's payment by request id", err, payments.ErrNotFound)
	_, err = s.PaymentByID(ctx, m.ClientID, "P-NOPE")
	wantErr(t, "unknown payment", err, payments.ErrNotFound)
	_, err = s.PaymentByRequestID(ctx, m.ClientID, "R-NOPE")
	wantErr(t, "unknown request id", err, payments.ErrNotFound)

	// Same request id, or same payment id: refused by a unique key, and nothing of it is left.
	wantErr(t, "duplicate request id", s.CreatePayment(ctx, NewPayment(m, "P2", "R1"), createEvent(NewPayment(m, "P2", "R1"))), payments.ErrDuplicate)
	wantErr(t, "duplicate payment id", s.CreatePayment(ctx, NewPayment(m, "P1", "R2"), createEvent(NewPayment(m, "P1", "R2"))), payments.ErrDuplicate)
	if n := count(t, s, "payment_events"); n != 1 {
		t.Fatalf("events after the refused duplicates: %d", n)
	}

	// Every field after the authorization survives the round trip.
	next := approved(p)
	next.Capture, next.CapturedMinor, next.RefundedMinor, next.CapturedAt = payments.CaptureSucceeded, 4200, 1200, T0.Add(2*time.Second)
	next.AcquirerDueAt, next.VoidState, next.CloseReason, next.ClosedAt = T0.Add(3*time.Second), payments.VoidDone, payments.CloseExpired, T0.Add(4*time.Second)
	next.ResultMsg = "approved — 承認"
	c := change(p, next, payments.OpAuthApproved)
	c.Outbox = &payments.OutboxMessage{MerchantID: m.ClientID, PaymentID: "P1", NotifyType: "PAYMENT_RESULT", Ref: "P1",
		URL: "https://m.example/n", Body: []byte(`{"a":1}`), CreatedAt: T0}
	mustApply(t, s, c)
	// The same change again is stale: the version moved on.
	wantErr(t, "stale apply", s.Apply(ctx, c), payments.ErrConflict)
	if e, o := count(t, s, "payment_events"), count(t, s, "outbox"); e != 2 || o != 1 {
		t.Fatalf("events %d outbox %d, want 2 and 1 (a refused change writes nothing)", e, o)
	}
	got, err = s.PaymentByID(ctx, m.ClientID, "P1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "after apply", got, c.Payment)

	// A change of an unknown payment conflicts too.
	ghost := NewPayment(m, "P-GHOST", "R-GHOST")
	wantErr(t, "apply to an unknown payment", s.Apply(ctx, change(ghost, approved(ghost), payments.OpAuthApproved)), payments.ErrConflict)
}

// testConstraintsHoldWithoutTheDomain: the schema refuses what the domain never writes, so a bug
// in code (of any instance) cannot store an impossible payment.
func testConstraintsHoldWithoutTheDomain(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	for name, mutate := range map[string]func(*payments.Payment){
		"zero amount":                  func(p *payments.Payment) { p.Amount.Minor = 0 },
		"negative amount":              func(p *payments.Payment) { p.Amount.Minor = -1 },
		"bad state":                    func(p *payments.Payment) { p.State = "CAPTURED_AND_CANCELLED" },
		"zero version":                 func(p *payments.Payment) { p.Version = 0 },
		"capture mode":                 func(p *payments.Payment) { p.CaptureMode = "LATER" },
		"currency code":                func(p *payments.Payment) { p.Amount.Currency = money.Currency{Code: "SGDX", Exponent: 2} },
		"capture state":                func(p *payments.Payment) { p.Capture = "MAYBE" },
		"void state":                   func(p *payments.Payment) { p.VoidState = "SOON" },
		"captured above authorized":    func(p *payments.Payment) { p.CapturedMinor = 4201 },
		"negative captured":            func(p *payments.Payment) { p.CapturedMinor = -1 },
		"refunded above captured":      func(p *payments.Payment) { p.CapturedMinor, p.RefundedMinor = 100, 101 },
		"negative refunded":            func(p *payments.Payment) { p.RefundedMinor = -1 },
		"cancelled and captured":       func(p *payments.Payment) { p.State, p.Capture = payments.StateCancelled, payments.CaptureSucceeded },
		"cancelled while capturing":    func(p *payments.Payment) { p.State, p.Capture = payments.StateCancelled, payments.CaptureProcessing },
		"another merchant's (unknown)": func(p *payments.Payment) { p.MerchantID = "SANDBOX_NOBODY" },
	} {
		t.Run(name, func(t *testing.T) {
			p := NewPayment(m, "P-"+name, "R-"+name)
			mutate(&p)
			if err := s.CreatePayment(ctx, p, createEvent(p)); err == nil {
				t.Fatal("stored")
			} else if errors.Is(err, payments.ErrDuplicate) {
				t.Fatalf("a constraint violation reported as a duplicate: %v", err)
			}
		})
	}
	if n := count(t, s, "payments"); n != 0 {
		t.Fatalf("payments: %d", n)
	}

	// The same invariants on update, and the one that compares a row with its previous self.
	p := authorize(t, s, NewPayment(m, "P1", "R1"))
	captured := p
	captured.Capture, captured.CapturedMinor, captured.CapturedAt = payments.CaptureSucceeded, 4200, T0.Add(time.Minute)
	for name, mutate := range map[string]func(*payments.Payment){
		"capture undone":          func(p *payments.Payment) { p.Capture = payments.CaptureNone },
		"capture failed after":    func(p *payments.Payment) { p.Capture = payments.CaptureFailed },
		"captured then cancelled": func(p *payments.Payment) { p.State = payments.StateCancelled },
		"refund above captured":   func(p *payments.Payment) { p.RefundedMinor = 4201 },
		"captured above amount":   func(p *payments.Payment) { p.CapturedMinor = 5000 },
	} {
		t.Run("update/"+name, func(t *testing.T) {
			cur, err := s.PaymentByID(ctx, m.ClientID, "P1")
			if err != nil {
				t.Fatal(err)
			}
			if cur.Capture != payments.CaptureSucceeded {
				cur = mustApply(t, s, change(cur, captured, payments.OpCaptureSucceeded))
			}
			before := counts(t, s)
			next := cur
			mutate(&next)
			if err := s.Apply(ctx, change(cur, next, payments.OpCancel)); err == nil {
				t.Fatal("stored")
			} else if errors.Is(err, payments.ErrConflict) || errors.Is(err, payments.ErrDuplicate) {
				t.Fatalf("an invariant violation reported as %v", err)
			}
			if after := counts(t, s); after != before {
				t.Fatalf("a refused change wrote rows: %s, before %s", after, before)
			}
			if got, _ := s.PaymentByID(ctx, m.ClientID, "P1"); got.Version != cur.Version || got.Capture != payments.CaptureSucceeded {
				t.Fatalf("a refused change moved the payment: %+v", got)
			}
		})
	}

	// A change moves the version by exactly one: a skipped or repeated version would let two
	// writers that read different versions both believe they hold the next one.
	for name, version := range map[string]func(cur int) int{"skips": func(cur int) int { return cur + 5 }, "repeats": func(cur int) int { return cur }} {
		t.Run("version/"+name, func(t *testing.T) {
			cur, err := s.PaymentByID(ctx, m.ClientID, "P1")
			if err != nil {
				t.Fatal(err)
			}
			before := counts(t, s)
			c := change(cur, cur, payments.OpCancel)
			c.Payment.Version = version(cur.Version)
			if err := s.Apply(ctx, c); !errors.Is(err, sqlstore.ErrConstraint) {
				t.Fatalf("version %d after %d: %v, want a constraint violation", c.Payment.Version, cur.Version, err)
			}
			if after := counts(t, s); after != before {
				t.Fatalf("a refused change wrote rows: %s, before %s", after, before)
			}
		})
	}
}

// testApplyIsAtomic: when any part of a change fails, none of it is written.
func testApplyIsAtomic(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p := authorize(t, s, NewPayment(m, "P1", "R1"))
	before := counts(t, s)
	for name, mutate := range map[string]func(*payments.Change){
		"bad transaction type":   func(c *payments.Change) { c.NewTxn.Type = "CHARGEBACK" },
		"bad transaction status": func(c *payments.Change) { c.NewTxn.Status = "MAYBE" },
		"negative txn amount":    func(c *payments.Change) { c.NewTxn.Amount.Minor = -1 },
		"update of unknown txn": func(c *payments.Change) {
			c.Txn = &payments.Txn{ID: "T-NOPE", MerchantID: m.ClientID, Status: payments.TxnSucceeded}
		},
	} {
		t.Run(name, func(t *testing.T) {
			next := p
			next.Capture = payments.CaptureProcessing
			c := change(p, next, payments.OpCapture)
			c.NewTxn = newTxn(p, "T-"+name, payments.TxnCapture, "C-"+name, payments.TxnProcessing, 4200, T0.Add(time.Minute))
			c.Outbox = &payments.OutboxMessage{MerchantID: m.ClientID, PaymentID: p.ID, NotifyType: "CAPTURE_RESULT", Ref: "T-" + name,
				URL: "https://m.example/n", Body: []byte(`{}`), CreatedAt: T0}
			mutate(&c)
			if err := s.Apply(ctx, c); err == nil {
				t.Fatal("applied")
			}
			if after := counts(t, s); after != before {
				t.Fatalf("a failed change wrote rows: %s, before %s", after, before)
			}
			if got, _ := s.PaymentByID(ctx, m.ClientID, p.ID); got.Version != p.Version || got.Capture != payments.CaptureNone {
				t.Fatalf("a failed change moved the payment: %+v", got)
			}
		})
	}
}

// testApplyAgainstPrev: a change made from the payment as stored (Change.Prev) leaves the row
// exactly as its new values, though the store writes only the columns that moved; a Prev that is
// not what is stored, in a column the change leaves alone, is a conflict that writes nothing, as
// a stale version is, alone or in a batch; a change without Prev writes every column.
func testApplyAgainstPrev(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	authorize(t, s, NewPayment(m, "P1", "R1"))
	read := func() payments.Payment {
		t.Helper()
		got, err := s.PaymentByID(ctx, m.ClientID, "P1")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	cur := read()

	next := cur
	next.Capture, next.UpdatedAt = payments.CaptureProcessing, T0.Add(time.Minute)
	mustApply(t, s, change(cur, next, payments.OpCapture))
	if got, want := read(), withVersion(next, cur.Version+1); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a change of two columns:\n got %+v\nwant %+v", got, want)
	}
	cur = read()

	before := counts(t, s)
	bs, batches := s.(payments.BatchStore)
	for name, mutate := range map[string]func(*payments.Payment){
		"card":           func(p *payments.Payment) { p.Card.LastFour = "9999" },
		"auth":           func(p *payments.Payment) { p.Auth.AuthorizationCode = "654321" },
		"result message": func(p *payments.Payment) { p.ResultMsg = "not what is stored" },
		"refunded":       func(p *payments.Payment) { p.RefundedMinor = 100 },
		"expiry":         func(p *payments.Payment) { p.AuthExpiresAt = p.AuthExpiresAt.Add(time.Hour) },
	} {
		t.Run("stale "+name, func(t *testing.T) {
			prev := cur
			mutate(&prev)
			next := prev
			next.Capture, next.CapturedMinor, next.CapturedAt, next.UpdatedAt = payments.CaptureSucceeded, 4200, T0.Add(2*time.Minute), T0.Add(2*time.Minute)
			c := change(prev, next, payments.OpCaptureSucceeded)
			if err := s.Apply(ctx, c); !errors.Is(err, payments.ErrConflict) {
				t.Fatalf("applied against a Prev that is not stored: %v", err)
			}
			if batches {
				errs, err := bs.ApplyAll(ctx, []payments.Change{c, c})
				if err != nil || !errors.Is(errs[0], payments.ErrConflict) || !errors.Is(errs[1], payments.ErrConflict) {
					t.Fatalf("batch against a Prev that is not stored: %v, %v", errs, err)
				}
			}
			if after := counts(t, s); after != before {
				t.Fatalf("a refused change wrote rows: %s, before %s", after, before)
			}
			if got := read(); !reflect.DeepEqual(got, cur) {
				t.Fatalf("a refused change moved the payment:\n got %+v\nwant %+v", got, cur)
			}
		})
	}

	next = cur
	next.ResultMsg, next.UpdatedAt = "written without Prev", T0.Add(3*time.Minute)
	c := change(cur, next, payments.OpCapture)
	c.Prev = nil
	mustApply(t, s, c)
	if got, want := read(), withVersion(next, cur.Version+1); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a change without Prev:\n got %+v\nwant %+v", got, want)
	}
}

func withVersion(p payments.Payment, v int) payments.Payment {
	p.Version = v
	return p
}

// testConcurrentGuardedApply: of many writers applying from the same version, exactly one wins.
func testConcurrentGuardedApply(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	p := mustCreate(t, s, NewPayment(m, "P1", "R1"))
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won, lost int
	)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := p
			next.State, next.ResultMsg = payments.StateFail, fmt.Sprint("writer ", i)
			err := s.Apply(ctx, change(p, next, payments.OpAuthDeclined))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, payments.ErrConflict):
				lost++
			default:
				t.Errorf("apply: %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != 15 {
		t.Fatalf("won %d lost %d", won, lost)
	}
	if n := count(t, s, "payment_events"); n != 2 {
		t.Fatalf("events: %d", n)
	}
	if got, _ := s.PaymentByID(ctx, m.ClientID, "P1"); got.Version != 2 || got.State != payments.StateFail {
		t.Fatalf("after the race: %+v", got)
	}
}

// testConcurrentCreatePayment: one paymentRequestId sent many times at once (to one or several
// instances) authorizes once: the unique key decides.
func testConcurrentCreatePayment(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		won, dup int
		winner   string
	)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := NewPayment(m, fmt.Sprintf("P%02d", i), "R-SAME")
			err := s.CreatePayment(ctx, p, createEvent(p))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
				winner = p.ID
			case errors.Is(err, payments.ErrDuplicate):
				dup++
			default:
				t.Errorf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || dup != 19 {
		t.Fatalf("created %d, duplicates %d; want 1 and 19", won, dup)
	}
	if p, err := s.PaymentByRequestID(ctx, m.ClientID, "R-SAME"); err != nil || p.ID != winner {
		t.Fatalf("the stored payment is %q (%v), the winner %q", p.ID, err, winner)
	}
	if c := counts(t, s); c != "payments=1 events=1 transactions=0 outbox=0" {
		t.Fatal(c)
	}
}

// testAnotherMerchantSeesNothing: invariant 7 — one merchant never sees or changes another's rows.
func testAnotherMerchantSeesNothing(t *testing.T, s store.Store) {
	m := Sandbox(t, s)
	o := Other(t, s, "OTHER_1")
	p := authorize(t, s, NewPayment(m, "P1", "R1"))
	next := p
	next.Capture = payments.CaptureProcessing
	c := change(p, next, payments.OpCapture)
	c.NewTxn = newTxn(p, "T1", payments.TxnCapture, "C1", payments.TxnProcessing, 4200, T0.Add(time.Minute))
	c.Outbox = &payments.OutboxMessage{MerchantID: m.ClientID, PaymentID: "P1", NotifyType: "PAYMENT_RESULT", Ref: "P1", URL: "https://m.example/n", Body: []byte(`{}`), CreatedAt: T0}
	p = mustApply(t, s, c)

	_, err := s.PaymentByID(ctx, o.ClientID, "P1")
	wantErr(t, "PaymentByID", err, payments.ErrNotFound)
	// An acquirer's notice names the payment alone: it is found whoever's it is.
	if got, err := s.PaymentForAcquirer(ctx, "P1"); err != nil || got.MerchantID != m.ClientID {
		t.Fatalf("PaymentForAcquirer: %+v %v", got.MerchantID, err)
	}
	_, err = s.PaymentForAcquirer(ctx, "P-NONE")
	wantErr(t, "PaymentForAcquirer of an unknown id", err, payments.ErrNotFound)
	_, err = s.PaymentByRequestID(ctx, o.ClientID, "R1")
	wantErr(t, "PaymentByRequestID", err, payments.ErrNotFound)
	_, err = s.TxnByID(ctx, o.ClientID, payments.TxnCapture, "T1")
	wantErr(t, "TxnByID", err, payments.ErrNotFound)
	_, err = s.TxnByRequestID(ctx, o.ClientID, payments.TxnCapture, "C1")
	wantErr(t, "TxnByRequestID", err, payments.ErrNotFound)
	if txns, err := s.Txns(ctx, o.ClientID, "P1"); err != nil || len(txns) != 0 {
		t.Fatalf("Txns: %v %v", txns, err)
	}
	msgs, err := s.Messages(ctx, m.ClientID, "P1")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("the merchant's own messages: %v %v", msgs, err)
	}
	if got, err := s.Messages(ctx, o.ClientID, "P1"); err != nil || len(got) != 0 {
		t.Fatalf("Messages: %v %v", got, err)
	}
	_, err = s.Message(ctx, o.ClientID, msgs[0].ID)
	wantErr(t, "Message", err, notifyErrNotFound)

	// Nor can it change them: a change naming another merchant matches nothing.
	before := counts(t, s)
	forged := p
	forged.MerchantID, forged.State = o.ClientID, payments.StateCancelled
	forged.Capture = payments.CaptureNone
	wantErr(t, "Apply as another merchant", s.Apply(ctx, change(p, forged, payments.OpCancel)), payments.ErrConflict)
	own := p
	own.Capture = payments.CaptureSucceeded
	c = change(p, own, payments.OpCaptureSucceeded)
	txn := *newTxn(p, "T1", payments.TxnCapture, "C1", payments.TxnSucceeded, 4200, T0.Add(time.Minute))
	txn.MerchantID = o.ClientID
	c.Txn = &txn
	wantErr(t, "a transaction update as another merchant", s.Apply(ctx, c), payments.ErrConflict)
	if after := counts(t, s); after != before {
		t.Fatalf("refused changes wrote rows: %s, before %s", after, before)
	}
	if got, _ := s.TxnByID(ctx, m.ClientID, payments.TxnCapture, "T1"); got.Status != payments.TxnProcessing {
		t.Fatalf("another merchant finished the capture: %+v", got)
	}
}
