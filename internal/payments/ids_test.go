package payments_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// lookupCounter is the real store with its lookups counted: an id that a call refuses must
// never reach it (PostgreSQL answers a NUL with an error, SQLite with a miss).
type lookupCounter struct {
	payments.Store
	n atomic.Int64
}

func (c *lookupCounter) PaymentByID(ctx context.Context, m, id string) (payments.Payment, error) {
	c.n.Add(1)
	return c.Store.PaymentByID(ctx, m, id)
}

func (c *lookupCounter) PaymentByRequestID(ctx context.Context, m, id string) (payments.Payment, error) {
	c.n.Add(1)
	return c.Store.PaymentByRequestID(ctx, m, id)
}

func (c *lookupCounter) PaymentByChallengeToken(ctx context.Context, tok string) (payments.Payment, error) {
	c.n.Add(1)
	return c.Store.PaymentByChallengeToken(ctx, tok)
}

func (c *lookupCounter) TxnByID(ctx context.Context, m string, typ payments.TxnType, id string) (payments.Txn, error) {
	c.n.Add(1)
	return c.Store.TxnByID(ctx, m, typ, id)
}

func (c *lookupCounter) TxnByRequestID(ctx context.Context, m string, typ payments.TxnType, id string) (payments.Txn, error) {
	c.n.Add(1)
	return c.Store.TxnByRequestID(ctx, m, typ, id)
}

func (c *lookupCounter) TokenByID(ctx context.Context, m, id string) (payments.Token, error) {
	c.n.Add(1)
	return c.Store.TokenByID(ctx, m, id)
}

// badIDs are the id values every call refuses, with what the message says.
var badIDs = []struct{ name, value, says string }{
	{"NUL", "R\x00", "control characters"},
	{"NUL only", "\x00", "control characters"},
	{"line break", "R\nforged log line", "control characters"},
	{"tab", "R\t1", "control characters"},
	{"DEL", "R\x7f", "control characters"},
	{"C1 control", "R\u0085", "control characters"},
	{"invalid UTF-8", "R\xff", "not valid UTF-8"},
	{"encoded surrogate", "R\xed\xa0\x80", "not valid UTF-8"},
	{"too long", strings.Repeat("r", 65), "at most 64"},
}

// TestIDsRefusedBeforeTheStore: every id field of every call refuses control characters, invalid
// UTF-8 and over-long values as PARAM_ILLEGAL naming the field, without one store lookup.
func TestIDsRefusedBeforeTheStore(t *testing.T) {
	e := newEnv(t)
	counted := &lookupCounter{Store: e.st}
	svc := payments.NewService(counted, simulator.New("SIM", e.clk), e.clk, slog.New(slog.DiscardHandler), payments.Config{})
	ctx := context.Background()
	amt := sgd("4200")
	calls := []struct {
		field string
		call  func(id string) error
	}{
		{"paymentRequestId", func(id string) error {
			req := samplePayRequest(t, "4242424242424242", "placeholder", payments.CaptureAutomatic)
			req.PaymentRequestID = id // set after payRequest's JSON round trip, which would mend invalid UTF-8
			_, err := svc.Pay(ctx, e.m, req)
			return err
		}},
		{"paymentId", func(id string) error {
			_, err := svc.Inquire(ctx, e.m, &protocol.InquiryPaymentRequest{PaymentID: id})
			return err
		}},
		{"paymentRequestId", func(id string) error {
			_, err := svc.Inquire(ctx, e.m, &protocol.InquiryPaymentRequest{PaymentRequestID: id})
			return err
		}},
		{"paymentRequestId", func(id string) error { // checked even when paymentId wins
			_, err := svc.Inquire(ctx, e.m, &protocol.InquiryPaymentRequest{PaymentID: "P1", PaymentRequestID: id})
			return err
		}},
		{"paymentId", func(id string) error {
			_, err := svc.Cancel(ctx, e.m, &protocol.CancelRequest{PaymentID: id})
			return err
		}},
		{"paymentRequestId", func(id string) error {
			_, err := svc.Cancel(ctx, e.m, &protocol.CancelRequest{PaymentRequestID: id})
			return err
		}},
		{"captureRequestId", func(id string) error {
			_, _, err := svc.Capture(ctx, e.m, &protocol.CaptureRequest{CaptureRequestID: id, PaymentID: "P1", CaptureAmount: amt})
			return err
		}},
		{"paymentId", func(id string) error {
			_, _, err := svc.Capture(ctx, e.m, &protocol.CaptureRequest{CaptureRequestID: "C1", PaymentID: id, CaptureAmount: amt})
			return err
		}},
		{"refundRequestId", func(id string) error {
			_, _, err := svc.Refund(ctx, e.m, &protocol.RefundRequest{RefundRequestID: id, PaymentID: "P1", RefundAmount: amt})
			return err
		}},
		{"paymentId", func(id string) error {
			_, _, err := svc.Refund(ctx, e.m, &protocol.RefundRequest{RefundRequestID: "R1", PaymentID: id, RefundAmount: amt})
			return err
		}},
		{"referenceRefundId", func(id string) error {
			_, _, err := svc.Refund(ctx, e.m, &protocol.RefundRequest{RefundRequestID: "R1", PaymentID: "P1", RefundAmount: amt, ReferenceRefundID: id})
			return err
		}},
		{"refundId", func(id string) error {
			_, err := svc.InquireRefund(ctx, e.m, &protocol.InquiryRefundRequest{RefundID: id})
			return err
		}},
		{"refundRequestId", func(id string) error {
			_, err := svc.InquireRefund(ctx, e.m, &protocol.InquiryRefundRequest{RefundRequestID: id})
			return err
		}},
		{"order.referenceOrderId", func(id string) error {
			req := samplePayRequest(t, "4242424242424242", "ok-order", payments.CaptureAutomatic)
			req.Order.ReferenceOrderID = id
			_, err := svc.Pay(ctx, e.m, req)
			return err
		}},
		{"order.buyer.referenceBuyerId", func(id string) error {
			req := samplePayRequest(t, "4242424242424242", "ok-buyer", payments.CaptureAutomatic)
			req.Order.Buyer.ReferenceBuyerID = id
			_, err := svc.Pay(ctx, e.m, req)
			return err
		}},
	}
	for _, c := range calls {
		for _, bad := range badIDs {
			t.Run(c.field+"/"+bad.name, func(t *testing.T) {
				before := counted.n.Load()
				err := c.call(bad.value)
				res := protocol.ResultOf(err)
				if res.ResultCode != string(protocol.CodeParamIllegal) || res.ResultStatus != "F" {
					t.Fatalf("%s %q: %s/%s %q, want F/PARAM_ILLEGAL", c.field, bad.value, res.ResultStatus, res.ResultCode, res.ResultMessage)
				}
				if !strings.HasPrefix(res.ResultMessage, c.field+" ") || !strings.Contains(res.ResultMessage, bad.says) {
					t.Errorf("message %q, want it to name %s and say %q", res.ResultMessage, c.field, bad.says)
				}
				if n := counted.n.Load() - before; n != 0 && !strings.HasPrefix(c.field, "order.") {
					t.Errorf("%d store lookups for a refused id", n)
				}
			})
		}
	}
	// The pay of a good request still works through the counted store.
	if _, err := svc.Pay(ctx, e.m, samplePayRequest(t, "4242424242424242", "good-1", payments.CaptureAutomatic)); err != nil {
		t.Fatalf("good pay: %v", err)
	}
}

