package payments_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// testNow is the clock of the validation tests: fixed, so that the seeds' expiry dates ("12"/"29",
// "06"/"28") stay in the future however late the tests run.
var testNow = time.Date(2026, time.May, 15, 12, 0, 0, 0, time.UTC)

const meta = "paymentMethod.paymentMethodMetaData"

// jsonObj is a request as a generic JSON tree, so tests can change one field of a seed at a time
// and then decode it through protocol.Decode exactly as the API does.
type jsonObj = map[string]any

// loadSeed reads a seed pay request from testdata/seeds (copied verbatim from the seed pages'
// samples) and replaces the values the pages mask ("****") by usable test data.
func loadSeed(t testing.TB, name string) jsonObj {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seeds", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m jsonObj
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if name == "003-24-pay-request" {
		set(m, meta+".cardNo", "4242424242424242")
		set(m, meta+".cvv", "123")
		set(m, meta+".expiryMonth", "09")
		set(m, meta+".expiryYear", "2031")
		set(m, meta+".cardholderName.firstName", "Kendra")
		set(m, meta+".billingAddress.address1", "1 Main Street")
		set(m, "env.clientIp", "172.16.0.1")
		set(m, "order.buyer.buyerEmail", "kendra@example.com")
		set(m, "order.buyer.buyerName.firstName", "Kendra")
		set(m, "order.shipping.shippingName.firstName", "Kendra")
		set(m, "order.shipping.shippingAddress.address1", "1 Main Street")
		set(m, "order.shipping.shipToEmail", "kendra@example.com")
	}
	return m
}

// set puts v at a dotted path, creating objects on the way.
func set(m jsonObj, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(jsonObj)
		if !ok {
			next = jsonObj{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// del removes the value at a dotted path, if there is one.
func del(m jsonObj, path string) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(jsonObj)
		if !ok {
			return
		}
		m = next
	}
	delete(m, parts[len(parts)-1])
}

// get returns the string at a dotted path ("" when absent or not a string).
func get(m jsonObj, path string) string {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(jsonObj)
		if !ok {
			return ""
		}
		m = next
	}
	s, _ := m[parts[len(parts)-1]].(string)
	return s
}

func encode(t testing.TB, m jsonObj) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodePay decodes a request tree with protocol.Decode, as the API layer does.
func decodePay(t testing.TB, m jsonObj) *protocol.PayRequest {
	t.Helper()
	var r protocol.PayRequest
	if err := protocol.Decode(encode(t, m), &r); err != nil {
		t.Fatalf("protocol.Decode: %v", err)
	}
	return &r
}

// base is the small seed 004-34 (Antom's own sample card), the starting point of most cases.
func base(t testing.TB) jsonObj { return loadSeed(t, "004-34-pay-request") }

