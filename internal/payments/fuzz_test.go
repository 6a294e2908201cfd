package payments_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/bin"
	"github.com/cardgate/cardgate/internal/localid"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// fuzzSeeds are the seed pages' pay requests (testdata/seeds, with masked values replaced), inline
// so the fuzz target needs nothing outside the package, plus the shapes that broke parsers before.
var fuzzSeeds = []string{
	// 001-06-pay-request
	`{"env":{"browserInfo":{"acceptHeader":"*/*","javaEnabled":true,"javaScriptEnabled":true,"language":"zh_CN","userAgent":"Chrome/100"},"terminalType":"APP","clientIp":"112.80.248.78","deviceId":"eYOIkvFpZzztgO0Yu6USdprBQZCWxDhiUAHCiK8K/cH9mT6wMaMOzAKe","osType":"IOS","deviceLanguage":"zh_CN","colorDepth":48,"screenHeight":768,"screenWidth":1024,"timeZoneOffset":1},"order":{"orderAmount":{"currency":"EUR","value":"30000"},"orderDescription":"Cappuccino #grande (Mika's coffee shop)","referenceOrderId":"ORDER_20221114141714891","goods":[{"referenceGoodsId":"383382011_SGAMZ-904520356","goodsName":"[3 Boxes] Starbucks Cappuccino Milk Coffee Pods / Coffee Capsules by Nescafe Dolce Gusto","goodsUrl":"https://www.lazada.sg/products/i383382011-s904520356.html","goodsCategory":"Digital Goods/Digital Vouchers/Food and Beverages","goodsUnitAmount":{"currency":"EUR","value":"30000"},"goodsQuantity":"10"}],"shipping":{"shippingName":{"firstName":"Dehua","lastName":"Liu","fullName":"Dehua Skr Liu","middleName":"Skr"},"shippingAddress":{"zipCode":"310000","address2":"Xihu","city":"Hangzhou","address1":"Wuchang road","state":"Zhejiang","region":"CN"},"shippingCarrier":"FedEx","shippingPhoneNo":"12345678912","shipToEmail":"test@gmail.com"},"buyer":{"referenceBuyerId":"test12345678","buyerPhoneNo":"12345678912","buyerEmail":"alipay@alipay.com","buyerName":{"firstName":"Dehua","lastName":"Liu","fullName":"Dehua Skr Liu","middleName":"Skr"}}},"paymentAmount":{"currency":"EUR","value":"30000"},"paymentMethod":{"paymentMethodType":"CARD","paymentMethodMetaData":{"isCardOnFile":false,"enableAuthenticationUpgrade":true,"is3DSAuthentication":false,"cvv":"850","cardholderName":{"firstName":"Tom","lastName":"Jay"},"expiryMonth":"12","billingAddress":{"zipCode":"310000","address2":"Xihu","city":"Hangzhou","address1":"Wuchang road","state":"Zhejiang","region":"CN"},"expiryYear":"29","cardNo":"4117347806156383"}},"settlementStrategy":{"settlementCurrency":"EUR"},"paymentNotifyUrl":"https://www.alipay.com/notify","paymentRedirectUrl":"https://www.alipay.com","paymentRequestId":"PAY_20221114141714891","productCode":"CASHIER_PAYMENT","paymentFactor":{"isAuthorization":true}}`,
	// 003-24-pay-request
	`{"env":{"browserInfo":{"acceptHeader":"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8","javaEnabled":false,"javaScriptEnabled":false,"language":"en","userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36"},"clientIp":"172.16.0.1","colorDepth":24,"deviceId":"d0e9ee6d-be3a-487d-b514-69495000be72","deviceLanguage":"en","screenHeight":723,"screenWidth":1536,"terminalType":"WEB","timeZoneOffset":0},"order":{"buyer":{"buyerEmail":"kendra@example.com","buyerName":{"firstName":"Kendra","lastName":"schmitt "},"buyerPhoneNo":"7046518433","buyerRegistrationTime":"2022-01-10T20:33:07+08:00","referenceBuyerId":"2095667"},"goods":[{"deliveryMethodType":"PHYSICAL","goodsCategory":"Bikini Sets","goodsName":"V-neck Strawberry Knotted Tankini Cheeky Bikini Set","goodsQuantity":"1","goodsUnitAmount":{"currency":"USD","value":"2290"},"goodsUrl":"https://m.shopcider.com/product/detail?pid=114496585","referenceGoodsId":"114496585"},{"deliveryMethodType":"PHYSICAL","goodsCategory":"3 Piece Bikini Sets","goodsName":"V-neck Floral Halter Cheeky Bikini Swimsuit With Floral Cover Up Skirt","goodsQuantity":"1","goodsUnitAmount":{"currency":"USD","value":"2790"},"goodsUrl":"https://m.shopcider.com/product/detail?pid=111038664","referenceGoodsId":"111038664"}],"orderAmount":{"currency":"USD","value":"13184"},"orderDescription":"Shop in Cider.","referenceOrderId":"8203426867","shipping":{"shipToEmail":"kendra@example.com","shippingAddress":{"address1":"1 Main Street","city":"Waxhaw","region":"US","state":"NC","zipCode":"28173"},"shippingName":{"firstName":"Kendra","lastName":"schmitt "},"shippingPhoneNo":"7046518433"}},"paymentAmount":{"currency":"USD","value":"13184"},"paymentFactor":{"captureMode":"MANUAL","isAuthorization":true},"paymentMethod":{"paymentMethodMetaData":{"billingAddress":{"address1":"1 Main Street","address2":"","city":"waxhaw","region":"US","state":"NC","zipCode":"28173"},"cardNo":"4242424242424242","cardholderName":{"firstName":"Kendra","lastName":"schmitt "},"cvv":"123","expiryMonth":"09","expiryYear":"2031"},"paymentMethodType":"CARD"},"paymentNotifyUrl":"https://pay.shopcider.com/pay/v2/notify/callback?platform=ALIPAY","paymentRedirectUrl":"https://www.shopcider.com/payment/success?tradeNo=20250515141372578176868806656&oid=8203426867&payType=ALIPAY_CARD_DIRECT_US&ovt=e51e7e02c94340e7809f5b9a3768ffe4","paymentRequestId":"20250515141372578176868806656","productCode":"CASHIER_PAYMENT","settlementStrategy":{"settlementCurrency":"USD"}}`,
	// 004-34-pay-request
	`{"paymentNotifyUrl":"http://www.yourNotifyUrl.com","paymentRequestId":"paymentRequestId01","env":{"terminalType":"WEB","clientIp":"114.121.121.01"},"paymentAmount":{"currency":"SGD","value":"4200"},"productCode":"CASHIER_PAYMENT","paymentRedirectUrl":"http://www.yourRedirectUrl.com","paymentFactor":{"isAuthorization":true},"paymentMethod":{"paymentMethodMetaData":{"cvv":"712","cardholderName":{"firstName":"Alan","lastName":"Wallex"},"expiryMonth":"06","expiryYear":"28","cardNo":"4054695723100768"},"paymentMethodType":"CARD"},"order":{"orderAmount":{"currency":"SGD","value":"4200"},"referenceOrderId":"3232db07-91f7-4364-85bc-829a4c1c653f","env":{"terminalType":"WEB","clientIp":"114.121.121.01"},"orderDescription":"antom test order","buyer":{"referenceBuyerId":"yourBuyerId"}}}`,
	// 004-50-pay-request
	`{"env":{"osType":"ANDROID","terminalType":"APP"},"order":{"orderAmount":{"currency":"CNY","value":"1314"},"orderDescription":"Cappuccino #grande (Mika's coffee shop)","referenceOrderId":"ORDER_0517884936248XXXX"},"paymentAmount":{"currency":"CNY","value":"1314"},"paymentMethod":{"paymentMethodType":"ALIPAY_CN"},"paymentExpiryTime":"2024-01-20T08:51:06+08:00","paymentNotifyUrl":"https://www.gaga.com/notify","paymentRedirectUrl":"imeituan://","paymentRequestId":"iJ9lsVgTx8pX7qJpvW6rfqEE2Kdv9M3lgL8e1999ydfz52uMSqwvT3qXYw8IFBYt","productCode":"CASHIER_PAYMENT","settlementStrategy":{"settlementCurrency":"USD"}}`,
	// Local cards (seed 000): a Korean issuer-authentication pay, a Brazilian one with CPF.
	`{"productCode":"CASHIER_PAYMENT","paymentRequestId":"kr","paymentAmount":{"currency":"KRW","value":"120"},"paymentRedirectUrl":"https://m.example/r","paymentFactor":{"isAuthorization":true},"paymentMethod":{"paymentMethodType":"CARD","requireIssuerAuthentication":true,"paymentMethodMetaData":{"cardNo":"4000004100000003","expiryMonth":"06","expiryYear":"28","dateOfBirth":"1990-01-31","cardPasswordDigest":"12"}},"order":{"referenceOrderId":"o","orderDescription":"d","buyer":{"referenceBuyerId":"b"}},"env":{"terminalType":"WEB","clientIp":"1.2.3.4"}}`,
	`{"productCode":"CASHIER_PAYMENT","paymentRequestId":"br","paymentAmount":{"currency":"BRL","value":"1000"},"paymentRedirectUrl":"https://m.example/r","paymentFactor":{"isAuthorization":true},"paymentMethod":{"paymentMethodType":"CARD","paymentMethodMetaData":{"cardNo":"4000000760000002","expiryMonth":"06","expiryYear":"28","cvv":"123","cardholderName":{"firstName":"Ana","lastName":"Silva"},"cpf":"529.982.247-25","payerEmail":"ana@example.com.br"}},"order":{"referenceOrderId":"o","orderDescription":"d","buyer":{"referenceBuyerId":"b"}},"env":{"terminalType":"WEB","clientIp":"1.2.3.4"}}`,
	`{}`,
	`null`,
	`{"paymentMethod":null,"order":{"env":{"terminalType":"WAP"}}}`,
	`{"productCode":"CASHIER_PAYMENT","paymentRequestId":"r","paymentAmount":{"currency":"SGD","value":"1"},"paymentMethod":{"paymentMethodType":"CARD","paymentMethodId":"tok"},"paymentRedirectUrl":"x:","isAuthorization":"1"}`,
	`{"productCode":"CASHIER_PAYMENT","paymentRequestId":"r","paymentAmount":{"currency":"JPY","value":"999999999999999999"},"paymentMethod":{"paymentMethodType":"CARD","paymentMethodMetaData":{"cardNo":"378282246310005","expiryYear":9999,"expiryMonth":1,"cvv":"1234","cardholderName":{"fullName":" "}}}}`,
}

