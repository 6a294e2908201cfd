package payments_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/bin"
	"github.com/cardgate/cardgate/internal/installments"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// FuzzConsultRequest: whatever bytes arrive at consult, the answer is a success with exactly the
// CARD option (enabled, its plans all within the table and the amount above their minimum), or a
// refusal with an F code; never a panic, never U (SDKs would retry bad input for ever).
func FuzzConsultRequest(f *testing.F) {
	for _, s := range []string{
		`{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"USD","value":"10000"},"allowedPaymentMethods":["CARD"],"env":{"terminalType":"WEB"}}`,
		`{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"KRW","value":"50000"},"userRegion":"KR","merchantRegion":"SG"}`,
		`{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"XTS","value":"1"}}`,
		`{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"USD","value":"1"},"blockedPaymentMethods":["CARD"],"allowedPaymentMethodRegions":["GLOBAL","kr"]}`,
		`{"paymentAmount":null,"env":{"terminalType":7}}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r protocol.ConsultRequest
		if err := protocol.Decode(body, &r); err != nil {
			var fe *protocol.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Decode error %v is not a *protocol.FieldError", err)
			}
			return
		}
		resp, err := payments.Consult(&r)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code.Status() != protocol.StatusFail {
				t.Fatalf("refusal %v is not an F *protocol.Error", err)
			}
			return
		}
		if len(resp.PaymentOptions) != 1 || resp.PaymentOptions[0].PaymentMethodType != "CARD" || !resp.PaymentOptions[0].Enabled {
			t.Fatalf("options = %+v", resp.PaymentOptions)
		}
		in := resp.PaymentOptions[0].Installment
		if in == nil {
			return
		}
		plan, ok := installments.Default().ForCurrency(r.PaymentAmount.Currency)
		if !ok {
			t.Fatalf("installments shown for %s, which has no plan", r.PaymentAmount.Currency)
		}
		if v, _ := strconv.ParseInt(r.PaymentAmount.Value, 10, 64); v < plan.MinMinor {
			t.Fatalf("installments shown for %s below the minimum %d", r.PaymentAmount.Value, plan.MinMinor)
		}
		for _, p := range in.Plans {
			n, err := strconv.Atoi(p.InstallmentNum)
			if err != nil || !plan.Offers(n) {
				t.Fatalf("plan count %q is not the table's", p.InstallmentNum)
			}
		}
	})
}

// FuzzCreditPayPlan: for any installmentNum JSON, currency, amount and test card, ParsePayRequest
// either accepts a plan the table offers that card (and fills it from the table), or refuses with
// PARAM_ILLEGAL naming creditPayPlan; a decoding failure names creditPayPlan.installmentNum.
func FuzzCreditPayPlan(f *testing.F) {
	for _, s := range []struct {
		n, cur, value string
		card          uint8
	}{
		{"3", "USD", "10000", 0}, {"7", "USD", "10000", 0}, {`"abc"`, "USD", "10000", 0}, {"3.5", "USD", "10000", 1},
		{"-5", "BRL", "2000", 2}, {"12", "BRL", "2000", 2}, {"9", "MXN", "30000", 3}, {"6", "KRW", "50000", 4},
		{"24", "JPY", "10000", 5}, {"1", "SGD", "4200", 0}, {`"12"`, "USD", "99999", 1}, {"null", "USD", "1", 0},
	} {
		f.Add(s.n, s.cur, s.value, s.card)
	}
	cards := []string{"4242424242424242", "5555555555554444", "4000000760000002", "4000004840008001", "4000004100000003", "3566002020360505", "378282246310005"}
	f.Fuzz(func(t *testing.T, n, currency, value string, which uint8) {
		if !json.Valid([]byte(n)) {
			return
		}
		pan := cards[int(which)%len(cards)]
		m := base(t)
		set(m, meta+".cardNo", pan)
		if strings.HasPrefix(pan, "37") {
			set(m, meta+".cvv", "1234")
		}
		set(m, "paymentAmount.currency", currency)
		set(m, "paymentAmount.value", value)
		del(m, "order.orderAmount")
		set(m, "creditPayPlan", jsonObj{"installmentNum": json.RawMessage(n)})
		body, err := json.Marshal(m)
		if err != nil {
			return // e.g. invalid UTF-8 in a field json.Marshal rewrites
		}
		var r protocol.PayRequest
		if err := protocol.Decode(body, &r); err != nil {
			var fe *protocol.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Decode error %v is not a *protocol.FieldError", err)
			}
			return
		}
		cmd, err := payments.ParsePayRequest(&r, testNow)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code.Status() != protocol.StatusFail {
				t.Fatalf("refusal %v is not an F *protocol.Error", err)
			}
			if pe.Code == protocol.CodeParamIllegal && strings.HasPrefix(pe.Message, "creditPayPlan") && r.CreditPayPlan == nil {
				t.Fatalf("refused a plan that was not sent: %s", pe.Message)
			}
			return
		}
		got := cmd.Order.CreditPayPlan
		if r.CreditPayPlan == nil {
			if got != nil {
				t.Fatalf("a plan %+v appeared from nowhere", got)
			}
			return
		}
		plan, ok := installments.Default().Lookup(cmd.Amount.Currency.Code, cmd.Card.Brand(), bin.Lookup(cmd.Card).Country)
		if !ok || got == nil || !plan.Offers(int(got.InstallmentNum)) || cmd.Amount.Minor < plan.MinMinor {
			t.Fatalf("accepted %+v for %s %d on %s, which the table does not offer", got, currency, cmd.Amount.Minor, cmd.Card.Masked())
		}
		if got.InterestRate != plan.InterestRate || got.Interval != plan.Interval || int(got.FeePercentage) != plan.FeePercentage {
			t.Fatalf("plan %+v not filled from the table %+v", got, plan)
		}
	})
}
