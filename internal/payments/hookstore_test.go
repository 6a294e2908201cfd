package payments_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
	"github.com/cardgate/cardgate/protocol"
)

// hookStore is the real SQLite store, with a hook to make a write fail the way an instance that
// dies mid-call would: the service tests run on the rules the schema enforces and nothing else.
type hookStore struct {
	payments.Store
	raw sqlstore.Conn
	// failApply, when set, may refuse a change before it reaches the database (the instance
	// died, the database went away). Tests set it only while the service is idle.
	failApply func(c payments.Change) error
}

func (s *hookStore) Apply(ctx context.Context, c payments.Change) error {
	if s.failApply != nil {
		if err := s.failApply(c); err != nil {
			return err
		}
	}
	return s.Store.Apply(ctx, c)
}

// newHookStore opens a fresh SQLite store in a temporary directory holding the merchants the
// service tests pay for (the schema refers every payment to its merchant).
func newHookStore(t *testing.T, ms ...payments.Merchant) *hookStore {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, m := range ms {
		err := st.CreateMerchant(ctx, merchant.Merchant{ClientID: m.ID, Name: m.ID, Sandbox: true,
			FingerprintKey: m.FingerprintKey, NotifyURL: m.NotifyURL, CreatedAt: testNow})
		if err != nil {
			t.Fatalf("merchant %s: %v", m.ID, err)
		}
	}
	return &hookStore{Store: st, raw: st.Raw()}
}

// The inspection helpers below read the tables directly. A query that fails means the test's
// own setup is broken, not the service, so they panic rather than take a *testing.T each.

func (s *hookStore) countOf(table string) int {
	var n int
	if err := s.raw.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		panic(fmt.Errorf("count %s: %w", table, err))
	}
	return n
}

// count is the number of payments stored.
func (s *hookStore) count() int { return s.countOf("payments") }

// tokenCount is the number of saved cards.
func (s *hookStore) tokenCount() int { return s.countOf("card_tokens") }

// rows counts everything a transition writes (payments, transactions, events, outbox), to
// check that a refusal writes nothing.
func (s *hookStore) rows() [4]int {
	return [4]int{s.countOf("payments"), s.countOf("transactions"), s.countOf("payment_events"), s.countOf("outbox")}
}

// fromMS is how the store reads a time back: Unix milliseconds, 0 for the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// eventsOf is a payment's events in the order written.
func (s *hookStore) eventsOf(id string) []payments.Event {
	rs, err := s.raw.Query(context.Background(), `SELECT payment_id, txn_id, op, from_state, to_state, result_code, at
		FROM payment_events WHERE payment_id = ? ORDER BY id`, id)
	if err != nil {
		panic(fmt.Errorf("events of %s: %w", id, err))
	}
	defer rs.Close()
	var out []payments.Event
	for rs.Next() {
		var e payments.Event
		var op, from, to, code string
		var at int64
		if err := rs.Scan(&e.PaymentID, &e.TxnID, &op, &from, &to, &code, &at); err != nil {
			panic(fmt.Errorf("events of %s: %w", id, err))
		}
		e.Op, e.From, e.To, e.ResultCode, e.At = payments.Op(op), payments.State(from), payments.State(to), protocol.Code(code), fromMS(at)
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		panic(fmt.Errorf("events of %s: %w", id, err))
	}
	return out
}

func (s *hookStore) opsOf(id string) []payments.Op {
	var out []payments.Op
	for _, e := range s.eventsOf(id) {
		out = append(out, e.Op)
	}
	return out
}

// outboxOf is a payment's notifications in the order written.
func (s *hookStore) outboxOf(id string) []payments.OutboxMessage {
	rs, err := s.raw.Query(context.Background(), `SELECT client_id, payment_id, notify_type, ref, url, body, created_at
		FROM outbox WHERE payment_id = ? ORDER BY id`, id)
	if err != nil {
		panic(fmt.Errorf("outbox of %s: %w", id, err))
	}
	defer rs.Close()
	var out []payments.OutboxMessage
	for rs.Next() {
		var o payments.OutboxMessage
		var body string
		var at int64
		if err := rs.Scan(&o.MerchantID, &o.PaymentID, &o.NotifyType, &o.Ref, &o.URL, &body, &at); err != nil {
			panic(fmt.Errorf("outbox of %s: %w", id, err))
		}
		o.Body, o.CreatedAt = []byte(body), fromMS(at)
		out = append(out, o)
	}
	if err := rs.Err(); err != nil {
		panic(fmt.Errorf("outbox of %s: %w", id, err))
	}
	return out
}

func (s *hookStore) notifyTypesOf(id string) []string {
	var out []string
	for _, o := range s.outboxOf(id) {
		out = append(out, o.NotifyType)
	}
	return out
}

// protocolCode is the wire code of err, as the API would answer it.
func protocolCode(err error) protocol.Code { return protocol.Code(protocol.ResultOf(err).ResultCode) }
