package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/bench"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/protocol"
)

// Pay throughput (README "Performance"): b.N payments with an approved card and automatic capture
// (authorization and capture in every pay) through the real binary on SQLite, on PostgreSQL with
// one instance and with two, against the protocol floor of a pay in the same run: an in-process
// server that verifies the request signature, makes one durable SQLite commit and signs its
// answer. The load is the same in every configuration: payWorkers goroutines, round-robin over the
// instances, one client per instance. Run with
//
//	go test ./e2e -run '^$' -bench PayThroughput -benchtime 2000x

const payWorkers = 16

func BenchmarkPayThroughput(b *testing.B) {
	b.Run("sqlite/instances=1", func(b *testing.B) {
		benchGateways(b, 1, "--data", b.TempDir())
	})
	b.Run("postgres/instances=1", func(b *testing.B) {
		benchGateways(b, 1, "--database", freshSchema(b), "--data", b.TempDir())
	})
	b.Run("postgres/instances=2", func(b *testing.B) {
		benchGateways(b, 2, "--database", freshSchema(b), "--data", b.TempDir())
	})
	b.Run("baseline/minimal-server", benchMinimalServer)
}

// benchGateways initializes the store, starts n `cardgate serve` processes on it and measures.
func benchGateways(b *testing.B, n int, storeArgs ...string) {
	out, err := exec.Command(binary, append([]string{"init", "--json"}, storeArgs...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		b.Fatalf("cardgate init: %v\n%s", err, stderr)
	}
	var creds merchant.Credentials
	if err := json.Unmarshal(out, &creds); err != nil {
		b.Fatalf("init --json output %q: %v", out, err)
	}
	urls := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); urls[i], errs[i] = startBenchServer(b, storeArgs...) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	clients := make([]*client.Client, n)
	for i, u := range urls {
		clients[i] = benchClient(b, u, creds.ClientID, creds.MerchantPrivateKey, creds.GatewayPublicKey)
	}
	measurePays(b, clients)
}

// startBenchServer runs `cardgate serve` on a free port and returns its URL once it listens; the
// process is stopped (SIGTERM) when the benchmark ends.
func startBenchServer(tb testing.TB, storeArgs ...string) (string, error) {
	ready := filepath.Join(tb.TempDir(), "ready.json")
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn", "--ready-file", ready}, storeArgs...)
	cmd := exec.Command(binary, args...)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start serve: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	info, err := waitReady(ready, done, 30*time.Second)
	if err != nil {
		return "", fmt.Errorf("%w:\n%s", err, logs.Bytes())
	}
	return info.URL, nil
}

// benchClient is one merchant client for one instance, with enough idle connections kept for
// every worker to reuse its own.
func benchClient(tb testing.TB, baseURL, clientID, privateKey, gatewayPublicKey string) *client.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	// Idle keep-alive connections would hold the server's graceful shutdown.
	tb.Cleanup(tr.CloseIdleConnections) // runs before the server's stop: cleanups are LIFO
	c, err := client.New(client.Config{BaseURL: baseURL, ClientID: clientID, PrivateKey: privateKey,
		GatewayPublicKey: gatewayPublicKey, HTTPClient: &http.Client{Transport: tr, Timeout: 60 * time.Second}})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// benchPayRequest is an approved card with automatic capture and no notify URL, so the outbox
// stays out of the measurement.
func benchPayRequest() *protocol.PayRequest {
	req := payRequest("4242424242424242", "123")
	req.PaymentRequestID = newRequestID("bench")
	req.PaymentNotifyURL = ""
	req.PaymentFactor.CaptureMode = "AUTOMATIC"
	return req
}

// measurePays warms every client's connections, then sends b.N pays from payWorkers goroutines,
// request i to clients[i%len(clients)], and reports pays/s and latency percentiles. Every answer
// must be S.
func measurePays(b *testing.B, clients []*client.Client) {
	ctx := context.Background()
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	pay := func(c *client.Client) {
		req := benchPayRequest()
		resp, err := c.Pay(ctx, req)
		switch {
		case err != nil:
			fail(fmt.Errorf("pay %s: %w", req.PaymentRequestID, err))
		case resp.Result.ResultStatus != "S":
			fail(fmt.Errorf("pay %s answered %+v", req.PaymentRequestID, resp.Result))
		}
	}
	// Warm-up, untimed: open connections and touch every path once.
	var wg sync.WaitGroup
	for w := range payWorkers {
		wg.Add(1)
		go func() { defer wg.Done(); pay(clients[w%len(clients)]) }()
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}

	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for range payWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				pay(clients[i%len(clients)])
				latencies[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		i := int(p * float64(len(latencies)-1))
		return float64(latencies[i].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pays/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// benchMinimalServer measures the protocol floor of a pay with internal/bench's floor server
// (the one `cardgate bench --baseline` runs): verify the request's RSA signature, decode, one
// durable SQLite commit with cardgate's own pragmas, encode, sign the answer. Nothing else: no
// decoding rules, no payment state, no capture.
func benchMinimalServer(b *testing.B) {
	merchantKey, err := protocol.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	gatewayKey, err := protocol.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	st, err := bench.OpenSQLiteFloor(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(bench.FloorHandler(st, &merchantKey.PublicKey, gatewayKey))
	b.Cleanup(srv.Close)

	priv, err := protocol.EncodePrivateKeyPKCS8(merchantKey)
	if err != nil {
		b.Fatal(err)
	}
	pub, err := protocol.EncodePublicKey(&gatewayKey.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	measurePays(b, []*client.Client{benchClient(b, srv.URL, "SANDBOX_FLOOR", priv, pub)})
}
