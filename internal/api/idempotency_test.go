package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"
)

// timeKeys are the body fields that hold wire times.
var timeKeys = map[string]bool{"paymentCreateTime": true, "paymentTime": true, "authExpiryTime": true, "transactionTime": true,
	"captureTime": true, "refundTime": true, "cancelTime": true, "now": true, "updatedAt": true,
	"disputeTime": true, "defenseDueTime": true, "defenseTime": true, "resolvedTime": true, "disputeResolutionTime": true}

// instants rewrites every time field as its instant in UTC, so that two renderings of one moment
// compare equal whatever offset each was written with.
func instants(t testing.TB, v any) any {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if s, ok := val.(string); ok && timeKeys[k] && s != "" {
				tm, err := time.Parse(time.RFC3339, s)
				if err != nil {
					t.Fatalf("%s = %q is not RFC 3339: %v", k, s, err)
				}
				out[k] = tm.UTC().Format(time.RFC3339)
				continue
			}
			out[k] = instants(t, val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = instants(t, val)
		}
		return out
	}
	return v
}

// expectSameAnswer asserts a replay answered exactly what the first call answered.
func expectSameAnswer(t testing.TB, first, replay response) {
	t.Helper()
	if !reflect.DeepEqual(instants(t, first.body), instants(t, replay.body)) {
		t.Errorf("replay answered differently\nfirst  %s\nreplay %s", first.raw, replay.raw)
	}
	// Byte for byte, too: every time is rendered in one zone whatever the host's TZ (the CI
	// target also runs this package with TZ=Asia/Singapore).
	if !bytes.Equal(first.raw, replay.raw) {
		t.Errorf("replay spelled the answer differently\nfirst  %s\nreplay %s", first.raw, replay.raw)
	}
}

// TestPayIdempotency: a paymentRequestId is authorized at most once; a replay is compared on
// paymentAmount, card and captureMode only (docs/design.md invariant 1, docs/wire.md §6.3).
func TestPayIdempotency(t *testing.T) {
	s := newStack(t)
	const meta = "paymentMethod.paymentMethodMetaData."

	for _, card := range []struct{ name, number, code string }{
		{"approved", approvedCard, "SUCCESS"},
		{"declined", declinedCard, "DO_NOT_HONOR"},
		{"in process", timeoutCard, "PAYMENT_IN_PROCESS"},
	} {
		t.Run(card.name, func(t *testing.T) {
			id := "idem-" + card.name
			base := func() map[string]any {
				m := payRequest(t, id)
				setPath(m, meta+"cardNo", card.number)
				return m
			}
			calls := s.acq.calls.Load()
			first := s.pay(t, base())
			expectResult(t, first, card.code, codeStatus(card.code))
			paymentID := str(first.body, "paymentId")
			if paymentID == "" {
				t.Fatalf("no paymentId in %s", first.raw)
			}
			afterFirst := s.counts(t)

			replay := s.pay(t, base())
			expectSameAnswer(t, first, replay)

			// Fields outside the key are ignored.
			for name, edit := range map[string]func(map[string]any){
				"order description": func(m map[string]any) { setPath(m, "order.orderDescription", "another description") },
				"env": func(m map[string]any) {
					setPath(m, "env", map[string]any{"terminalType": "APP", "osType": "ANDROID", "clientIp": "10.0.0.1"})
					deletePath(m, "order.env")
				},
				"referenceOrderId": func(m map[string]any) { setPath(m, "order.referenceOrderId", "order-2") },
				"cvv":              func(m map[string]any) { deletePath(m, meta+"cvv") },
				"cardholderName":   func(m map[string]any) { setPath(m, meta+"cardholderName", map[string]any{"fullName": "Someone Else"}) },
				"explicit AUTOMATIC": func(m map[string]any) {
					setPath(m, "paymentFactor.captureMode", "AUTOMATIC")
				},
			} {
				m := base()
				edit(m)
				r := s.pay(t, m)
				if str(r.body, "paymentId") != paymentID {
					t.Errorf("replay with a different %s: paymentId %q, want %q", name, str(r.body, "paymentId"), paymentID)
				}
				expectSameAnswer(t, first, r)
			}

			// Key fields that differ are refused, and refused without touching anything.
			for name, edit := range map[string]func(map[string]any){
				"amount":      func(m map[string]any) { setPath(m, "paymentAmount.value", "4201") },
				"currency":    func(m map[string]any) { setPath(m, "paymentAmount.currency", "USD") },
				"card":        func(m map[string]any) { setPath(m, meta+"cardNo", otherApproved) },
				"captureMode": func(m map[string]any) { setPath(m, "paymentFactor.captureMode", "MANUAL") },
			} {
				m := base()
				edit(m)
				r := s.pay(t, m)
				expectResult(t, r, "REPEAT_REQ_INCONSISTENT", "F")
				if str(r.body, "paymentId") != "" {
					t.Errorf("REPEAT_REQ_INCONSISTENT for %s carries a paymentId: %s", name, r.raw)
				}
			}
			s.expectNothingStored(t, afterFirst)
			if got := s.acq.calls.Load() - calls; got != 1 {
				t.Errorf("acquirer saw %d authorizations for one paymentRequestId, want 1", got)
			}

			// The original payment is untouched by the refused replays.
			inq := s.inquire(t, map[string]any{"paymentRequestId": id})
			expectResult(t, inq, "SUCCESS", "S")
			if str(inq.body, "paymentId") != paymentID || str(inq.body, "paymentAmount.value") != "4200" {
				t.Errorf("inquiry after replays: %s", inq.raw)
			}
		})
	}
}

