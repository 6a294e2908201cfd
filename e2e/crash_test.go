package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
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
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/protocol"
)

// instance is one `cardgate serve` process on a fixed address, so it can be killed and restarted
// where clients expect it.
type instance struct {
	t      *testing.T
	addr   string
	args   []string
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	logs   *syncBuffer
	ready  string // its --ready-file
	starts int
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newInstance(t *testing.T, args ...string) *instance {
	in := &instance{t: t, addr: freeAddr(t), args: args, logs: &syncBuffer{}, ready: filepath.Join(t.TempDir(), "ready.json")}
	t.Cleanup(func() { in.kill(syscall.SIGTERM) })
	return in
}

// start runs the process and waits for its banner; it fails the test if the process does not
// come up. Only the test's own goroutine may call it (it may call t.Fatal).
func (in *instance) start() {
	in.t.Helper()
	if err := in.tryStart(); err != nil {
		in.t.Fatal(err)
	}
}

// tryStart runs the process and waits for its banner. Any goroutine may call it.
func (in *instance) tryStart() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	args := append([]string{"serve", "--addr", in.addr, "--ready-file", in.ready}, in.args...)
	cmd := exec.Command(binary, args...)
	cmd.Stderr = in.logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start serve: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	if _, err := waitReady(in.ready, done, 90*time.Second); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%w:\n%s", err, in.logs.Bytes())
	}
	in.cmd, in.done = cmd, done
	in.starts++
	return nil
}

// kill sends sig and waits for the process to end.
func (in *instance) kill(sig syscall.Signal) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(sig)
	select {
	case <-in.done:
	case <-time.After(15 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.done
	}
	in.cmd = nil
}

// receiver counts notifications by (notifyType, paymentId) and acknowledges them all.
type receiver struct {
	mu    sync.Mutex
	seen  map[string]int
	total atomic.Int64
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var n struct {
		NotifyType string `json:"notifyType"`
		PaymentID  string `json:"paymentId"`
		RefundID   string `json:"refundId"`
	}
	_ = json.Unmarshal(body, &n)
	r.mu.Lock()
	r.seen[n.NotifyType+" "+n.PaymentID+" "+n.RefundID]++
	r.mu.Unlock()
	r.total.Add(1)
	_, _ = io.WriteString(w, client.Acknowledgement)
}

func (r *receiver) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[key]
}

// crashConfig describes one crash run.
type crashConfig struct {
	instances int
	storeArgs []string // --data DIR or --database URL
	payments  int
	kills     int
	workers   int
	// holdEvery: every holdEvery-th payment uses a card whose authorization takes 2 s, so that
	// kills catch authorizations in flight: alternately 4000000000000077 (booked by the acquirer,
	// then held) and 4000000000000085 (2 s on its way to the acquirer, so never booked when the
	// sender is killed meanwhile).
	holdEvery int
	// failoverEvery: every failoverEvery-th payment (offset by one from holdEvery's) fails over,
	// alternately 4000000000000309 (the first acquirer fails technically) and 4000000000000325
	// (the first acquirer's answer is lost, so it is reversed before the next is asked).
	failoverEvery int
}

// inFlightLease is payments.DefaultInFlightLease, which serve uses: the in-flight payments of a
// killed instance must be final within it plus a minute of the kill.
const inFlightLease = time.Minute

// inFlight is a payment whose authorization was in flight on an instance that was killed: its
// pay answered U; killedAt is the kill that broke its first attempt, finalAt when an inquiry first
// showed its final state.
type inFlight struct {
	paymentID    string
	killedAt     time.Time
	finalAt      time.Time
	status, code string
	// lapsedAt is when its lease ran out: paymentCreateTime (to the second) plus the lease.
	lapsedAt time.Time
}

// outcome is what a merchant learned of one payment.
type outcome struct {
	requestID, paymentID string
	payStatus            string
	captured             bool
	refunded             int64
	inFlight             *inFlight
}

