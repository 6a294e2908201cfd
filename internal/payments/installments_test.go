package payments_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// planRequest is seed 004-34 changed to a card, currency and amount, with a creditPayPlan whose
// installmentNum is n as raw JSON (so that "abc" and 3.5 reach the decoder as a merchant sends them).
func planRequest(t *testing.T, pan, currency, value, n string) []byte {
	t.Helper()
	m := base(t)
	set(m, meta+".cardNo", pan)
	addLocalFields(m, pan)
	if strings.HasPrefix(pan, "37") {
		set(m, meta+".cvv", "1234")
	}
	set(m, "paymentAmount.currency", currency)
	set(m, "paymentAmount.value", value)
	del(m, "order.orderAmount")
	if n != "" {
		set(m, "creditPayPlan", jsonObj{"installmentNum": json.RawMessage(n)})
	}
	return encode(t, m)
}

func TestCreditPayPlan(t *testing.T) {
	tests := []struct {
		name                 string
		pan, currency, value string
		n                    string // installmentNum as raw JSON; "" sends no creditPayPlan
		path                 string // the field a refusal names; "" when accepted
		msg                  string // in the refusal's message
		want                 *protocol.CreditPayPlan
	}{
		{name: "no plan asked", pan: "4242424242424242", currency: "SGD", value: "4200"},
		{name: "USD 3", pan: "4242424242424242", currency: "USD", value: "10000", n: "3",
			want: &protocol.CreditPayPlan{InstallmentNum: 3, Interval: "MONTH", CreditPayFeeType: "PERCENTAGE", FeePercentage: 2, InterestRate: "0"}},
		{name: "USD 12 as a string", pan: "5555555555554444", currency: "USD", value: "50000", n: `"12"`,
			want: &protocol.CreditPayPlan{InstallmentNum: 12, Interval: "MONTH", CreditPayFeeType: "PERCENTAGE", FeePercentage: 2, InterestRate: "0"}},
		{name: "BRL BR card 2", pan: "4000000760000002", currency: "BRL", value: "2000", n: "2",
			want: &protocol.CreditPayPlan{InstallmentNum: 2, Interval: "MONTH", CreditPayFeeType: "PERCENTAGE", FeePercentage: 3, InterestRate: "1.99"}},
		{name: "BRL BR card 12", pan: "4000000760000002", currency: "BRL", value: "99900", n: "12",
			want: &protocol.CreditPayPlan{InstallmentNum: 12, Interval: "MONTH", CreditPayFeeType: "PERCENTAGE", FeePercentage: 3, InterestRate: "1.99"}},
		{name: "MXN MX card 9", pan: "4000004840008001", currency: "MXN", value: "30000", n: "9",
			want: &protocol.CreditPayPlan{InstallmentNum: 9, Interval: "MONTH", CreditPayFeeType: "PERCENTAGE", FeePercentage: 5, InterestRate: "0"}},
		{name: "KRW KR card 6", pan: "4000004100000003", currency: "KRW", value: "50000", n: "6",
			want: &protocol.CreditPayPlan{InstallmentNum: 6, Interval: "MONTH", CreditPayFeeType: "PERCENTAGE", FeePercentage: 0, InterestRate: "0"}},
		{name: "JPY JCB 24", pan: "3566002020360505", currency: "JPY", value: "10000", n: "24",
			want: &protocol.CreditPayPlan{InstallmentNum: 24, Interval: "MONTH", CreditPayFeeType: "PERCENTAGE", FeePercentage: 4, InterestRate: "1.25"}},

		{name: "abc", pan: "4242424242424242", currency: "USD", value: "10000", n: `"abc"`, path: "creditPayPlan.installmentNum", msg: "integer"},
		{name: "3.5", pan: "4242424242424242", currency: "USD", value: "10000", n: "3.5", path: "creditPayPlan.installmentNum", msg: "integer"},
		{name: "true", pan: "4242424242424242", currency: "USD", value: "10000", n: "true", path: "creditPayPlan.installmentNum", msg: "integer"},
		{name: "beyond int32", pan: "4242424242424242", currency: "USD", value: "10000", n: "4294967299", path: "creditPayPlan.installmentNum", msg: "integer"},
		{name: "-5", pan: "4242424242424242", currency: "USD", value: "10000", n: "-5", path: "creditPayPlan.installmentNum", msg: "at least 2, got -5"},
		{name: "1", pan: "4242424242424242", currency: "USD", value: "10000", n: "1", path: "creditPayPlan.installmentNum", msg: "at least 2, got 1"},
		{name: "0 is absent", pan: "4242424242424242", currency: "USD", value: "10000", n: "0", path: "creditPayPlan.installmentNum", msg: "is required"},
		{name: "7 not offered", pan: "4242424242424242", currency: "USD", value: "10000", n: "7", path: "creditPayPlan.installmentNum", msg: "allowed: 3, 6, 12"},
		{name: "MXN 2 not offered", pan: "4000004840008001", currency: "MXN", value: "30000", n: "2", path: "creditPayPlan.installmentNum", msg: "allowed: 3, 6, 9, 12"},
		{name: "no plan for SGD", pan: "4242424242424242", currency: "SGD", value: "100000", n: "3", path: "creditPayPlan", msg: "no installment plan is offered for SGD"},
		{name: "below the minimum", pan: "4242424242424242", currency: "USD", value: "9999", n: "3", path: "creditPayPlan", msg: "at least 10000, got 9999"},
		{name: "US card in BRL", pan: "4242424242424242", currency: "BRL", value: "2000", n: "3", path: "creditPayPlan", msg: "VISA issued in US"},
		{name: "AMEX in USD", pan: "378282246310005", currency: "USD", value: "10000", n: "3", path: "creditPayPlan", msg: "take VISA or MASTERCARD cards issued anywhere"},
		{name: "Visa in JPY", pan: "4242424242424242", currency: "JPY", value: "10000", n: "3", path: "creditPayPlan", msg: "take JCB cards issued in JP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r protocol.PayRequest
			err := protocol.Decode(planRequest(t, tt.pan, tt.currency, tt.value, tt.n), &r)
			var cmd payments.PayCommand
			if err == nil {
				cmd, err = payments.ParsePayRequest(&r, testNow)
			}
			if tt.path == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				got := cmd.Order.CreditPayPlan
				if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
					t.Fatalf("plan = %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, plan %+v", cmd.Order.CreditPayPlan)
			}
			var fe *protocol.FieldError
			var pe *protocol.Error
			switch {
			case errors.As(err, &fe):
				// The API answers a decoding error PARAM_ILLEGAL with this text (internal/api).
				if fe.Path != tt.path || !strings.Contains(fe.Reason, tt.msg) {
					t.Fatalf("decode error %q, want path %s and %q", fe.Error(), tt.path, tt.msg)
				}
			case errors.As(err, &pe):
				if pe.Code != protocol.CodeParamIllegal || !strings.HasPrefix(pe.Message, tt.path+" ") || !strings.Contains(pe.Message, tt.msg) {
					t.Fatalf("refusal %s %q, want PARAM_ILLEGAL naming %s with %q", pe.Code, pe.Message, tt.path, tt.msg)
				}
			default:
				t.Fatalf("error %v is neither a FieldError nor a protocol.Error", err)
			}
		})
	}
}

func TestCreditPayPlanRefusedOnHostedPay(t *testing.T) {
	m := base(t)
	set(m, "paymentAmount.currency", "USD")
	set(m, "paymentAmount.value", "10000")
	del(m, "order.orderAmount")
	del(m, "paymentMethod.paymentMethodMetaData")
	set(m, "creditPayPlan", jsonObj{"installmentNum": 3})
	_, err := payments.ParsePayRequest(decodePay(t, m), testNow)
	assertRefused(t, err, protocol.CodeParamIllegal, "creditPayPlan")
	if !strings.Contains(err.Error(), "hosted-page") {
		t.Fatalf("message %q does not say why", err)
	}
}