func TestParsePayRequestSeeds(t *testing.T) {
	tests := []struct {
		seed        string
		requestID   string
		currency    string
		minor       int64
		capture     payments.CaptureMode
		pan         string
		expiry      card.Expiry
		cvv         string
		holder      string
		hasBilling  bool
		terminal    string
		buyerID     string
		notifyURL   string
		orderAmount int64
	}{
		{
			seed: "001-06-pay-request", requestID: "PAY_20221114141714891",
			currency: "EUR", minor: 30000, capture: payments.CaptureAutomatic,
			pan: "4117347806156383", expiry: card.Expiry{Year: 2029, Month: 12}, cvv: "850",
			holder: "Tom Jay", hasBilling: true, terminal: "APP", buyerID: "test12345678",
			notifyURL: "https://www.alipay.com/notify", orderAmount: 30000,
		},
		{
			seed: "003-24-pay-request", requestID: "20250515141372578176868806656",
			currency: "USD", minor: 13184, capture: payments.CaptureManual,
			pan: "4242424242424242", expiry: card.Expiry{Year: 2031, Month: 9}, cvv: "123",
			holder: "Kendra schmitt", hasBilling: true, terminal: "WEB", buyerID: "2095667",
			notifyURL: "https://pay.shopcider.com/pay/v2/notify/callback?platform=ALIPAY", orderAmount: 13184,
		},
		{
			seed: "004-34-pay-request", requestID: "paymentRequestId01",
			currency: "SGD", minor: 4200, capture: payments.CaptureAutomatic,
			pan: "4054695723100768", expiry: card.Expiry{Year: 2028, Month: 6}, cvv: "712",
			holder: "Alan Wallex", hasBilling: false, terminal: "WEB", buyerID: "yourBuyerId",
			notifyURL: "http://www.yourNotifyUrl.com", orderAmount: 4200,
		},
	}
	for _, tt := range tests {
		t.Run(tt.seed, func(t *testing.T) {
			m := loadSeed(t, tt.seed)
			cmd, err := payments.ParsePayRequest(decodePay(t, m), testNow)
			if err != nil {
				t.Fatalf("ParsePayRequest: %v", err)
			}
			if cmd.RequestID != tt.requestID {
				t.Errorf("RequestID = %q, want %q", cmd.RequestID, tt.requestID)
			}
			if cmd.Amount.Currency.Code != tt.currency || cmd.Amount.Minor != tt.minor {
				t.Errorf("Amount = %v, want %d %s", cmd.Amount, tt.minor, tt.currency)
			}
			if cmd.CaptureMode != tt.capture {
				t.Errorf("CaptureMode = %q, want %q", cmd.CaptureMode, tt.capture)
			}
			if cmd.Card.Digits() != tt.pan || cmd.Card.Brand() != card.Visa {
				t.Errorf("Card = %v %s, want %s VISA", cmd.Card, cmd.Card.Brand(), tt.pan[len(tt.pan)-4:])
			}
			if cmd.Expiry != tt.expiry {
				t.Errorf("Expiry = %+v, want %+v", cmd.Expiry, tt.expiry)
			}
			if cmd.CVV != tt.cvv {
				t.Errorf("CVV mismatch")
			}
			if cmd.HolderName != tt.holder {
				t.Errorf("HolderName = %q, want %q", cmd.HolderName, tt.holder)
			}
			if cmd.HasBilling != tt.hasBilling {
				t.Errorf("HasBilling = %v, want %v", cmd.HasBilling, tt.hasBilling)
			}
			if want := testNow.Add(payments.DefaultPaymentExpiry); !cmd.ExpiresAt.Equal(want) {
				t.Errorf("ExpiresAt = %v, want %v (default 14 minutes)", cmd.ExpiresAt, want)
			}
			o := cmd.Order
			if o.TerminalType != tt.terminal || o.ReferenceBuyerID != tt.buyerID || o.NotifyURL != tt.notifyURL {
				t.Errorf("Order = %+v, want terminal %s, buyer %s, notify %s", o, tt.terminal, tt.buyerID, tt.notifyURL)
			}
			if o.RedirectURL != get(m, "paymentRedirectUrl") || o.ReferenceOrderID != get(m, "order.referenceOrderId") ||
				o.Description != get(m, "order.orderDescription") {
				t.Errorf("Order = %+v does not carry the request's redirect URL, order id and description", o)
			}
			if o.OrderCurrency != tt.currency || o.OrderMinor != tt.orderAmount {
				t.Errorf("order amount = %d %s, want %d %s", o.OrderMinor, o.OrderCurrency, tt.orderAmount, tt.currency)
			}
		})
	}
}

func TestParsePayRequestWalletIsRefused(t *testing.T) {
	m := loadSeed(t, "004-50-pay-request")
	_, err := payments.ParsePayRequest(decodePay(t, m), testNow)
	assertRefused(t, err, protocol.CodeParamIllegal, "paymentMethod.paymentMethodType")
}

