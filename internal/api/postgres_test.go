package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cardgate/cardgate/internal/store/postgres"
	"github.com/cardgate/cardgate/internal/store/postgres/pgtest"
)

// openPostgres opens a store on a fresh schema of the test server (CARDGATE_TEST_POSTGRES, as
// the store contract suite uses it), dropped when the test ends. It fails, never skips, when the
// server cannot be reached.
func openPostgres(t testing.TB) *postgres.Store { return openPostgresWith(t, nil) }

// openPostgresWith is openPostgres with tune applied to the pool's configuration.
func openPostgresWith(t testing.TB, tune func(*pgxpool.Config)) *postgres.Store {
	t.Helper()
	u := pgtest.FreshSchema(t, "cg_api")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := postgres.OpenWith(ctx, u, tune)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestIDsOnPostgres is the attack's item on the store that failed it: a NUL (or invalid UTF-8)
// in an id reached PostgreSQL, which answered SQLSTATE 22021, and the merchant got
// U/UNKNOWN_EXCEPTION — an invitation to retry for ever. Every call now answers F/PARAM_ILLEGAL
// naming the field, on PostgreSQL as on SQLite, and logs no ERROR.
func TestIDsOnPostgres(t *testing.T) {
	logs := &logBuffer{}
	s := newStackWith(t, stackOptions{postgres: true, log: slogTo(logs)})
	paid := s.pay(t, payRequest(t, "pg-ids-1"))
	expectResult(t, paid, "SUCCESS", "S")
	for _, a := range []struct{ path, field, body string }{
		{liveInquiry, "paymentId", `{"paymentId":"P\u0000"}`},
		{liveInquiry, "paymentRequestId", `{"paymentRequestId":"pg-ids-1\u0000"}`},
		{livePay, "paymentRequestId", ""},
		{liveCancel, "paymentId", `{"paymentId":"\u0000"}`},
		{liveCapture, "paymentId", `{"captureRequestId":"c1","paymentId":"P\u0000","captureAmount":{"currency":"SGD","value":"4200"}}`},
		{liveRefund, "refundRequestId", `{"refundRequestId":"r\u0000","paymentId":"P1","refundAmount":{"currency":"SGD","value":"1"}}`},
		{liveInquiryRefund, "refundId", `{"refundId":"R\u0000"}`},
		{liveInquiryRefund, "refundRequestId", "{\"refundRequestId\":\"R\xff\"}"},
	} {
		body := []byte(a.body)
		if a.path == livePay {
			req := payRequest(t, "@ID@")
			body = bytes.Replace(mustJSON(t, req), []byte(`"@ID@"`), []byte(`"R\u0000"`), 1)
		}
		r := s.call(t, a.path, body)
		expectResult(t, r, "PARAM_ILLEGAL", "F")
		if got := r.message(); !bytes.HasPrefix([]byte(got), []byte(a.field+" ")) {
			t.Errorf("%s: resultMessage %q, want it to name %s", a.path, got, a.field)
		}
	}
	// The good payment is still found, by both its ids.
	expectResult(t, s.inquire(t, map[string]any{"paymentRequestId": "pg-ids-1"}), "SUCCESS", "S")
	if n := logs.count("level=ERROR"); n != 0 {
		t.Errorf("%d ERROR lines for refused ids", n)
	}
}

func slogTo(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestPayRoundTripsOnPostgres counts what an approved pay costs on the wire to PostgreSQL, end to
// end through the API (idempotency read, merchant, routing, the acquirer's books, the commits,
// and what runs right after the answer), measured with pgtest.Wire over 20 pays in a row once
// the connections have prepared their statements (a connection of the pool used for the first
// time prepares its own: the parses counted). The poll of the configuration cache runs
// meanwhile (4 reads a second); it is measured alone first and taken off.
func TestPayRoundTripsOnPostgres(t *testing.T) {
	var w pgtest.Wire
	s := newStackWith(t, stackOptions{postgres: true, pgTune: func(c *pgxpool.Config) { c.ConnConfig.DialFunc = w.Dial }})
	for i := range 5 {
		expectResult(t, s.pay(t, payRequest(t, fmt.Sprintf("rt-warm-%d", i))), "SUCCESS", "S")
	}
	time.Sleep(500 * time.Millisecond)
	w.Reset()
	idle := time.Now()
	time.Sleep(time.Second)
	background := float64(w.Counts().RoundTrips) / time.Since(idle).Seconds()

	const pays = 20
	w.Reset()
	began := time.Now()
	for i := range pays {
		expectResult(t, s.pay(t, payRequest(t, fmt.Sprintf("rt-%d", i))), "SUCCESS", "S")
	}
	answered := time.Since(began)
	time.Sleep(300 * time.Millisecond) // what follows the answers
	c := w.Counts()
	perPay := (float64(c.RoundTrips) - background*time.Since(began).Seconds()) / pays
	t.Logf("%d pays in %v: %d round trips, %d statements parsed; background %.1f/s; %.1f round trips per pay",
		pays, answered.Round(time.Millisecond), c.RoundTrips, c.Parses, background, perPay)
	// 25.4 before the batching and the caches (97552e2: each statement, BEGIN and COMMIT a
	// round trip of its own, the merchant two reads and the routing document one per pay).
	if perPay > 10 {
		t.Errorf("%.1f round trips per pay, want at most 10 (about 6: idempotency read, create, the acquirer's books, three changes)", perPay)
	}
}
