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
	"github.com/cardgate/cardgate/protocol"
)

// Delivery throughput (README "Performance"): b.N notifications through the dispatcher and the
// real SQLite outbox to a local receiver that acknowledges, against the floor of the same number
// of signed POSTs made directly, with as many in flight, and no store. Run with e.g.
//
//	go test -run '^$' -bench 'Delivery|BarePost' -benchtime 2000x ./internal/notify

// countingStore signals when every message has its attempt recorded.
type countingStore struct {
	notify.Store
	recorded atomic.Int64
	released atomic.Int64
	want     int64
	done     chan struct{}
}

func (s *countingStore) RecordAttempt(ctx context.Context, m notify.Message, a notify.Attempt) error {
	err := s.Store.RecordAttempt(ctx, m, a)
	if s.recorded.Add(1) == s.want {
		close(s.done)
	}
	return err
}

// Release counts the leases given back unused: each is one more write to the store.
func (s *countingStore) Release(ctx context.Context, id int64) error {
	s.released.Add(1)
	return s.Store.Release(ctx, id)
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

// BenchmarkDelivery: merchants=1 is bounded by the per-merchant limit (4 in flight); merchants=16
// spreads the load so the global limit (64) applies.
func BenchmarkDelivery(b *testing.B) {
	for _, merchants := range []int{1, 16} {
		b.Run(fmt.Sprintf("merchants=%d", merchants), func(b *testing.B) {
			ids := make([]string, merchants)
			for i := range ids {
				ids[i] = fmt.Sprintf("M%02d", i)
			}
			o := newOutbox(b, ids...)
			srv, hits := ackServer(b)
			tx, err := o.store.DB().Begin()
			if err != nil {
				b.Fatal(err)
			}
			for i := range b.N {
				m := ids[i%merchants]
				_, err := tx.Exec(`INSERT INTO outbox (client_id, payment_id, notify_type, ref, url, body, next_attempt_at, created_at)
					VALUES (?,?,?,?,?,?,?,?)`, m, payOf(m), "PAYMENT_RESULT", fmt.Sprintf("bench-%d", i), srv.URL+"/notify",
					fmt.Sprintf(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"},"paymentId":"%s","n":%d}`, payOf(m), i),
					t0.UnixMilli(), t0.UnixMilli())
				if err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			cs := &countingStore{Store: o.store, want: int64(b.N), done: make(chan struct{})}
			d := notify.New(cs, testKey(b), clock.NewFixed(t0), quietLog(), sandbox(notify.Config{Timeout: 10 * time.Second}))
			ctx, cancel := context.WithCancel(context.Background())
			b.ResetTimer()
			start := time.Now()
			done := make(chan struct{})
			go func() {
				defer close(done)
				d.Run(ctx)
			}()
			select {
			case <-cs.done:
			case <-time.After(5 * time.Minute):
				b.Fatalf("only %d of %d attempts recorded", cs.recorded.Load(), b.N)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			<-done
			var delivered int
			if err := o.store.DB().QueryRow(`SELECT count(*) FROM outbox WHERE status = 'DELIVERED'`).Scan(&delivered); err != nil {
				b.Fatal(err)
			}
			if delivered != b.N || hits.Load() != int64(b.N) {
				b.Fatalf("%d delivered, %d posts, want %d", delivered, hits.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "notifications/s")
			b.ReportMetric(float64(cs.released.Load())/float64(b.N), "releases/op")
		})
	}
}

// BenchmarkBarePost is the floor: sign (RSA-SHA256) and POST each body, read and parse the
// acknowledgement, with as many workers as the dispatcher has deliveries in flight.
func BenchmarkBarePost(b *testing.B) {
	for _, workers := range []int{4, 64} {
		b.Run(fmt.Sprintf("inflight=%d", workers), func(b *testing.B) {
			srv, hits := ackServer(b)
			key := testKey(b)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
			defer hc.CloseIdleConnections()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
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
			b.StopTimer()
			if hits.Load() != int64(b.N) {
				b.Fatalf("%d posts, want %d", hits.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "notifications/s")
		})
	}
}