// TestPayConcurrentDuplicates: 50 identical pays at once over real HTTP get one payment, one
// authorization, one answer. Run it with -race.
func TestPayConcurrentDuplicates(t *testing.T) {
	s := newStack(t)
	s.acq.delay = 200 * time.Millisecond // keep the first authorization in flight while the rest arrive
	const n = 50
	body := mustJSON(t, payRequest(t, "concurrent-1"))

	type result struct {
		resp *http.Response
		raw  []byte
		hdr  http.Header
		err  error
	}
	results := make([]result, n)
	headers := make([]http.Header, n)
	for i := range headers {
		headers[i] = s.signedHeaders(t, livePay, body)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, err := http.NewRequest(http.MethodPost, s.srv.URL+livePay, bytes.NewReader(body))
			if err != nil {
				results[i].err = err
				return
			}
			req.Header = headers[i]
			resp, err := s.client.Do(req)
			if err != nil {
				results[i].err = err
				return
			}
			defer resp.Body.Close()
			results[i].resp = resp
			results[i].raw, results[i].err = io.ReadAll(resp.Body)
		}()
	}
	close(start)
	wg.Wait()

	ids := map[string]int{}
	codes := map[string]int{}
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("call %d: %v", i, r.err)
		}
		ans := s.check(t, http.MethodPost, livePay, s.merchant.ClientID, r.resp, r.raw)
		ids[str(ans.body, "paymentId")]++
		codes[ans.code()]++
	}
	if len(ids) != 1 || ids[""] != 0 {
		t.Errorf("paymentIds %v, want one id for all %d answers", ids, n)
	}
	if codes["SUCCESS"] != n {
		t.Errorf("result codes %v, want %d × SUCCESS (duplicates wait for the first authorization)", codes, n)
	}
	if got := s.acq.calls.Load(); got != 1 {
		t.Errorf("acquirer saw %d Authorize calls, want exactly 1", got)
	}
	var rows int
	if err := s.store.Raw().QueryRow(context.Background(), `SELECT COUNT(*) FROM payments WHERE request_id = ?`, "concurrent-1").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if c := s.counts(t); rows != 1 || c.payments != 1 {
		t.Errorf("payments rows for the request id: %d (table: %d), want 1", rows, c.payments)
	}
}