// TestPageTokensRefusedBeforeTheStore: the buyer pages take their token from the URL; one that
// the gateway could not have made is not found, without asking the store.
func TestPageTokensRefusedBeforeTheStore(t *testing.T) {
	e := newEnv(t)
	counted := &lookupCounter{Store: e.st}
	svc := payments.NewService(counted, simulator.New("SIM", e.clk), e.clk, slog.New(slog.DiscardHandler), payments.Config{})
	ctx := context.Background()
	for _, tok := range []string{"", "\x00", "abc\x00def", "a\xff", "a b", "a/b", "a%00", "é", strings.Repeat("A", 65)} {
		for name, call := range map[string]func() error{
			"ChallengePayment": func() error { _, err := svc.ChallengePayment(ctx, tok); return err },
			"SubmitCode":       func() error { _, err := svc.SubmitCode(ctx, tok, "1234"); return err },
			"SubmitCard": func() error {
				_, _, err := svc.SubmitCard(ctx, e.m, tok, payments.CardForm{CardNo: "4242424242424242"})
				return err
			},
		} {
			before := counted.n.Load()
			if err := call(); !errors.Is(err, payments.ErrNotFound) {
				t.Errorf("%s(%q) = %v, want ErrNotFound", name, tok, err)
			}
			if counted.n.Load() != before {
				t.Errorf("%s(%q) asked the store", name, tok)
			}
		}
	}
	// A well-shaped unknown token is asked for, and not found.
	if _, err := svc.ChallengePayment(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, payments.ErrNotFound) || counted.n.Load() != 1 {
		t.Errorf("unknown token: %v after %d lookups, want ErrNotFound after 1", err, counted.n.Load())
	}
}

// TestAmountBounds: capture and refund take amounts of at most 16 digits, as pay does (Antom's
// Amount.value is String(16)), and name the field.
func TestAmountBounds(t *testing.T) {
	e := newEnv(t)
	p := e.pay(t, "4242424242424242", "bounds-1", payments.CaptureManual)
	ctx := context.Background()
	for _, v := range []string{"10000000000000000", "999999999999999999", "99999999999999999999"} {
		_, _, err := e.svc.Capture(ctx, e.m, &protocol.CaptureRequest{CaptureRequestID: "c-" + v[:3], PaymentID: p.ID, CaptureAmount: sgd(v)})
		if r := protocol.ResultOf(err); r.ResultCode != "PARAM_ILLEGAL" || !strings.HasPrefix(r.ResultMessage, "captureAmount.value must be at most 16 digits") {
			t.Errorf("capture of %s: %s %q", v, r.ResultCode, r.ResultMessage)
		}
		_, _, err = e.svc.Refund(ctx, e.m, &protocol.RefundRequest{RefundRequestID: "r-" + v[:3], PaymentID: p.ID, RefundAmount: sgd(v)})
		if r := protocol.ResultOf(err); r.ResultCode != "PARAM_ILLEGAL" || !strings.HasPrefix(r.ResultMessage, "refundAmount.value must be at most 16 digits") {
			t.Errorf("refund of %s: %s %q", v, r.ResultCode, r.ResultMessage)
		}
	}
	if txns := e.txns(t, p); len(txns) != 0 {
		t.Errorf("refused amounts wrote transactions: %+v", txns)
	}
}
