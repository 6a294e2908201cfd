package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/payments"
)

// Importer is a store that can take finished payments in bulk (sqlite.Store, postgres.Store).
type Importer interface {
	payments.Store
	ImportFinished(ctx context.Context, ps []payments.Payment, txns []payments.Txn, evs []payments.Event) error
}

// PreloadBatch is the number of payments per transaction: big enough that commits do not
// dominate, small enough that one transaction stays a few tens of megabytes.
const PreloadBatch = 5000

// Preload inserts n copies of the template payment (a real one that the gateway approved and
// captured, read back from the store, so every column is what the gateway writes) with fresh ids,
// their capture transactions and the four events of their history, in transactions of
// PreloadBatch payments. Creation times are spread over the n seconds before the template's.
func Preload(ctx context.Context, st Importer, merchantID, templateID string, n int64, progress io.Writer) error {
	tmpl, err := st.PaymentByID(ctx, merchantID, templateID)
	if err != nil {
		return fmt.Errorf("preload template %s: %w", templateID, err)
	}
	if tmpl.Stage() != payments.StageCaptured {
		return fmt.Errorf("preload template %s is %s, want a captured payment", templateID, tmpl.Stage())
	}
	txns, err := st.Txns(ctx, merchantID, templateID)
	if err != nil || len(txns) != 1 || txns[0].Type != payments.TxnCapture {
		return fmt.Errorf("preload template %s: want its one capture transaction, got %d (%v)", templateID, len(txns), err)
	}
	tmplTxn := txns[0]
	// Ids are shaped like the gateway's (date, then 27 digits): 12 random digits per run, then a
	// counter, so that runs on one store never collide.
	runDigits, err := randomDigits(12)
	if err != nil {
		return err
	}
	date := tmpl.CreatedAt.UTC().Format("20060102")
	start := time.Now()
	var done int64
	for done < n {
		size := min(int64(PreloadBatch), n-done)
		ps := make([]payments.Payment, 0, size)
		ts := make([]payments.Txn, 0, size)
		evs := make([]payments.Event, 0, 4*size)
		for i := done; i < done+size; i++ {
			at := tmpl.CreatedAt.Add(-time.Duration(n-i) * time.Second)
			p := tmpl
			p.ID = fmt.Sprintf("%s1%s%014d", date, runDigits, i)
			p.RequestID = fmt.Sprintf("preload-%s-%d", runDigits, i)
			p.Order.ReferenceOrderID = p.RequestID
			p.Auth.AcquirerTransactionID = fmt.Sprintf("%s-%d", tmpl.Auth.AcquirerTransactionID, i)
			p.CreatedAt, p.UpdatedAt, p.AuthorizedAt, p.CapturedAt = at, at, at, at
			p.AuthExpiresAt = at.Add(tmpl.AuthExpiresAt.Sub(tmpl.CreatedAt))
			p.ExpiresAt = at.Add(tmpl.ExpiresAt.Sub(tmpl.CreatedAt))
			t := tmplTxn
			t.ID = fmt.Sprintf("%s2%s%014d", date, runDigits, i)
			t.PaymentID, t.RequestID = p.ID, p.RequestID
			t.CreatedAt, t.UpdatedAt = at, at
			ps = append(ps, p)
			ts = append(ts, t)
			evs = append(evs,
				payments.Event{PaymentID: p.ID, Op: payments.OpCreate, To: payments.StateProcessing, ResultCode: "PAYMENT_IN_PROCESS", At: at},
				payments.Event{PaymentID: p.ID, Op: payments.OpAuthApproved, From: payments.StateProcessing, To: payments.StateSuccess, ResultCode: "SUCCESS", At: at},
				payments.Event{PaymentID: p.ID, TxnID: t.ID, Op: payments.OpCapture, From: payments.StateSuccess, To: payments.StateSuccess, ResultCode: "CAPTURE_IN_PROCESS", At: at},
				payments.Event{PaymentID: p.ID, TxnID: t.ID, Op: payments.OpCaptureSucceeded, From: payments.StateSuccess, To: payments.StateSuccess, ResultCode: "SUCCESS", At: at},
			)
		}
		if err := st.ImportFinished(ctx, ps, ts, evs); err != nil {
			return fmt.Errorf("preload after %d payments: %w", done, err)
		}
		done += size
		if progress != nil && (done%(20*PreloadBatch) == 0 || done == n) {
			el := time.Since(start)
			fmt.Fprintf(progress, "preload  %d/%d payments  %.0f/s  %s\n", done, n, float64(done)/el.Seconds(), el.Round(time.Second))
		}
	}
	return nil
}

func randomDigits(n int) (string, error) {
	b := make([]byte, n)
	ten := big.NewInt(10)
	for i := range b {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			return "", fmt.Errorf("random id: %w", err)
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b), nil
}

// TemplatePayment makes one approved, automatically captured payment through the gateway and
// returns its paymentId: the model of the preloaded rows.
func TemplatePayment(ctx context.Context, c *client.Client, cfg Config) (string, error) {
	r := &runner{cfg: cfg, codes: map[string]int64{}}
	return (&Iteration{r: r, c: c}).Pay(ctx, PayCard, "AUTOMATIC", false)
}
