package checkout

import "testing"

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
