package payments_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// TestConcurrentCaptureCancelRefund is issue 3's race test: 8 goroutines × 200 payments (MANUAL
// capture, approved card) fire capture, cancel and partial refunds at the same payments at once on
// the real SQLite store. Whatever interleaving wins, afterwards the database shows docs/design.md's
// invariants: no payment both captured and cancelled, refunds never above what was captured,
// exactly one successful capture per captured payment. Every answer is a success or one of the
// refusals of the table; nothing else.
func TestConcurrentCaptureCancelRefund(t *testing.T) {
	const workers = 8
	payCount := 200
	if testing.Short() {
		payCount = 50
	}
	e := newEnv(t)
	ctx := context.Background()
	pays := make([]payments.Payment, payCount)
	for i := range pays {
		pays[i] = e.pay(t, "4242424242424242", fmt.Sprintf("race-%03d", i), payments.CaptureManual)
		if pays[i].Stage() != payments.StageAuthorized {
			t.Fatalf("payment %d is %s", i, pays[i].Stage())
		}
	}

	// Each worker fires one operation at every payment, all workers walking the payments in step,
	// so that 8 operations hit each payment together: 2 captures (two workers share a
	// captureRequestId, so one of them may be a replay), 2 cancels, 4 partial refunds of which
	// at most 3 fit in the 42.00 captured.
	plan := []string{"capture", "refund", "cancel", "refund", "capture", "refund", "cancel", "refund"}
	refundValue := []string{"1000", "1500", "1200", "1000", "1300", "900", "1100", "1400"}
	var (
		counts                                       sync.Map // outcome → *atomic.Int64
		captureOK, cancelOK, refundOK, refundRefused atomic.Int64
		conflicts, captureInFlight                   atomic.Int64
		unexpected                                   = make(chan string, workers*payCount)
		barrier                                      = make([]sync.WaitGroup, payCount)
		wg                                           sync.WaitGroup
	)
	count := func(k string) {
		v, _ := counts.LoadOrStore(k, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	for i := range barrier {
		barrier[i].Add(workers)
	}
	allowed := map[string]map[string]bool{
		"capture": {string(protocol.CodeOrderIsCanceled): true, string(protocol.CodeMultiCaptureNotSupported): true},
		"cancel":  {string(protocol.CodeOrderStatusInvalid): true},
		"refund": {string(protocol.CodeOrderStatusInvalid): true, string(protocol.CodeOrderIsCanceled): true,
			string(protocol.CodeRefundAmountExceed): true},
	}
	begin := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, p := range pays {
				// Line the workers up on each payment so their operations overlap.
				barrier[i].Done()
				barrier[i].Wait()
				op := plan[(w+i)%len(plan)]
				var err error
				switch op {
				case "capture":
					var (
						tx  payments.Txn
						cur payments.Payment
					)
					tx, cur, err = e.capture(p, fmt.Sprintf("cap-%03d-%d", i, w%2))
					if err == nil {
						switch r := payments.CaptureResponseOf(cur, tx).Result; {
						case tx.Status == payments.TxnSucceeded && r.ResultStatus == "S":
							captureOK.Add(1)
						case tx.Status == payments.TxnProcessing && r.ResultCode == string(protocol.CodeCaptureInProcess):
							// A replay of the shared captureRequestId while the first request is still
							// talking to the acquirer: U, the merchant inquires.
							captureInFlight.Add(1)
							count("capture U(replay in flight)")
							continue
						default:
							unexpected <- fmt.Sprintf("capture of %d answered %s %+v", i, tx.Status, r)
						}
					}
				case "cancel":
					_, err = e.cancel(p)
					if err == nil {
						cancelOK.Add(1)
					}
				case "refund":
					var tx payments.Txn
					tx, _, err = e.refund(p, fmt.Sprintf("ref-%03d-%d", i, w), refundValue[w])
					if err == nil {
						if tx.Status != payments.TxnSucceeded {
							unexpected <- fmt.Sprintf("refund of %d answered %s", i, tx.Status)
						}
						refundOK.Add(1)
					}
				}
				switch {
				case err == nil:
					count(op + " S")
				case errors.Is(err, payments.ErrConflict):
					// Lost every retry against concurrent changes: the merchant gets U and inquires.
					conflicts.Add(1)
					count(op + " conflict")
				case allowed[op][code(err)]:
					count(op + " " + code(err))
					if op == "refund" {
						refundRefused.Add(1)
					}
				default:
					unexpected <- fmt.Sprintf("%s of payment %d: %v (wire %s)", op, i, err, code(err))
				}
			}
		}()
	}
	wg.Wait()
	close(unexpected)
	elapsed := time.Since(begin)
	for msg := range unexpected {
		t.Error(msg)
	}

	// What the database says, payment by payment.
	var captured, cancelled, refundTxns, refundSucceeded int
	rows, err := e.raw.Query(ctx, `
		SELECT p.payment_id, p.state, p.capture_state, p.captured_minor, p.refunded_minor, p.amount_minor,
			(SELECT count(*) FROM transactions t WHERE t.payment_id = p.payment_id AND t.txn_type = 'CAPTURE' AND t.status = 'SUCCESS'),
			(SELECT count(*) FROM transactions t WHERE t.payment_id = p.payment_id AND t.txn_type = 'CAPTURE'),
			(SELECT count(*) FROM transactions t WHERE t.payment_id = p.payment_id AND t.txn_type = 'CANCEL'),
			(SELECT coalesce(sum(amount_minor), 0) FROM transactions t WHERE t.payment_id = p.payment_id AND t.txn_type = 'REFUND' AND t.status = 'SUCCESS'),
			(SELECT count(*) FROM transactions t WHERE t.payment_id = p.payment_id AND t.txn_type = 'REFUND' AND t.status = 'SUCCESS'),
			(SELECT count(*) FROM transactions t WHERE t.payment_id = p.payment_id AND t.txn_type = 'REFUND'),
			(SELECT count(*) FROM outbox o WHERE o.payment_id = p.payment_id AND o.notify_type = 'CAPTURE_RESULT'),
			(SELECT count(*) FROM outbox o WHERE o.payment_id = p.payment_id AND o.notify_type = 'REFUND_RESULT')
		FROM payments p`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			id, state, captureState                          string
			capMinor, refMinor, amount                       int64
			capOK, capAll, cancels, refundSum, refOK, refAll int64
			captureNotices, refundNotices                    int64
		)
		if err := rows.Scan(&id, &state, &captureState, &capMinor, &refMinor, &amount, &capOK, &capAll, &cancels,
			&refundSum, &refOK, &refAll, &captureNotices, &refundNotices); err != nil {
			t.Fatal(err)
		}
		n++
		isCaptured := captureState == "SUCCESS" || capMinor > 0
		if isCaptured && state == "CANCELLED" {
			t.Errorf("payment %s is captured (%s, %d) and CANCELLED", id, captureState, capMinor)
		}
		if refMinor > capMinor {
			t.Errorf("payment %s: refunded %d > captured %d", id, refMinor, capMinor)
		}
		if refundSum > capMinor {
			t.Errorf("payment %s: successful refunds add up to %d > captured %d", id, refundSum, capMinor)
		}
		if refundSum != refMinor {
			t.Errorf("payment %s: refunded_minor %d, successful refunds %d (none should be in process)", id, refMinor, refundSum)
		}
		if isCaptured && (capOK != 1 || capAll != 1 || capMinor != amount || captureState != "SUCCESS") {
			t.Errorf("payment %s: captured %d/%d (%s) with %d successful of %d CAPTURE transactions", id, capMinor, amount, captureState, capOK, capAll)
		}
		if !isCaptured && capOK != 0 {
			t.Errorf("payment %s: %d successful captures but not captured", id, capOK)
		}
		if state == "CANCELLED" && cancels != 1 {
			t.Errorf("payment %s: CANCELLED with %d CANCEL transactions", id, cancels)
		}
		if state != "CANCELLED" && cancels != 0 {
			t.Errorf("payment %s: %s with %d CANCEL transactions", id, state, cancels)
		}
		if !isCaptured && state != "CANCELLED" {
			// Possible only if every capture and every cancel lost its retries: report it.
			t.Logf("payment %s ended neither captured nor cancelled: %s/%s", id, state, captureState)
		}
		if refAll != refOK {
			t.Errorf("payment %s: %d refunds, %d of them successful (the simulator refunds at once)", id, refAll, refOK)
		}
		// Invariant 5: one notification per capture and refund result.
		if captureNotices != capAll || refundNotices != refAll {
			t.Errorf("payment %s: %d CAPTURE_RESULT for %d captures, %d REFUND_RESULT for %d refunds", id, captureNotices, capAll, refundNotices, refAll)
		}
		if isCaptured {
			captured++
		}
		if state == "CANCELLED" {
			cancelled++
		}
		refundTxns += int(refAll)
		refundSucceeded += int(refOK)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != payCount {
		t.Fatalf("%d payments in the store, want %d", n, payCount)
	}
	if captured+cancelled != payCount {
		t.Logf("%d payments neither captured nor cancelled", payCount-captured-cancelled)
	}
	// The answers agree with the rows: every S refund is one successful refund row.
	if int(refundOK.Load()) != refundSucceeded {
		t.Errorf("%d refunds answered S, %d successful refund rows", refundOK.Load(), refundSucceeded)
	}
	if captured == 0 || cancelled == 0 || refundSucceeded == 0 || refundRefused.Load() == 0 {
		t.Errorf("the race did not exercise every path: captured %d, cancelled %d, refunds %d/%d", captured, cancelled, refundSucceeded, refundRefused.Load())
	}

	t.Logf("%d workers × %d payments in %v: captured %d, cancelled %d; refunds succeeded %d, refused %d; conflicts (retries exhausted) %d",
		workers, payCount, elapsed.Round(time.Millisecond), captured, cancelled, refundSucceeded, refundRefused.Load(), conflicts.Load())
	var outcomes []string
	counts.Range(func(k, v any) bool {
		outcomes = append(outcomes, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	t.Logf("answers: %v (capture S %d, U %d; cancel S %d)", outcomes, captureOK.Load(), captureInFlight.Load(), cancelOK.Load())
}