// TestParsePayRequestLenient holds the leniencies of docs/design.md "Contract details" and docs/wire.md
// §3: what the seeds and SDKs send must pass.
func TestParsePayRequestLenient(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m jsonObj)
		check  func(t *testing.T, cmd payments.PayCommand)
	}{
		{"enableAuthenticationUpgrade", func(m jsonObj) { set(m, meta+".enableAuthenticationUpgrade", true) }, nil},
		{"enableAuthenticationUpgrate (Antom's spelling)", func(m jsonObj) { set(m, meta+".enableAuthenticationUpgrate", true) }, nil},
		{"enableAuthenticationUpgrade as a string", func(m jsonObj) { set(m, meta+".enableAuthenticationUpgrade", "true") }, nil},
		{"app-scheme redirect URL", func(m jsonObj) { set(m, "paymentRedirectUrl", "imeituan://") }, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.Order.RedirectURL != "imeituan://" {
				t.Errorf("RedirectURL = %q", cmd.Order.RedirectURL)
			}
		}},
		{"paymentAmount below orderAmount", func(m jsonObj) { set(m, "paymentAmount.value", "4000") }, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.Amount.Minor != 4000 || cmd.Order.OrderMinor != 4200 {
				t.Errorf("amount %d, order amount %d; want 4000 and 4200", cmd.Amount.Minor, cmd.Order.OrderMinor)
			}
		}},
		{"clientIp with a leading zero", func(m jsonObj) { set(m, "env.clientIp", "114.121.121.01") }, nil},
		{"env only inside order", func(m jsonObj) {
			del(m, "env")
			set(m, "order.env", jsonObj{"terminalType": "APP", "osType": "ANDROID", "clientIp": "10.0.0.1"})
		}, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.Order.TerminalType != "APP" {
				t.Errorf("TerminalType = %q, want APP from order.env", cmd.Order.TerminalType)
			}
		}},
		{"colorDepth and screen sizes as numbers", func(m jsonObj) {
			set(m, "env.colorDepth", json.Number("24"))
			set(m, "env.screenHeight", json.Number("723"))
			set(m, "env.screenWidth", json.Number("1536"))
			set(m, "env.timeZoneOffset", "-480")
		}, nil},
		{"expiryYear as a number", func(m jsonObj) { set(m, meta+".expiryYear", json.Number("29")) }, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.Expiry.Year != 2029 {
				t.Errorf("Expiry.Year = %d, want 2029", cmd.Expiry.Year)
			}
		}},
		{"expiryMonth as a number", func(m jsonObj) { set(m, meta+".expiryMonth", json.Number("6")) }, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.Expiry.Month != 6 {
				t.Errorf("Expiry.Month = %d, want 6", cmd.Expiry.Month)
			}
		}},
		{"isAuthorization as a string", func(m jsonObj) { set(m, "paymentFactor.isAuthorization", "true") }, nil},
		{"is3DSAuthentication false as a string", func(m jsonObj) { set(m, meta+".is3DSAuthentication", "false") }, nil},
		{"legacy top-level isAuthorization", func(m jsonObj) {
			del(m, "paymentFactor")
			m["isAuthorization"] = true
		}, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.CaptureMode != payments.CaptureAutomatic {
				t.Errorf("CaptureMode = %q, want AUTOMATIC", cmd.CaptureMode)
			}
		}},
		{"null optional fields are absent", func(m jsonObj) {
			m["paymentNotifyUrl"] = nil
			m["paymentExpiryTime"] = nil
			m["settlementStrategy"] = nil
			m["merchantRegion"] = nil
			set(m, meta+".cvv", nil)
			set(m, meta+".billingAddress", nil)
			set(m, meta+".is3DSAuthentication", nil)
			set(m, "paymentFactor.captureMode", nil)
			set(m, "order.orderAmount", nil)
			set(m, "order.goods", nil)
			set(m, "env.osType", nil)
		}, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.CVV != "" || cmd.Order.NotifyURL != "" || cmd.HasBilling || cmd.Order.OrderCurrency != "" {
				t.Errorf("null fields were not absent: %+v", cmd.Order)
			}
			if cmd.CaptureMode != payments.CaptureAutomatic {
				t.Errorf("CaptureMode = %q, want the AUTOMATIC default", cmd.CaptureMode)
			}
			if !cmd.ExpiresAt.Equal(testNow.Add(payments.DefaultPaymentExpiry)) {
				t.Errorf("ExpiresAt = %v, want the default", cmd.ExpiresAt)
			}
		}},
		{"no cvv", func(m jsonObj) { del(m, meta+".cvv") }, nil},
		{"unknown fields", func(m jsonObj) {
			m["someFutureField"] = jsonObj{"x": []any{1, 2}}
			set(m, meta+".selectedCardBrand", "VISA")
			set(m, meta+".mpiData", jsonObj{"eci": "05", "cavv": "AAABBB=="})
		}, nil},
		{"JPY has no decimals", func(m jsonObj) {
			set(m, "paymentAmount", jsonObj{"currency": "JPY", "value": "4200"})
			del(m, "order.orderAmount")
		}, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.Amount.Currency.Code != "JPY" || cmd.Amount.Minor != 4200 || cmd.Amount.Currency.Exponent != 0 {
				t.Errorf("Amount = %+v, want 4200 JPY", cmd.Amount)
			}
		}},
		{"expiry this month", func(m jsonObj) {
			set(m, meta+".expiryMonth", testNow.Format("01"))
			set(m, meta+".expiryYear", testNow.Format("06"))
		}, nil},
		{"four-digit expiry year", func(m jsonObj) { set(m, meta+".expiryYear", "2030") }, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.Expiry.Year != 2030 {
				t.Errorf("Expiry.Year = %d", cmd.Expiry.Year)
			}
		}},
		{"AMEX with a four-digit cvv", func(m jsonObj) {
			set(m, meta+".cardNo", "378282246310005")
			set(m, meta+".cvv", "1234")
		}, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.Card.Brand() != card.Amex {
				t.Errorf("Brand = %s", cmd.Card.Brand())
			}
		}},
		{"manual capture", func(m jsonObj) { set(m, "paymentFactor.captureMode", "MANUAL") }, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.CaptureMode != payments.CaptureManual {
				t.Errorf("CaptureMode = %q", cmd.CaptureMode)
			}
		}},
		{"paymentExpiryTime in the future, any offset", func(m jsonObj) {
			set(m, "paymentExpiryTime", testNow.Add(30*time.Minute).In(time.FixedZone("", 8*3600)).Format(time.RFC3339))
		}, func(t *testing.T, cmd payments.PayCommand) {
			if !cmd.ExpiresAt.Equal(testNow.Add(30 * time.Minute)) {
				t.Errorf("ExpiresAt = %v, want now + 30 min", cmd.ExpiresAt)
			}
		}},
		{"paymentExpiryTime exactly 7 days ahead", func(m jsonObj) {
			set(m, "paymentExpiryTime", testNow.Add(payments.MaxPaymentExpiry).Format(time.RFC3339))
		}, func(t *testing.T, cmd payments.PayCommand) {
			if !cmd.ExpiresAt.Equal(testNow.Add(payments.MaxPaymentExpiry)) {
				t.Errorf("ExpiresAt = %v, want now + 7 days", cmd.ExpiresAt)
			}
		}},
		{"amount of 16 digits, the wire's most", func(m jsonObj) {
			set(m, "paymentAmount.value", "9999999999999999")
			set(m, "order.orderAmount.value", "9999999999999999")
		}, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.Amount.Minor != 9999999999999999 {
				t.Errorf("Amount = %v", cmd.Amount)
			}
		}},
		{"paymentRequestId of 64 characters", func(m jsonObj) { set(m, "paymentRequestId", strings.Repeat("r", 64)) }, nil},
		{"buyer by phone only", func(m jsonObj) { set(m, "order.buyer", jsonObj{"buyerPhoneNo": "+6512345678"}) }, nil},
		{"buyer by email only", func(m jsonObj) { set(m, "order.buyer", jsonObj{"buyerEmail": "a@example.com"}) }, nil},
		{"WAP with osType", func(m jsonObj) {
			set(m, "env.terminalType", "WAP")
			set(m, "env.osType", "IOS")
		}, nil},
		{"cardholder fullName only", func(m jsonObj) { set(m, meta+".cardholderName", jsonObj{"fullName": "Alan Wallex"}) }, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.HolderName != "Alan Wallex" {
				t.Errorf("HolderName = %q", cmd.HolderName)
			}
		}},
		{"other brands", func(m jsonObj) { set(m, meta+".cardNo", "5555555555554444") }, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.Card.Brand() != card.Mastercard {
				t.Errorf("Brand = %s", cmd.Card.Brand())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base(t)
			tt.mutate(m)
			cmd, err := payments.ParsePayRequest(decodePay(t, m), testNow)
			if err != nil {
				t.Fatalf("ParsePayRequest: %v", err)
			}
			if tt.check != nil {
				tt.check(t, cmd)
			}
		})
	}
}

