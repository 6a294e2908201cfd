package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
	"github.com/cardgate/cardgate/protocol"
)

// Delivery throughput (docs/performance.md "Notification delivery under load"): notifications
// through the dispatcher and the real SQLite outbox to a local receiver that acknowledges,
// against the floor measured in the same run: the same number of signed POSTs made directly, with
// as many in flight, and no store. The ratio is what to compare across machines. Run with e.g.
//
//	go test -run '^$' -bench Delivery -benchtime 5000x ./internal/notify

// countingStore signals when every message has its attempt recorded.
type countingStore struct {
	notify.Store
	recorded atomic.Int64
	released atomic.Int64
	commits  atomic.Int64
	want     int64
	done     chan struct{}
}

func (s *countingStore) count(n int) {
	if s.recorded.Add(int64(n)) == s.want {
		close(s.done)
	}
}

func (s *countingStore) RecordAttempt(ctx context.Context, m notify.Message, a notify.Attempt) error {
	err := s.Store.RecordAttempt(ctx, m, a)
	s.commits.Add(1)
	s.count(1)
	return err
}

func (s *countingStore) RecordAttempts(ctx context.Context, recs []notify.Recorded) error {
	err := s.Store.RecordAttempts(ctx, recs)
	s.commits.Add(1)
	if err == nil {
		s.count(len(recs))
	}
	return err
}

// Release counts the leases given back unused: each is one more write to the store.
func (s *countingStore) Release(ctx context.Context, ids ...int64) error {
	s.released.Add(int64(len(ids)))
	return s.Store.Release(ctx, ids...)
}

func ackServer(tb testing.TB) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, ack)
	}))
	tb.Cleanup(srv.Close)
	return srv, &n
}

// BenchmarkDelivery: one merchant (its bound of 32 in flight applies), sixteen (the global
// bound of 128), and a backlog of 20,000 already due when the dispatcher starts (the drain rate
// after an outage or a burst). Each reports delivered/s, the bare floor's /s and their ratio.
func BenchmarkDelivery(b *testing.B) {
	for _, c := range []struct {
		name      string
		merchants int
		backlog   int // at least this many messages, all due before the dispatcher starts
	}{
		{"merchants=1", 1, 0},
		{"merchants=16", 16, 0},
		{"backlog=20000", 16, 20000},
	} {
		b.Run(c.name, func(b *testing.B) {
			// Every case writes all its messages before the dispatcher starts and times their
			// delivery; a backlog case delivers its whole backlog whatever b.N is.
			n := max(b.N, c.backlog)
			inflight := min(c.merchants*notify.DefaultPerMerchant, notify.DefaultConcurrency)
			b.StopTimer()
			bare := barePosts(b, n, inflight)
			delivered, released, commits := dispatchAll(b, n, c.merchants)
			b.StartTimer()
			b.ReportMetric(delivered, "delivered/s")
			b.ReportMetric(bare, "bare/s")
			b.ReportMetric(delivered/bare, "ratio")
			b.ReportMetric(released/float64(n), "releases/msg")
			b.ReportMetric(float64(n)/commits, "attempts/commit")
		})
	}
}

// dispatchAll writes n due messages spread over merchants and times the dispatcher delivering
// them all; it returns delivered/s, leases released and attempt commits.
func dispatchAll(b *testing.B, n, merchants int) (rate, released, commits float64) {
	ids := make([]string, merchants)
	for i := range ids {
		ids[i] = fmt.Sprintf("M%02d", i)
	}
	o := newOutbox(b, ids...)
	srv, hits := ackServer(b)
	err := o.store.InTx(context.Background(), func(tx sqlstore.Conn) error {
		for i := range n {
			m := ids[i%merchants]
			if _, err := tx.Exec(context.Background(), `INSERT INTO outbox (client_id, payment_id, notify_type, ref, url, body, next_attempt_at, created_at)
				VALUES (?,?,?,?,?,?,?,?)`, m, payOf(m), "PAYMENT_RESULT", fmt.Sprintf("bench-%d", i), srv.URL+"/notify",
				fmt.Sprintf(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"},"paymentId":"%s","n":%d}`, payOf(m), i),
				t0.UnixMilli(), t0.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	cs := &countingStore{Store: o.store, want: int64(n), done: make(chan struct{})}
	d := notify.New(cs, testKey(b), clock.NewFixed(t0), quietLog(), sandbox(notify.Config{Timeout: 10 * time.Second}))
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	select {
	case <-cs.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d attempts recorded", cs.recorded.Load(), n)
	}
	elapsed := time.Since(start)
	cancel()
	<-done
	var ok int
	if err := o.store.Raw().QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE status = 'DELIVERED'`).Scan(&ok); err != nil {
		b.Fatal(err)
	}
	if ok != n || hits.Load() != int64(n) {
		b.Fatalf("%d delivered, %d posts, want %d", ok, hits.Load(), n)
	}
	return float64(n) / elapsed.Seconds(), float64(cs.released.Load()), float64(cs.commits.Load())
}

// barePosts is the floor: sign (RSA-SHA256) and POST n bodies, read and parse the
// acknowledgement, with as many workers as the dispatcher has deliveries in flight; it returns
// posts per second.
func barePosts(b *testing.B, n, workers int) float64 {
	srv, hits := ackServer(b)
	key := testKey(b)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				body := []byte(fmt.Sprintf(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"},"paymentId":"PAY-M00","n":%d}`, i))
				reqTime := protocol.FormatTime(time.Now().UTC())
				sig, err := protocol.Sign(key.Private, protocol.SigningContent("POST", "/notify", "M00", reqTime, body))
				if err != nil {
					b.Error(err)
					return
				}
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/notify", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json; charset=UTF-8")
				req.Header["client-id"] = []string{"M00"}
				req.Header["request-time"] = []string{reqTime}
				req.Header["signature"] = []string{protocol.SignatureHeader{KeyVersion: "1", Signature: sig}.String()}
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var r protocol.ErrorResponse
				if err := json.Unmarshal(raw, &r); err != nil || r.Result.ResultStatus != "S" {
					b.Errorf("ack %q: %v", raw, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if hits.Load() != int64(n) {
		b.Fatalf("%d posts, want %d", hits.Load(), n)
	}
	return float64(n) / elapsed.Seconds()
}
