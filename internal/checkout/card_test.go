package checkout

import (
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/payments"
)

func TestSourceOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://www.yourMerchantWeb.com", " https://www.yourMerchantWeb.com"},
		{"https://shop.example:8443/return?x=1#y", " https://shop.example:8443"},
		{"http://127.0.0.1:9000/landing", " http://127.0.0.1:9000"},
		{"http://[::1]:9000/landing", " http://[::1]:9000"},
		{"myapp://pay/done", " myapp://pay"},
		{"alipays:done", " alipays:"},
		{"relative/path", ""},
		{"https://shop.example;script-src *", ""},
		{"https://shop.example'/x", ""},
		{"::", ""},
	}
	for _, tt := range tests {
		if got := sourceOf(tt.in); got != tt.want {
			t.Errorf("sourceOf(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestCardPageNeverWritesCardData: even handed a view whose form holds a card number and a
// security code, the card page's template writes neither (the buyer types them again).
func TestCardPageNeverWritesCardData(t *testing.T) {
	v := cardView{Title: "Pay by card", Merchant: "Shop", Amount: "42.00 SGD", Open: true, Nonce: "n",
		Form:   payments.CardForm{CardNo: "4000 0000 0000 3220", ExpiryMonth: "13", ExpiryYear: "30", CVV: "762", CardholderName: "Alan Wallex"},
		Errors: payments.FormErrors{"expiry": "The expiry month must be 1 to 12."}}
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, "card.html", v); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, secret := range []string{"4000 0000 0000 3220", "4000000000003220", "3220", "762"} {
		if strings.Contains(page, secret) {
			t.Errorf("the card page writes %q", secret)
		}
	}
	for _, want := range []string{`value="13"`, `value="30"`, `value="Alan Wallex"`, "Enter the card number again.", "Enter the security code again."} {
		if !strings.Contains(page, want) {
			t.Errorf("the refused page lacks %q", want)
		}
	}
}
