package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
	"github.com/cardgate/cardgate/protocol"
)

// The external tests drive the payments service on the real SQLite store, with the simulator on a
// fixed clock that the test moves.

var start = time.Date(2026, time.May, 15, 12, 0, 0, 0, time.UTC)

const notifyURL = "https://shop.example/notify"

// sandboxMerchant is made once per test binary (RSA key generation is the slow part) the way
// `serve` makes it, merchant.EnsureSandbox on an empty store, and copied into each test's store.
var sandboxMerchant struct {
	once sync.Once
	m    merchant.Merchant
	err  error
}

func loadMerchant(t testing.TB) merchant.Merchant {
	t.Helper()
	sandboxMerchant.once.Do(func() {
		dir, err := os.MkdirTemp("", "cardgate-payments-test")
		if err != nil {
			sandboxMerchant.err = err
			return
		}
		defer os.RemoveAll(dir)
		st, err := sqlite.Open(context.Background(), dir)
		if err != nil {
			sandboxMerchant.err = err
			return
		}
		defer st.Close()
		sandboxMerchant.m, _, sandboxMerchant.err = merchant.EnsureSandbox(context.Background(), st, start)
	})
	if sandboxMerchant.err != nil {
		t.Fatal(sandboxMerchant.err)
	}
	return sandboxMerchant.m
}

// env is one gateway: a fresh SQLite store, the sandbox merchant, the simulator and the service
// sharing one fixed clock.
type env struct {
	st  *sqlite.Store
	raw sqlstore.Conn
	clk *clock.Fixed
	svc *payments.Service
	m   payments.Merchant
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	m := loadMerchant(t)
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFixed(start)
	svc := payments.NewService(st, simulator.New("SIM", clk), clk, slog.New(slog.DiscardHandler), payments.Config{})
	return &env{st: st, raw: st.Raw(), clk: clk, svc: svc, m: payments.Merchant{ID: m.ClientID, FingerprintKey: m.FingerprintKey}}
}

// payJSON is seed 004-34 (Antom's server-to-server card sample) with an expiry far ahead.
const payJSON = `{
  "paymentNotifyUrl": "` + notifyURL + `",
  "paymentRequestId": "",
  "env": {"terminalType": "WEB", "clientIp": "114.121.121.01"},
  "paymentAmount": {"currency": "SGD", "value": "4200"},
  "productCode": "CASHIER_PAYMENT",
  "paymentRedirectUrl": "http://www.yourRedirectUrl.com",
  "paymentFactor": {"isAuthorization": true, "captureMode": "AUTOMATIC"},
  "paymentMethod": {
    "paymentMethodMetaData": {
      "cvv": "712",
      "cardholderName": {"firstName": "Alan", "lastName": "Wallex"},
      "expiryMonth": "06",
      "expiryYear": "99",
      "cardNo": ""
    },
    "paymentMethodType": "CARD"
  },
  "order": {
    "orderAmount": {"currency": "SGD", "value": "4200"},
    "referenceOrderId": "3232db07-91f7-4364-85bc-829a4c1c653f",
    "orderDescription": "antom test order",
    "buyer": {"referenceBuyerId": "yourBuyerId"}
  }
}`

func samplePayRequest(t testing.TB, pan, requestID string, mode payments.CaptureMode) *protocol.PayRequest {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(payJSON), &m); err != nil {
		t.Fatal(err)
	}
	m["paymentRequestId"] = requestID
	m["paymentFactor"].(map[string]any)["captureMode"] = string(mode)
	m["paymentMethod"].(map[string]any)["paymentMethodMetaData"].(map[string]any)["cardNo"] = pan
	addLocalFields(m, pan)
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var req protocol.PayRequest
	if err := protocol.Decode(body, &req); err != nil {
		t.Fatal(err)
	}
	return &req
}

func (e *env) pay(t testing.TB, pan, requestID string, mode payments.CaptureMode) payments.Payment {
	t.Helper()
	p, err := e.svc.Pay(context.Background(), e.m, samplePayRequest(t, pan, requestID, mode))
	if err != nil {
		t.Fatalf("pay %s: %v", pan, err)
	}
	return p
}

func sgd(value string) *protocol.Amount { return &protocol.Amount{Currency: "SGD", Value: value} }

