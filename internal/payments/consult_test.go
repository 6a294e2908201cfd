package payments_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

var updateConsult = flag.Bool("update", false, "rewrite testdata/consult/*.golden from the current answers")

// TestConsultGolden pins the whole consult answer for the cases a merchant's checkout page meets:
// with and without installments, and each refusal.
func TestConsultGolden(t *testing.T) {
	tests := []struct{ name, body string }{
		{"usd-installments", `{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"USD","value":"10000"},"merchantRegion":"US","userRegion":"US","allowedPaymentMethods":["CARD"],"env":{"terminalType":"WEB"}}`},
		{"usd-below-minimum", `{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"USD","value":"9999"},"env":{"terminalType":"WEB"}}`},
		{"mxn-installments", `{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"MXN","value":"30000"},"userRegion":"MX"}`},
		{"sgd-no-plan", `{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"SGD","value":"4200"},"env":{"terminalType":"APP","osType":"IOS"}}`},
		{"error-currency", `{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"XTS","value":"100"}}`},
		{"error-no-card", `{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"USD","value":"100"},"allowedPaymentMethods":["ALIPAY_CN","GCASH"]}`},
		{"error-card-blocked", `{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"USD","value":"100"},"blockedPaymentMethods":["CARD"]}`},
		{"error-regions", `{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"USD","value":"100"},"allowedPaymentMethodRegions":["KR"]}`},
		{"error-amount", `{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"USD","value":"1.00"}}`},
		{"error-product", `{"productCode":"AGREEMENT_PAYMENT","paymentAmount":{"currency":"USD","value":"100"}}`},
		{"error-user-region", `{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"USD","value":"100"},"userRegion":"usa"}`},
		{"error-terminal", `{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"USD","value":"100"},"env":{"terminalType":"POS"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := consultAnswer(t, []byte(tt.body))
			path := filepath.Join("testdata", "consult", tt.name+".golden")
			if *updateConsult {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("answer differs from %s:\n%s", path, got)
			}
		})
	}
}

// consultAnswer is what the API would write for a body: the answer, or the refusal's result.
func consultAnswer(t *testing.T, body []byte) []byte {
	t.Helper()
	var resp any
	var r protocol.ConsultRequest
	if err := protocol.Decode(body, &r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	out, err := payments.Consult(&r)
	resp = out
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Fatalf("error %v is not a *protocol.Error", err)
		}
		resp = protocol.ErrorResponse{Result: protocol.ResultOf(err)}
	}
	b, err := json.MarshalIndent(resp, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestConsultTypes checks the answer's JSON types as the strict SDKs read them: enabled and
// preferred are booleans present even when false would be meant, installmentNum of a Plan a
// string, every brand the gateway takes listed with a logo.
func TestConsultTypes(t *testing.T) {
	var raw map[string]any
	if err := json.Unmarshal(consultAnswer(t, []byte(`{"productCode":"CASHIER_PAYMENT","paymentAmount":{"currency":"KRW","value":"50000"}}`)), &raw); err != nil {
		t.Fatal(err)
	}
	opt := raw["paymentOptions"].([]any)[0].(map[string]any)
	if opt["enabled"] != true || opt["preferred"] != true {
		t.Fatalf("enabled/preferred = %#v/%#v, want JSON true", opt["enabled"], opt["preferred"])
	}
	brands := opt["paymentOptionDetail"].(map[string]any)["supportCardBrands"].([]any)
	if len(brands) != len(card.Brands()) {
		t.Fatalf("%d brands, want the gateway's %d", len(brands), len(card.Brands()))
	}
	for _, b := range brands {
		logo := b.(map[string]any)["logo"].(map[string]any)
		if !strings.HasPrefix(logo["logoUrl"].(string), "data:image/svg+xml,") || logo["logoName"] == "" {
			t.Fatalf("logo %v", logo)
		}
	}
	plans := opt["installment"].(map[string]any)["plans"].([]any)
	if len(plans) != 11 {
		t.Fatalf("KRW plans = %d, want 2..12", len(plans))
	}
	for _, p := range plans {
		p := p.(map[string]any)
		if _, ok := p["installmentNum"].(string); !ok || p["enabled"] != true {
			t.Fatalf("plan %v: installmentNum must be a string, enabled true", p)
		}
	}
}