type rejectCase struct {
	name   string
	mutate func(m jsonObj)
	code   protocol.Code
	path   string // must appear in the error message
}

func rejectCases() []rejectCase {
	param := protocol.CodeParamIllegal
	missing := func(path, named string) rejectCase {
		return rejectCase{"missing " + path, func(m jsonObj) { del(m, path) }, param, named}
	}
	setTo := func(name, path string, v any, code protocol.Code, named string) rejectCase {
		return rejectCase{name, func(m jsonObj) { set(m, path, v) }, code, named}
	}
	lastMonth := testNow.AddDate(0, -1, 0)
	cases := []rejectCase{
		missing("productCode", "productCode"),
		missing("paymentRequestId", "paymentRequestId"),
		missing("paymentAmount", "paymentAmount"),
		missing("paymentAmount.currency", "paymentAmount.currency"),
		missing("paymentAmount.value", "paymentAmount.value"),
		missing("paymentMethod", "paymentMethod.paymentMethodType"),
		missing("paymentMethod.paymentMethodType", "paymentMethod.paymentMethodType"),
		missing("paymentRedirectUrl", "paymentRedirectUrl"),
		missing("paymentFactor", "paymentFactor.isAuthorization"),
		missing("paymentFactor.isAuthorization", "paymentFactor.isAuthorization"),
		missing("order", "order"),
		missing("order.referenceOrderId", "order.referenceOrderId"),
		missing("order.orderDescription", "order.orderDescription"),
		missing("order.buyer", "order.buyer"),
		missing("env.terminalType", "env.terminalType"),
		missing("env.clientIp", "env.clientIp"),
		{"missing env everywhere", func(m jsonObj) { del(m, "env"); del(m, "order.env") }, param, "env.terminalType"},
		// Without paymentMethodMetaData the pay is hosted (accepted, TestParsePayRequestHosted);
		// card data that is partly there is a server-to-server pay missing a field.
		{"card data without cardNo", func(m jsonObj) { del(m, meta+".cardNo"); del(m, meta+".cvv") }, param, meta + ".cardNo"},
		{"only a cardholderName", func(m jsonObj) {
			del(m, meta+".cardNo")
			del(m, meta+".cvv")
			del(m, meta+".expiryMonth")
			del(m, meta+".expiryYear")
		}, param, meta + ".cardNo"},
		setTo("NUL in paymentRequestId", "paymentRequestId", "pay\x00ment", param, "paymentRequestId"),
		setTo("line break in referenceOrderId", "order.referenceOrderId", "o1\nINFO forged", param, "order.referenceOrderId"),
		setTo("NUL in referenceBuyerId", "order.buyer.referenceBuyerId", "b\x00", param, "order.buyer.referenceBuyerId"),
		setTo("tokenizeMode unknown", meta+".tokenizeMode", "ALWAYS", param, meta+".tokenizeMode"),
		{"paymentMethodId with a cardNo", func(m jsonObj) { set(m, "paymentMethod.paymentMethodId", "ctk_x") }, param, meta + ".cardNo"},
		{"paymentMethodId too long", func(m jsonObj) {
			del(m, meta)
			set(m, "paymentMethod.paymentMethodId", strings.Repeat("t", 129))
		}, param, "paymentMethod.paymentMethodId"},
		missing(meta+".cardNo", meta+".cardNo"),
		missing(meta+".expiryYear", meta+".expiryYear"),
		missing(meta+".expiryMonth", meta+".expiryMonth"),
		missing(meta+".cardholderName", meta+".cardholderName"),
		setTo("empty cardholderName", meta+".cardholderName", jsonObj{}, param, meta+".cardholderName"),
		setTo("blank cardholderName", meta+".cardholderName", jsonObj{"firstName": " ", "lastName": ""}, param, meta+".cardholderName"),
		setTo("null productCode", "productCode", nil, param, "productCode"),
		setTo("empty paymentRequestId", "paymentRequestId", "", param, "paymentRequestId"),

		setTo("other productCode", "productCode", "AGREEMENT_PAYMENT", param, "productCode"),
		setTo("paymentRequestId of 65 characters", "paymentRequestId", strings.Repeat("r", 65), param, "paymentRequestId"),

		setTo("amount with decimals", "paymentAmount.value", "42.00", param, "paymentAmount.value"),
		setTo("negative amount", "paymentAmount.value", "-1", param, "paymentAmount.value"),
		setTo("zero amount", "paymentAmount.value", "0", param, "paymentAmount.value"),
		setTo("empty amount", "paymentAmount.value", "", param, "paymentAmount.value"),
		setTo("exponent amount", "paymentAmount.value", "1e3", param, "paymentAmount.value"),
		setTo("amount with a space", "paymentAmount.value", " 42", param, "paymentAmount.value"),
		setTo("amount with a leading zero", "paymentAmount.value", "0042", param, "paymentAmount.value"),
		setTo("amount as a JSON fraction", "paymentAmount.value", json.Number("42.5"), param, "paymentAmount.value"),
		setTo("bad order amount", "order.orderAmount.value", "-4200", param, "order.orderAmount.value"),

		setTo("currency XXX", "paymentAmount.currency", "XXX", protocol.CodeCurrencyNotSupport, "paymentAmount.currency"),
		setTo("currency XTS", "paymentAmount.currency", "XTS", protocol.CodeCurrencyNotSupport, "paymentAmount.currency"),
		setTo("currency lowercase", "paymentAmount.currency", "usd", protocol.CodeCurrencyNotSupport, "paymentAmount.currency"),
		setTo("currency unknown", "paymentAmount.currency", "ABC", protocol.CodeCurrencyNotSupport, "paymentAmount.currency"),
		setTo("settlement currency unknown", "settlementStrategy.settlementCurrency", "XAU", protocol.CodeCurrencyNotSupport, "settlementStrategy.settlementCurrency"),

		setTo("wallet payment method", "paymentMethod.paymentMethodType", "ALIPAY_CN", param, "paymentMethod.paymentMethodType"),
		setTo("lowercase card method", "paymentMethod.paymentMethodType", "card", param, "paymentMethod.paymentMethodType"),

		setTo("redirect URL not a URL", "paymentRedirectUrl", "notaurl", param, "paymentRedirectUrl"),
		setTo("redirect URL too long", "paymentRedirectUrl", "https://x.example/"+strings.Repeat("a", 2048), param, "paymentRedirectUrl"),
		setTo("notify URL ftp", "paymentNotifyUrl", "ftp://x", param, "paymentNotifyUrl"),
		setTo("notify URL not a URL", "paymentNotifyUrl", "notaurl", param, "paymentNotifyUrl"),
		setTo("notify URL without host", "paymentNotifyUrl", "https://", param, "paymentNotifyUrl"),

		setTo("isAuthorization false", "paymentFactor.isAuthorization", false, param, "paymentFactor.isAuthorization"),
		setTo("captureMode unknown", "paymentFactor.captureMode", "LATER", param, "paymentFactor.captureMode"),

		setTo("buyer without identifiers", "order.buyer", jsonObj{"buyerName": jsonObj{"firstName": "A", "lastName": "B"}}, param, "order.buyer"),
		setTo("order id too long", "order.referenceOrderId", strings.Repeat("o", 65), param, "order.referenceOrderId"),
		setTo("order description too long", "order.orderDescription", strings.Repeat("d", 257), param, "order.orderDescription"),

		{"WAP without osType", func(m jsonObj) { set(m, "env.terminalType", "WAP"); del(m, "env.osType") }, param, "env.osType"},
		{"APP without osType", func(m jsonObj) { set(m, "env.terminalType", "APP"); del(m, "env.osType") }, param, "env.osType"},
		setTo("unknown terminalType", "env.terminalType", "TV", param, "env.terminalType"),
		setTo("unknown osType", "env.osType", "SYMBIAN", param, "env.osType"),
		setTo("clientIp too long", "env.clientIp", strings.Repeat("1", 65), param, "env.clientIp"),

		setTo("Luhn failure", meta+".cardNo", "4242424242424241", protocol.CodeInvalidCardNumber, meta+".cardNo"),
		setTo("card number with spaces", meta+".cardNo", "4242 4242 4242 4242", protocol.CodeInvalidCardNumber, meta+".cardNo"),
		setTo("card number too short", meta+".cardNo", "42424242", protocol.CodeInvalidCardNumber, meta+".cardNo"),
		setTo("unknown brand", meta+".cardNo", "9000000000000001", protocol.CodeCardNotSupported, meta+".cardNo"),
		setTo("unknown brand 7", meta+".cardNo", "7000000000000005", protocol.CodeCardNotSupported, meta+".cardNo"),

		{"expired last month", func(m jsonObj) {
			set(m, meta+".expiryMonth", lastMonth.Format("01"))
			set(m, meta+".expiryYear", lastMonth.Format("06"))
		}, protocol.CodeInvalidExpirationDate, meta + ".expiry"},
		{"expired last year, four digits", func(m jsonObj) {
			set(m, meta+".expiryMonth", "12")
			set(m, meta+".expiryYear", testNow.AddDate(-1, 0, 0).Format("2006"))
		}, protocol.CodeInvalidExpirationDate, meta + ".expiry"},
		setTo("month 00", meta+".expiryMonth", "00", protocol.CodeInvalidExpirationDate, meta+".expiryMonth"),
		setTo("month 13", meta+".expiryMonth", "13", protocol.CodeInvalidExpirationDate, meta+".expiryMonth"),
		setTo("month letters", meta+".expiryMonth", "ab", protocol.CodeInvalidExpirationDate, meta+".expiryMonth"),
		setTo("year of three digits", meta+".expiryYear", "029", protocol.CodeInvalidExpirationDate, meta+".expiryYear"),
		setTo("year of one digit", meta+".expiryYear", "9", protocol.CodeInvalidExpirationDate, meta+".expiryYear"),

		setTo("cvv too short", meta+".cvv", "12", param, meta+".cvv"),
		setTo("cvv too long", meta+".cvv", "12345", param, meta+".cvv"),
		setTo("cvv not digits", meta+".cvv", "12a", param, meta+".cvv"),
		{"AMEX with a three-digit cvv", func(m jsonObj) {
			set(m, meta+".cardNo", "378282246310005")
			set(m, meta+".cvv", "123")
		}, param, meta + ".cvv"},
		setTo("VISA with a four-digit cvv", meta+".cvv", "1234", param, meta+".cvv"),

		setTo("paymentExpiryTime in the past", "paymentExpiryTime", testNow.Add(-time.Minute).Format(time.RFC3339), param, "paymentExpiryTime"),
		setTo("paymentExpiryTime now", "paymentExpiryTime", testNow.Format(time.RFC3339), param, "paymentExpiryTime"),
		setTo("paymentExpiryTime garbage", "paymentExpiryTime", "tomorrow", param, "paymentExpiryTime"),
		setTo("paymentExpiryTime without offset", "paymentExpiryTime", "2030-01-20 08:51:06", param, "paymentExpiryTime"),
		setTo("paymentExpiryTime year 9999", "paymentExpiryTime", "9999-12-31T23:59:59Z", param, "paymentExpiryTime"),
		setTo("paymentExpiryTime a second past 7 days", "paymentExpiryTime", testNow.Add(payments.MaxPaymentExpiry+time.Second).Format(time.RFC3339), param, "paymentExpiryTime"),

		setTo("amount of 17 digits", "paymentAmount.value", "10000000000000000", param, "paymentAmount.value"),
		setTo("amount of 18 nines", "paymentAmount.value", "999999999999999999", param, "paymentAmount.value"),
		setTo("order amount of 17 digits", "order.orderAmount.value", "10000000000000000", param, "order.orderAmount.value"),
	}
	return cases
}