func (e *env) capture(p payments.Payment, requestID string) (payments.Txn, payments.Payment, error) {
	return e.svc.Capture(context.Background(), e.m, &protocol.CaptureRequest{CaptureRequestID: requestID, PaymentID: p.ID, CaptureAmount: sgd(p.Amount.Value())})
}

func (e *env) cancel(p payments.Payment) (payments.Payment, error) {
	return e.svc.Cancel(context.Background(), e.m, &protocol.CancelRequest{PaymentID: p.ID})
}

func (e *env) refund(p payments.Payment, requestID, value string) (payments.Txn, payments.Payment, error) {
	return e.svc.Refund(context.Background(), e.m, &protocol.RefundRequest{RefundRequestID: requestID, PaymentID: p.ID, RefundAmount: sgd(value)})
}

// runDue runs everything due now, as the jobs runner would, until nothing is left.
func (e *env) runDue(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	for range 10 {
		items, err := e.svc.DueWork(ctx, e.clk.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			return
		}
		for _, d := range items {
			if err := e.svc.RunDue(ctx, d); err != nil {
				t.Fatalf("RunDue %+v: %v", d, err)
			}
		}
	}
	t.Fatal("due work keeps coming")
}

func (e *env) reload(t testing.TB, p payments.Payment) payments.Payment {
	t.Helper()
	cur, err := e.st.PaymentByID(context.Background(), p.MerchantID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return cur
}

// mark is the position of the rows written so far, to read what an operation adds.
type mark struct{ events, outbox, txns, payments int64 }

func (e *env) mark(t testing.TB) mark {
	t.Helper()
	var m mark
	for _, q := range []struct {
		sql string
		dst *int64
	}{
		{`SELECT coalesce(max(id), 0) FROM payment_events`, &m.events},
		{`SELECT coalesce(max(id), 0) FROM outbox`, &m.outbox},
		{`SELECT count(*) FROM transactions`, &m.txns},
		{`SELECT count(*) FROM payments`, &m.payments},
	} {
		if err := e.raw.QueryRow(context.Background(), q.sql).Scan(q.dst); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// eventRow and outboxRow are what an operation wrote.
type eventRow struct {
	op, from, to, txnID string
}

type outboxRow struct {
	notifyType, ref, url, body string
}

func (e *env) eventsSince(t testing.TB, m mark, paymentID string) []eventRow {
	t.Helper()
	rows, err := e.raw.Query(context.Background(), `SELECT op, from_state, to_state, txn_id, payment_id FROM payment_events WHERE id > ? ORDER BY id`, m.events)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []eventRow
	for rows.Next() {
		var r eventRow
		var pid string
		if err := rows.Scan(&r.op, &r.from, &r.to, &r.txnID, &pid); err != nil {
			t.Fatal(err)
		}
		if pid != paymentID {
			t.Errorf("event %s written for payment %s, not %s", r.op, pid, paymentID)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) outboxSince(t testing.TB, m mark, paymentID string) []outboxRow {
	t.Helper()
	rows, err := e.raw.Query(context.Background(), `SELECT notify_type, ref, url, body, payment_id FROM outbox WHERE id > ? ORDER BY id`, m.outbox)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		var pid string
		if err := rows.Scan(&r.notifyType, &r.ref, &r.url, &r.body, &pid); err != nil {
			t.Fatal(err)
		}
		if pid != paymentID {
			t.Errorf("outbox row %s written for payment %s, not %s", r.notifyType, pid, paymentID)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func ops(rows []eventRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.op)
	}
	return out
}

func notifyTypes(rows []outboxRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.notifyType)
	}
	return out
}

func (e *env) txns(t testing.TB, p payments.Payment) []payments.Txn {
	t.Helper()
	txns, err := e.st.Txns(context.Background(), p.MerchantID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return txns
}

func (e *env) lastTxn(t testing.TB, p payments.Payment, typ payments.TxnType) payments.Txn {
	t.Helper()
	var found payments.Txn
	for _, x := range e.txns(t, p) {
		if x.Type == typ {
			found = x
		}
	}
	if found.ID == "" {
		t.Fatalf("payment %s has no %s transaction", p.ID, typ)
	}
	return found
}

func code(err error) string { return protocol.ResultOf(err).ResultCode }

func must[T any](t testing.TB, v T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var _ = fmt.Sprint
