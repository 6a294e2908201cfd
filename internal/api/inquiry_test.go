package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/protocol"
)

// TestInquiryPayment finds payments by paymentId or paymentRequestId (paymentId wins), never
// another merchant's (docs/design.md invariant 7), and refuses a request that names neither.
func TestInquiryPayment(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()

	first := s.pay(t, payRequest(t, "inq-1"))
	expectResult(t, first, "SUCCESS", "S")
	declined := payRequest(t, "inq-2")
	setPath(declined, "paymentMethod.paymentMethodMetaData.cardNo", declinedCard)
	second := s.pay(t, declined)
	expectResult(t, second, "DO_NOT_HONOR", "F")
	id1, id2 := str(first.body, "paymentId"), str(second.body, "paymentId")

	// A second merchant, with a payment of its own under the same paymentRequestId.
	other, err := merchant.NewSandbox("Other merchant", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.CreateMerchant(ctx, other); err != nil {
		t.Fatal(err)
	}
	otherKey, err := protocol.ParsePrivateKey(other.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	asOther := func(t *testing.T, path string, body map[string]any) response {
		b := mustJSON(t, body)
		rt := nowMS()
		h := signedWith(t, otherKey, "1", path, other.ClientID, rt, b)
		return s.send(t, http.MethodPost, path, h, b)
	}
	otherPay := asOther(t, livePay, payRequest(t, "inq-1"))
	expectResult(t, otherPay, "SUCCESS", "S")
	otherID := str(otherPay.body, "paymentId")
	if otherID == id1 {
		t.Fatalf("two merchants' payments share paymentId %s", otherID)
	}

	cases := []struct {
		name   string
		path   string
		req    map[string]any
		code   string
		wantID string // the payment the answer must be about
	}{
		{"by paymentId", liveInquiry, map[string]any{"paymentId": id1}, "SUCCESS", id1},
		{"by paymentRequestId", liveInquiry, map[string]any{"paymentRequestId": "inq-1"}, "SUCCESS", id1},
		{"declined by paymentId", liveInquiry, map[string]any{"paymentId": id2}, "SUCCESS", id2},
		{"sandbox path", sandboxInquiry, map[string]any{"paymentRequestId": "inq-2"}, "SUCCESS", id2},
		{"paymentId wins over paymentRequestId", liveInquiry, map[string]any{"paymentId": id1, "paymentRequestId": "inq-2"}, "SUCCESS", id1},
		{"paymentId wins even when unknown", liveInquiry, map[string]any{"paymentId": "2026000000000000000000000000000000", "paymentRequestId": "inq-1"}, "ORDER_NOT_EXIST", ""},
		{"empty paymentId falls back to paymentRequestId", liveInquiry, map[string]any{"paymentId": "", "paymentRequestId": "inq-2"}, "SUCCESS", id2},
		{"unknown paymentId", liveInquiry, map[string]any{"paymentId": "20261121000000000000000000000000000"}, "ORDER_NOT_EXIST", ""},
		{"unknown paymentRequestId", liveInquiry, map[string]any{"paymentRequestId": "inq-none"}, "ORDER_NOT_EXIST", ""},
		{"another merchant's paymentId", liveInquiry, map[string]any{"paymentId": otherID}, "ORDER_NOT_EXIST", ""},
		{"neither id", liveInquiry, map[string]any{}, "PARAM_ILLEGAL", ""},
		{"neither id, nulls (.NET)", liveInquiry, map[string]any{"paymentId": nil, "paymentRequestId": nil}, "PARAM_ILLEGAL", ""},
		{"neither id, empty strings", liveInquiry, map[string]any{"paymentId": "", "paymentRequestId": ""}, "PARAM_ILLEGAL", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.counts(t)
			r := s.call(t, tc.path, mustJSON(t, tc.req))
			expectResult(t, r, tc.code, codeStatus(tc.code))
			if got := str(r.body, "paymentId"); got != tc.wantID {
				t.Errorf("paymentId %q, want %q\n%s", got, tc.wantID, r.raw)
			}
			if tc.code != "SUCCESS" && len(r.body) != 1 {
				t.Errorf("a refused inquiry carries more than its result: %s", r.raw)
			}
			s.expectNothingStored(t, before)
		})
	}

	// What the inquiry says about each payment.
	ok := s.inquire(t, map[string]any{"paymentId": id1})
	for path, want := range map[string]string{
		"paymentStatus": "SUCCESS", "paymentResultCode": "SUCCESS", "paymentRequestId": "inq-1",
		"paymentAmount.value": "4200", "paymentAmount.currency": "SGD", "paymentMethodType": "CARD",
		"actualPaymentAmount.value": "4200",
	} {
		if got := str(ok.body, path); got != want {
			t.Errorf("approved inquiry %s = %q, want %q", path, got, want)
		}
	}
	fail := s.inquire(t, map[string]any{"paymentId": id2})
	for path, want := range map[string]string{
		"paymentStatus": "FAIL", "paymentResultCode": "DO_NOT_HONOR", "paymentRequestId": "inq-2",
	} {
		if got := str(fail.body, path); got != want {
			t.Errorf("declined inquiry %s = %q, want %q", path, got, want)
		}
	}
	if getPath(fail.body, "actualPaymentAmount") != nil {
		t.Errorf("declined payment reports an actualPaymentAmount: %s", fail.raw)
	}

	// The other merchant sees its own payment, not the first merchant's.
	r := asOther(t, liveInquiry, map[string]any{"paymentRequestId": "inq-1"})
	expectResult(t, r, "SUCCESS", "S")
	if got := str(r.body, "paymentId"); got != otherID {
		t.Errorf("other merchant's inquiry found %q, want its own %q", got, otherID)
	}
	expectResult(t, asOther(t, liveInquiry, map[string]any{"paymentId": id1}), "ORDER_NOT_EXIST", "F")
	expectResult(t, asOther(t, liveInquiry, map[string]any{"paymentRequestId": "inq-2"}), "ORDER_NOT_EXIST", "F")
}