// FuzzDecodePayRequest: whatever bytes arrive, decoding and validating a pay request never panics;
// a refusal is always a *protocol.Error that does not echo the card number; an accepted request
// is a well-formed command.
func FuzzDecodePayRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	now := time.Date(2026, time.May, 15, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var r protocol.PayRequest
		if err := protocol.Decode(body, &r); err != nil {
			var fe *protocol.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Decode error %v is not a *protocol.FieldError", err)
			}
			return
		}
		cmd, err := payments.ParsePayRequest(&r, now)
		var pan string
		if r.PaymentMethod != nil && r.PaymentMethod.PaymentMethodMetaData != nil {
			pan = r.PaymentMethod.PaymentMethodMetaData.CardNo
		}
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePayRequest error %v is not a *protocol.Error", err)
			}
			if pe.Code.Status() != protocol.StatusFail {
				t.Fatalf("refusal %s has status %s", pe.Code, pe.Code.Status())
			}
			// Only a number that appears once in the body can be blamed on the cardNo field.
			if len(pan) >= 12 && bytes.Count(body, []byte(pan)) == 1 && bytes.Contains([]byte(pe.Message), []byte(pan)) {
				t.Fatalf("error %q echoes the card number", pe.Message)
			}
			return
		}
		if cmd.Card.Digits() != pan || cmd.Amount.Minor <= 0 || cmd.RequestID == "" || len(cmd.RequestID) > 64 {
			t.Fatalf("accepted a malformed command: %+v", cmd)
		}
		if cmd.CaptureMode != payments.CaptureAutomatic && cmd.CaptureMode != payments.CaptureManual {
			t.Fatalf("capture mode %q", cmd.CaptureMode)
		}
		if !cmd.ExpiresAt.After(now) {
			t.Fatalf("accepted an expired request: %v", cmd.ExpiresAt)
		}
		if cmd.Order.ReferenceOrderID == "" || cmd.Order.TerminalType == "" {
			t.Fatalf("accepted without order or terminal: %+v", cmd)
		}
		// A pay without card data (the hosted card page, or a saved card) carries no expiry or
		// holder: the buyer types them later, or the token holds them.
		// A holder may be missing only where the card's local rules say so (KR, CL, MX, PE).
		country := bin.Lookup(cmd.Card).Country
		optionalHolder := country == "KR" || country == "CL" || country == "MX" || country == "PE"
		if pan != "" && (cmd.Expiry.ExpiredAt(now) || (cmd.HolderName == "" && !optionalHolder)) {
			t.Fatalf("accepted an expired card or one without holder: %+v, %q", cmd.Expiry, cmd.HolderName)
		}
		if pan != "" {
			checkLocalFields(t, &r, cmd, country)
		}
	})
}