// crashRun drives payments with captures and refunds through cfg.instances processes on one
// store while SIGKILLing a random one cfg.kills times and restarting it, then checks what every
// merchant-visible success left behind.
func crashRun(t *testing.T, cfg crashConfig) {
	initOut := cardgate(t, append([]string{"init", "--json"}, cfg.storeArgs...)...)
	var creds merchant.Credentials
	if err := json.Unmarshal(initOut, &creds); err != nil {
		t.Fatal(err)
	}
	recv := &receiver{seen: map[string]int{}}
	hook := httptest.NewServer(recv)
	defer hook.Close()

	var insts []*instance
	for range cfg.instances {
		insts = append(insts, newInstance(t, append([]string{"--log-level", "warn", "--jobs-interval", "200ms"}, cfg.storeArgs...)...))
	}
	var wg sync.WaitGroup
	for _, in := range insts {
		wg.Add(1)
		go func() { defer wg.Done(); in.start() }() // all at once: migrations race on an empty store
	}
	wg.Wait()

	clients := make([]*client.Client, len(insts))
	for i, in := range insts {
		c, err := client.New(client.Config{BaseURL: "http://" + in.addr, ClientID: creds.ClientID,
			PrivateKey: creds.MerchantPrivateKey, GatewayPublicKey: creds.GatewayPublicKey,
			// Longer than a duplicate pay may wait for its first request (AcquirerTimeout + 2 s), so
			// a replay gets its answer rather than a client timeout.
			HTTPClient: &http.Client{Timeout: 15 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	// callAt retries a request on another instance until one answers: the same request id makes
	// the retry safe (idempotency), which is exactly what a merchant does on a timeout. It
	// returns when the first attempt failed (zero if none did).
	callAt := func(do func(c *client.Client) error) (time.Time, error) {
		var err error
		var failedAt time.Time
		for attempt := range 60 {
			if err = do(clients[(attempt+rand.IntN(len(clients)))%len(clients)]); err == nil {
				return failedAt, nil
			}
			if failedAt.IsZero() {
				failedAt = time.Now()
			}
			time.Sleep(100 * time.Millisecond)
		}
		return failedAt, err
	}
	call := func(do func(c *client.Client) error) error {
		_, err := callAt(do)
		return err
	}
	// The kills, in order, to tell which one broke an attempt.
	var killsMu sync.Mutex
	var killTimes []time.Time
	killBefore := func(t time.Time) time.Time {
		killsMu.Lock()
		defer killsMu.Unlock()
		var last time.Time
		for _, k := range killTimes {
			if !k.After(t) {
				last = k
			}
		}
		return last
	}
	// watch polls a payment left in flight by a kill until an inquiry shows it final.
	var watchers sync.WaitGroup
	watch := func(f *inFlight) {
		defer watchers.Done()
		deadline := f.killedAt.Add(inFlightLease + 90*time.Second)
		for time.Now().Before(deadline) {
			inq, err := clients[rand.IntN(len(clients))].InquiryPayment(context.Background(), &protocol.InquiryPaymentRequest{PaymentID: f.paymentID})
			if err == nil && inq.Result.ResultStatus == "S" && inq.PaymentStatus != "PROCESSING" {
				f.finalAt, f.status, f.code = time.Now(), inq.PaymentStatus, inq.PaymentResultCode
				if created, err := time.Parse(time.RFC3339, inq.PaymentCreateTime); err == nil {
					f.lapsedAt = created.Add(inFlightLease)
				}
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	results := make([]outcome, cfg.payments)
	var next atomic.Int64
	stop := make(chan struct{})
	type killerResult struct {
		kills int
		err   error
	}
	killerDone := make(chan killerResult, 1)
	go func() {
		kills := 0
		for kills < cfg.kills {
			select {
			case <-stop:
				killerDone <- killerResult{kills, nil}
				return
			case <-time.After(time.Duration(300+rand.IntN(500)) * time.Millisecond):
			}
			in := insts[rand.IntN(len(insts))]
			killsMu.Lock()
			killTimes = append(killTimes, time.Now())
			killsMu.Unlock()
			in.kill(syscall.SIGKILL)
			kills++
			if err := in.tryStart(); err != nil {
				killerDone <- killerResult{kills, fmt.Errorf("restart after kill %d: %w", kills, err)}
				return
			}
		}
		killerDone <- killerResult{kills, nil}
	}()
	var workers sync.WaitGroup
	var callErrs atomic.Int64
	for range cfg.workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			ctx := context.Background()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.payments {
					return
				}
				o := &results[i]
				pan := "4242424242424242"
				if cfg.holdEvery > 0 && i%cfg.holdEvery == 0 {
					pan = []string{"4000000000000077", "4000000000000085"}[i/cfg.holdEvery%2]
				}
				if cfg.failoverEvery > 0 && i%cfg.failoverEvery == 1 {
					pan = []string{"4000000000000309", "4000000000000325"}[i/cfg.failoverEvery%2]
				}
				req := payRequest(pan, "123")
				req.PaymentNotifyURL = hook.URL + "/notify"
				o.requestID = req.PaymentRequestID
				manual := i%2 == 0
				if manual {
					req.PaymentFactor.CaptureMode = "MANUAL"
				}
				var pay *protocol.PayResponse
				failedAt, err := callAt(func(c *client.Client) (err error) { pay, err = c.Pay(ctx, req); return })
				if err != nil {
					callErrs.Add(1)
					continue
				}
				o.paymentID, o.payStatus = pay.PaymentID, pay.Result.ResultStatus
				if pay.Result.ResultStatus == "U" && !failedAt.IsZero() {
					// The instance that sent the authorization was killed during it.
					o.inFlight = &inFlight{paymentID: pay.PaymentID, killedAt: killBefore(failedAt)}
					watchers.Add(1)
					go watch(o.inFlight)
				}
				if pay.Result.ResultStatus != "S" {
					continue
				}
				o.captured = !manual
				if manual {
					creq := &protocol.CaptureRequest{CaptureRequestID: "cap-" + req.PaymentRequestID, PaymentID: pay.PaymentID, CaptureAmount: req.PaymentAmount}
					var cap *protocol.CaptureResponse
					if err := call(func(c *client.Client) (err error) { cap, err = c.Capture(ctx, creq); return }); err == nil && cap.Result.ResultStatus == "S" {
						o.captured = true
					}
				}
				if o.captured {
					rreq := &protocol.RefundRequest{RefundRequestID: "ref-" + req.PaymentRequestID, PaymentID: pay.PaymentID,
						RefundAmount: &protocol.Amount{Currency: "SGD", Value: "1000"}}
					var ref *protocol.RefundResponse
					if err := call(func(c *client.Client) (err error) { ref, err = c.Refund(ctx, rreq); return }); err == nil && ref.Result.ResultStatus == "S" {
						o.refunded = 1000
					}
				}
			}
		}()
	}
	workers.Wait()
	close(stop)
	kr := <-killerDone
	if kr.err != nil {
		t.Fatal(kr.err)
	}
	kills := kr.kills
	watchers.Wait()
	checkInFlight(t, results, recv)

	// Let the survivors (and restarted instances) finish the deliveries, then check.
	for _, in := range insts {
		in.mu.Lock()
		alive := in.cmd != nil
		in.mu.Unlock()
		if !alive {
			in.start()
		}
	}
	verify(t, cfg, insts, clients, results, recv, kills, callErrs.Load())
	switch cfg.storeArgs[0] {
	case "--data":
		checkHolds(t, readHolds(t, "sqlite", "file:"+filepath.Join(cfg.storeArgs[1], sqlite.FileName)+"?mode=ro&_pragma=busy_timeout(5000)"))
	case "--database":
		checkHolds(t, readHolds(t, "pgx", cfg.storeArgs[1]))
	}
}

// holdsQuery puts each payment beside the simulated acquirers' books (the ledger every instance
// shares through the store): its state, its void, how many unreversed approvals the acquirers
// hold for it, and how many times it failed over.
const holdsQuery = `SELECT p.payment_id, p.state, p.void_state,
	(SELECT count(*) FROM sim_acquirer_ledger l WHERE l.payment_ref LIKE '%/' || p.payment_id
		AND l.reversed = 0 AND l.result LIKE '%"Outcome":1,%'),
	(SELECT count(*) FROM payment_events e WHERE e.payment_id = p.payment_id AND e.op = 'FAILOVER')
	FROM payments p`

type holdRow struct {
	id, state, void  string
	holds, failovers int
}

// readHolds runs holdsQuery on the gateway's database, through database/sql as an auditor would.
func readHolds(t *testing.T, driver, dsn string) []holdRow {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(holdsQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []holdRow
	for rows.Next() {
		var r holdRow
		if err := rows.Scan(&r.id, &r.state, &r.void, &r.holds, &r.failovers); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkHolds reads the simulated acquirers' books beside the gateway's payments: no payment is
// authorized at two acquirers, a successful one holds at exactly one, and one that did not
// succeed holds nowhere unless its void went out.
func checkHolds(t *testing.T, rows []holdRow) {
	var payments, failedOver int
	for _, r := range rows {
		id, state, void, holds, failovers := r.id, r.state, r.void, r.holds, r.failovers
		payments++
		if failovers > 0 {
			failedOver++
		}
		switch {
		case holds > 1:
			t.Errorf("payment %s (%s) is authorized at %d acquirers", id, state, holds)
		case state == "SUCCESS" && holds != 1:
			t.Errorf("payment %s is SUCCESS with %d holds at the acquirers", id, holds)
		case state != "SUCCESS" && holds == 1 && void != "DONE":
			t.Errorf("payment %s is %s and left a hold at an acquirer (void %q)", id, state, void)
		}
	}
	t.Logf("acquirers' books: %d payments, %d of them failed over, none authorized twice or left holding", payments, failedOver)
	if failedOver == 0 {
		t.Error("no payment failed over: the run proves nothing about failover")
	}
}

func verify(t *testing.T, cfg crashConfig, insts []*instance, clients []*client.Client, results []outcome, recv *receiver, kills int, callErrs int64) {
	ctx := context.Background()
	var answeredS, captured, refunded, lost, duplicates, delivered int
	deadline := time.Now().Add(60 * time.Second)
	for _, o := range results {
		if o.payStatus != "S" {
			continue
		}
		answeredS++
		var inq *protocol.InquiryPaymentResponse
		var err error
		for {
			inq, err = clients[0].InquiryPayment(ctx, &protocol.InquiryPaymentRequest{PaymentID: o.paymentID})
			// An automatic capture lost to a kill is made by the due-work runner once its grace
			// has passed; a capture or refund lost mid-call is asked about again a minute later.
			if err != nil || !o.captured || hasCapture(inq) || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if err != nil || inq.Result.ResultCode != "SUCCESS" || inq.PaymentStatus != "SUCCESS" {
			t.Errorf("payment %s answered S but inquires as %+v (%v)", o.paymentID, inq, err)
			continue
		}
		var captures, refundsOK int
		var refundSum int64
		for _, tx := range inq.Transactions {
			switch {
			case tx.TransactionType == "CAPTURE" && tx.TransactionStatus == "SUCCESS":
				captures++
			case tx.TransactionType == "REFUND" && tx.TransactionStatus == "SUCCESS":
				refundsOK++
				var v int64
				fmt.Sscan(tx.TransactionAmount.Value, &v)
				refundSum += v
			}
		}
		if captures > 1 {
			t.Errorf("payment %s captured %d times", o.paymentID, captures)
		}
		if o.captured && captures != 1 {
			t.Errorf("payment %s: capture answered S but inquiry shows %d captures", o.paymentID, captures)
		}
		if refundSum > 4200 || (o.refunded > 0 && refundsOK != 1) {
			t.Errorf("payment %s: refunds %d (sum %d), merchant saw %d", o.paymentID, refundsOK, refundSum, o.refunded)
		}
		if captures == 1 {
			captured++
		}
		refunded += refundsOK
		// Every success is notified at least once.
		key := protocol.NotifyTypePaymentResult + " " + o.paymentID + " "
		for recv.count(key) == 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		switch n := recv.count(key); {
		case n == 0:
			lost++
		case n > 1:
			duplicates += n - 1
			delivered++
		default:
			delivered++
		}
	}
	t.Logf("%d instances, %d payments, %d answered S, %d captured, %d refunds, %d kills (restarts: %v), %d calls that never got an answer; "+
		"PAYMENT_RESULT delivered %d, duplicates %d, lost %d; notifications received in all %d",
		cfg.instances, len(results), answeredS, captured, refunded, kills, starts(insts), callErrs, delivered, duplicates, lost, recv.total.Load())
	if lost != 0 {
		t.Errorf("%d payments answered S were never notified", lost)
	}
	if callErrs != 0 {
		t.Errorf("%d calls never got an answer from any instance", callErrs)
	}
	if answeredS < len(results)/2 {
		t.Errorf("only %d of %d payments answered S: the run proves little", answeredS, len(results))
	}
	if kills < cfg.kills {
		t.Errorf("only %d kills happened", kills)
	}
}

// checkInFlight requires every payment left in flight by a kill to be final within the in-flight
// lease plus a minute of the kill (not at its 14-minute expiry), and reports the kill→final times.
func checkInFlight(t *testing.T, results []outcome, recv *receiver) {
	var took, afterLapse []time.Duration
	statuses := map[string]int{}
	for _, o := range results {
		f := o.inFlight
		if f == nil {
			continue
		}
		if f.finalAt.IsZero() {
			t.Errorf("payment %s, in flight at the kill at %s, still not final %s later", f.paymentID, f.killedAt.Format(time.TimeOnly), time.Since(f.killedAt).Round(time.Second))
			continue
		}
		d := f.finalAt.Sub(f.killedAt)
		took = append(took, d)
		if !f.lapsedAt.IsZero() {
			afterLapse = append(afterLapse, f.finalAt.Sub(f.lapsedAt))
		}
		statuses[f.status+" "+f.code]++
		if d > inFlightLease+time.Minute {
			t.Errorf("payment %s final %s after the kill, more than the lease (%s) and a minute", f.paymentID, d.Round(time.Millisecond), inFlightLease)
		}
		if f.code == "ORDER_IS_CLOSED" {
			t.Errorf("payment %s was closed by its expiry, not resolved", f.paymentID)
		}
		// Its result, whichever it is, reaches the merchant.
		key := protocol.NotifyTypePaymentResult + " " + f.paymentID + " "
		for deadline := time.Now().Add(30 * time.Second); recv.count(key) == 0 && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
		}
		if recv.count(key) == 0 {
			t.Errorf("payment %s resolved %s %s but never notified", f.paymentID, f.status, f.code)
		}
	}
	if len(took) == 0 {
		t.Errorf("no kill caught an authorization in flight: the run proves nothing about them")
		return
	}
	slices.Sort(took)
	slices.Sort(afterLapse)
	t.Logf("%d payments in flight at a kill, all final: kill→final median %s, max %s, min %s; outcomes %v",
		len(took), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), took[0].Round(time.Millisecond), statuses)
	if len(afterLapse) > 0 {
		t.Logf("lease lapse→final (the lapse known to the second): median %s, max %s",
			afterLapse[len(afterLapse)/2].Round(time.Millisecond), afterLapse[len(afterLapse)-1].Round(time.Millisecond))
	}
}

func hasCapture(inq *protocol.InquiryPaymentResponse) bool {
	for _, tx := range inq.Transactions {
		if tx.TransactionType == "CAPTURE" && tx.TransactionStatus == "SUCCESS" {
			return true
		}
	}
	return false
}

func starts(insts []*instance) []int {
	var out []int
	for _, in := range insts {
		out = append(out, in.starts)
	}
	return out
}

// TestCrashSQLite: one instance on the embedded store, killed with SIGKILL again and again while
// payments, captures and refunds flow; after restarts every success is stored and notified,
// nothing is captured twice, and the payments whose authorization was in flight at a kill are
// final within a minute of its lease.
func TestCrashSQLite(t *testing.T) {
	crashRun(t, crashConfig{instances: 1, storeArgs: []string{"--data", t.TempDir()}, payments: 300, kills: 5, workers: 4, holdEvery: 10, failoverEvery: 5})
}