func TestParsePayRequestRejects(t *testing.T) {
	for _, tt := range rejectCases() {
		t.Run(tt.name, func(t *testing.T) {
			m := base(t)
			tt.mutate(m)
			_, err := payments.ParsePayRequest(decodePay(t, m), testNow)
			assertRefused(t, err, tt.code, tt.path)
		})
	}
}

// TestParsePayRequestErrorsHideCardData is docs/design.md invariant 6 for validation errors: whatever
// is wrong, the message never carries the card number or the CVV.
func TestParsePayRequestErrorsHideCardData(t *testing.T) {
	for _, tt := range rejectCases() {
		m := base(t)
		// A distinctive CVV so that a coincidental "712" elsewhere cannot hide a leak.
		set(m, meta+".cvv", "987")
		tt.mutate(m)
		_, err := payments.ParsePayRequest(decodePay(t, m), testNow)
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		msg := err.Error()
		if pan := get(m, meta+".cardNo"); len(pan) >= 8 && strings.Contains(msg, pan) {
			t.Errorf("%s: error %q contains the card number", tt.name, msg)
		}
		if pan := get(m, meta+".cardNo"); len(pan) >= 8 && strings.Contains(strings.ReplaceAll(msg, " ", ""), strings.ReplaceAll(pan, " ", "")) {
			t.Errorf("%s: error %q contains the card number", tt.name, msg)
		}
		if cvv := get(m, meta+".cvv"); len(cvv) >= 3 && strings.Contains(msg, cvv) {
			t.Errorf("%s: error %q contains the CVV", tt.name, msg)
		}
	}
}

func assertRefused(t *testing.T, err error, code protocol.Code, path string) {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want a *protocol.Error %s naming %s", err, code, path)
	}
	if pe.Code != code {
		t.Errorf("code = %s (%s), want %s", pe.Code, pe.Message, code)
	}
	if !strings.Contains(pe.Message, path) {
		t.Errorf("message %q does not name %s", pe.Message, path)
	}
}

func TestParsePayRequestExpiryBoundary(t *testing.T) {
	m := base(t)
	set(m, meta+".expiryMonth", "05")
	set(m, meta+".expiryYear", "26")
	r := decodePay(t, m)
	lastInstant := time.Date(2026, time.May, 31, 23, 59, 59, 0, time.UTC)
	if _, err := payments.ParsePayRequest(r, lastInstant); err != nil {
		t.Errorf("a card expiring 05/26 refused on the last second of May: %v", err)
	}
	_, err := payments.ParsePayRequest(r, lastInstant.Add(time.Second))
	assertRefused(t, err, protocol.CodeInvalidExpirationDate, meta+".expiry")
}