// TestFuzzSeedsAreTheSeeds keeps the inline seeds honest: the card requests (three seeds, two
// local cards) pass, the wallet request is refused for its payment method.
func TestFuzzSeedsAreTheSeeds(t *testing.T) {
	for i, s := range fuzzSeeds[:6] {
		var r protocol.PayRequest
		if err := protocol.Decode([]byte(s), &r); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		_, err := payments.ParsePayRequest(&r, testNow)
		if i != 3 && err != nil {
			t.Errorf("seed %d refused: %v", i, err)
		}
		if i == 3 {
			assertRefused(t, err, protocol.CodeParamIllegal, "paymentMethod.paymentMethodType")
		}
	}
}

// checkLocalFields is the fuzz target's promise for local cards: an accepted pay with a card of a
// country carries what the country's rules require, in valid form (docs/wire.md §5.3).
func checkLocalFields(t *testing.T, r *protocol.PayRequest, cmd payments.PayCommand, country string) {
	m := r.PaymentMethod.PaymentMethodMetaData
	switch country {
	case "BR", "CL", "MX", "PE", "TR":
		if m.CVV == "" && !m.IsCardOnFile {
			t.Fatalf("accepted a %s card without cvv", country)
		}
	}
	switch country {
	case "BR":
		if _, err := localid.CPF(m.CPF); (m.CPF != "" || r.MerchantRegion != "BR") && err != nil {
			t.Fatalf("accepted a BR card with cpf error %v", err)
		}
	case "KR":
		if len(m.CardPasswordDigest) != 2 {
			t.Fatalf("accepted a KR card with cardPasswordDigest of %d characters", len(m.CardPasswordDigest))
		}
		if m.BusinessNo == "" && m.DateOfBirth == "" {
			t.Fatal("accepted a KR card with neither dateOfBirth nor businessNo")
		}
		if m.BusinessNo != "" && localid.KRBusinessNo(m.BusinessNo) != nil {
			t.Fatal("accepted a KR card with a bad businessNo")
		}
	}
	if r.PaymentMethod.RequireIssuerAuthentication != cmd.IssuerAuth {
		t.Fatalf("requireIssuerAuthentication %v gave IssuerAuth %v", r.PaymentMethod.RequireIssuerAuthentication, cmd.IssuerAuth)
	}
	if cmd.IssuerAuth && (country != "KR" || cmd.CaptureMode != payments.CaptureAutomatic || cmd.Want3DS || cmd.MPI != nil) {
		t.Fatalf("issuer authentication accepted for %s, %s, 3DS %v", country, cmd.CaptureMode, cmd.Want3DS)
	}
}
