package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

type decodeInner struct {
	Name  string `json:"name,omitempty"`
	Count int    `json:"count,omitempty"`
}

// decodeSample has a field of every kind Decode supports.
type decodeSample struct {
	S      string            `json:"s,omitempty"`
	B      bool              `json:"b,omitempty"`
	I      int               `json:"i,omitempty"`
	I32    int32             `json:"i32,omitempty"`
	P      *decodeInner      `json:"p,omitempty"`
	V      decodeInner       `json:"v"`
	L      []decodeInner     `json:"l,omitempty"`
	Tags   []string          `json:"tags,omitempty"`
	M      map[string]string `json:"m,omitempty"`
	A      any               `json:"a,omitempty"`
	Skip   string            `json:"-"`
	NoTag  string
	hidden string
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		body string
		want decodeSample
	}{
		{"string as string", `{"s":"x"}`, decodeSample{S: "x"}},
		{"string from integer", `{"s":24}`, decodeSample{S: "24"}},
		{"string from fraction", `{"s":24.5}`, decodeSample{S: "24.5"}},
		{"string from number keeps its text", `{"s":1e3}`, decodeSample{S: "1e3"}},
		{"string from big number keeps its digits", `{"s":4242424242424242424242}`, decodeSample{S: "4242424242424242424242"}},
		{"string from true", `{"s":true}`, decodeSample{S: "true"}},
		{"string from false", `{"s":false}`, decodeSample{S: "false"}},
		{"empty string", `{"s":""}`, decodeSample{}},
		{"unicode string", `{"s":"Zoë \u00e9\ud83d\ude00"}`, decodeSample{S: "Zoë é😀"}},
		{"bool as bool", `{"b":true}`, decodeSample{B: true}},
		{"bool from string", `{"b":"true"}`, decodeSample{B: true}},
		{"bool from padded string", `{"b":" TRUE "}`, decodeSample{B: true}},
		{"bool false from string", `{"b":"false"}`, decodeSample{}},
		{"int as number", `{"i":-480}`, decodeSample{I: -480}},
		{"int from string", `{"i":"24"}`, decodeSample{I: 24}},
		{"int from padded string", `{"i":" 723 "}`, decodeSample{I: 723}},
		{"int32 at its limit", `{"i32":2147483647}`, decodeSample{I32: 2147483647}},
		{"null string", `{"s":null}`, decodeSample{}},
		{"null bool", `{"b":null}`, decodeSample{}},
		{"null int", `{"i":null}`, decodeSample{}},
		{"null pointer", `{"p":null}`, decodeSample{}},
		{"null struct", `{"v":null}`, decodeSample{}},
		{"null slice", `{"l":null}`, decodeSample{}},
		{"null map", `{"m":null}`, decodeSample{}},
		{"null any", `{"a":null}`, decodeSample{}},
		{"null inside an array element", `{"l":[null,{"name":"x"}]}`, decodeSample{L: []decodeInner{{}, {Name: "x"}}}},
		{"pointer to struct", `{"p":{"name":"n","count":"3"}}`, decodeSample{P: &decodeInner{Name: "n", Count: 3}}},
		{"empty object pointer", `{"p":{}}`, decodeSample{P: &decodeInner{}}},
		{"struct value", `{"v":{"name":7}}`, decodeSample{V: decodeInner{Name: "7"}}},
		{"slice of structs", `{"l":[{"name":"a"},{"count":2}]}`, decodeSample{L: []decodeInner{{Name: "a"}, {Count: 2}}}},
		{"slice of strings with coercion", `{"tags":["a",1,true]}`, decodeSample{Tags: []string{"a", "1", "true"}}},
		{"empty slice", `{"tags":[]}`, decodeSample{Tags: []string{}}},
		{"map with coercion", `{"m":{"k":"v","n":1}}`, decodeSample{M: map[string]string{"k": "v", "n": "1"}}},
		{"any keeps the raw value", `{"a":{"x":[1,"y"]}}`, decodeSample{A: map[string]any{"x": []any{json.Number("1"), "y"}}}},
		{"unknown fields ignored", `{"zzz":1,"p":{"other":{"deep":[1,2]}},"s":"x"}`, decodeSample{S: "x", P: &decodeInner{}}},
		{"unknown field of any type ignored", `{"unknown":[{"a":null}],"alsoUnknown":"x"}`, decodeSample{}},
		{"json:\"-\" field is not decoded", `{"-":"x","Skip":"y"}`, decodeSample{}},
		{"untagged field by Go name", `{"NoTag":"x"}`, decodeSample{NoTag: "x"}},
		{"unexported field is not decoded", `{"hidden":"x"}`, decodeSample{}},
		{"case-insensitive key", `{"S":"x","B":"true","P":{"NAME":"n"}}`, decodeSample{S: "x", B: true, P: &decodeInner{Name: "n"}}},
		{"case-insensitive untagged", `{"notag":"x"}`, decodeSample{NoTag: "x"}},
		{"duplicate key: last wins", `{"s":"a","s":"b"}`, decodeSample{S: "b"}},
		{"exact key wins over a folded one", `{"S":"folded","s":"exact"}`, decodeSample{S: "exact"}},
		{"exact key wins, folded after", `{"s":"exact","S":"folded"}`, decodeSample{S: "exact"}},
		{"whitespace around the object", " \n\t{\"s\":\"x\"}\r\n ", decodeSample{S: "x"}},
		{"empty object", `{}`, decodeSample{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Several rounds: a map-order dependence would show as a flaky answer.
			for range 20 {
				var got decodeSample
				if err := Decode([]byte(tt.body), &got); err != nil {
					t.Fatalf("Decode(%s) error = %v", tt.body, err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("Decode(%s) = %+v, want %+v", tt.body, got, tt.want)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		path string // FieldError.Path; "" for whole-body errors
		msg  string // the complete Error() text, or a part of it when partial is set
	}{
		{"string from object", `{"s":{}}`, "s", "s must be a string"},
		{"string from array", `{"s":["x"]}`, "s", "s must be a string"},
		{"bool from number", `{"b":1}`, "b", "b must be true or false"},
		{"bool from word", `{"b":"yes"}`, "b", "b must be true or false"},
		{"bool from object", `{"b":{}}`, "b", "b must be true or false"},
		{"int from fraction", `{"i":24.5}`, "i", "i must be an integer"},
		{"int from exponent", `{"i":1e3}`, "i", "i must be an integer"},
		{"int from word", `{"i":"many"}`, "i", "i must be an integer"},
		{"int from bool", `{"i":true}`, "i", "i must be an integer"},
		{"int32 overflow", `{"i32":2147483648}`, "i32", "i32 must be an integer"},
		{"int overflow", `{"i":"99999999999999999999"}`, "i", "i must be an integer"},
		{"struct from string", `{"p":"x"}`, "p", "p must be a JSON object"},
		{"struct from array", `{"v":[]}`, "v", "v must be a JSON object"},
		{"nested path", `{"p":{"count":"x"}}`, "p.count", "p.count must be an integer"},
		{"nested path uses the declared name", `{"P":{"COUNT":"x"}}`, "p.count", "p.count must be an integer"},
		{"array element path", `{"l":[{},{"name":{}}]}`, "l[1].name", "l[1].name must be a string"},
		{"array element not an object", `{"l":[{},1]}`, "l[1]", "l[1] must be a JSON object"},
		{"slice from object", `{"l":{}}`, "l", "l must be a JSON array"},
		{"slice from string", `{"tags":"a,b"}`, "tags", "tags must be a JSON array"},
		{"map from array", `{"m":[]}`, "m", "m must be a JSON object"},
		{"map value path", `{"m":{"k":{}}}`, "m.k", "m.k must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got decodeSample
			err := Decode([]byte(tt.body), &got)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Decode(%s) error = %v, want a *FieldError", tt.body, err)
			}
			if fe.Path != tt.path {
				t.Errorf("Path = %q, want %q", fe.Path, tt.path)
			}
			if err.Error() != tt.msg {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.msg)
			}
		})
	}
}

func TestDecodeRefusesBody(t *testing.T) {
	tests := []struct {
		name, body, reason string
	}{
		{"empty", ``, "not valid JSON"},
		{"only whitespace", " \n", "not valid JSON"},
		{"truncated", `{"s":"x"`, "not valid JSON"},
		{"missing value", `{"s":}`, "not valid JSON"},
		{"single quotes", `{'s':'x'}`, "not valid JSON"},
		{"trailing comma", `{"s":"x",}`, "not valid JSON"},
		{"unquoted key", `{s:"x"}`, "not valid JSON"},
		{"NaN", `{"i":NaN}`, "not valid JSON"},
		{"comment", `{"s":"x"} // hi`, "after the JSON object"},
		{"second object", `{"s":"x"} {"s":"y"}`, "after the JSON object"},
		{"two objects without space", `{"s":"x"}{"s":"y"}`, "after the JSON object"},
		{"extra brace", `{"s":"x"}}`, "after the JSON object"},
		{"trailing garbage", `{"s":"x"}x`, "after the JSON object"},
		{"trailing array", `{"s":"x"}[]`, "after the JSON object"},
		{"trailing number", `{"s":"x"} 1`, "after the JSON object"},
		{"array", `[{"s":"x"}]`, "must be a JSON object"},
		{"string", `"x"`, "must be a JSON object"},
		{"number", `42`, "must be a JSON object"},
		{"true", `true`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"control character in a string", "{\"s\":\"a\x01b\"}", "not valid JSON"},
		{"invalid UTF-8 outside strings", "{\"s\":\"x\"\xff}", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got decodeSample
			err := Decode([]byte(tt.body), &got)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Decode(%q) error = %v, want a *FieldError", tt.body, err)
			}
			if fe.Path != "" {
				t.Errorf("Path = %q, want none for a body error", fe.Path)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Error() = %q, want it to say %q", err.Error(), tt.reason)
			}
		})
	}
}

func TestDecodeNeedsPointer(t *testing.T) {
	var s decodeSample
	var nilPtr *decodeSample
	for _, v := range []any{s, nilPtr, nil} {
		err := Decode([]byte(`{"s":"x"}`), v)
		if err == nil {
			t.Errorf("Decode into %T: no error", v)
			continue
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			t.Errorf("Decode into %T: %v is a FieldError; a programming error must not look like bad input", v, err)
		}
	}
}

// TestDecodePayRequestPaths checks the paths named for the wire types merchants actually send.
func TestDecodePayRequestPaths(t *testing.T) {
	tests := []struct {
		name, body, msg string
	}{
		{"cardholderName as a string",
			`{"paymentMethod":{"paymentMethodType":"CARD","paymentMethodMetaData":{"cardNo":"4242424242424242","cardholderName":"Tom Jay"}}}`,
			"paymentMethod.paymentMethodMetaData.cardholderName must be a JSON object"},
		{"cardholderName under folded keys",
			`{"PaymentMethod":{"PAYMENTMETHODMETADATA":{"CardholderName":"Tom Jay"}}}`,
			"paymentMethod.paymentMethodMetaData.cardholderName must be a JSON object"},
		{"goods quantity",
			`{"order":{"goods":[{"goodsQuantity":"1"},{"goodsQuantity":{"n":1}}]}}`,
			"order.goods[1].goodsQuantity must be a string"},
		{"goods unit amount",
			`{"order":{"goods":[{"goodsUnitAmount":"4200"}]}}`,
			"order.goods[0].goodsUnitAmount must be a JSON object"},
		{"timeZoneOffset",
			`{"env":{"timeZoneOffset":"+08:00"}}`,
			"env.timeZoneOffset must be an integer"},
		{"is3DSAuthentication",
			`{"paymentMethod":{"paymentMethodMetaData":{"is3DSAuthentication":"maybe"}}}`,
			"paymentMethod.paymentMethodMetaData.is3DSAuthentication must be true or false"},
		{"isAuthorization",
			`{"paymentFactor":{"isAuthorization":1}}`,
			"paymentFactor.isAuthorization must be true or false"},
		{"paymentAmount as a string",
			`{"paymentAmount":"4200 SGD"}`,
			"paymentAmount must be a JSON object"},
		{"amount value as an object",
			`{"paymentAmount":{"currency":"SGD","value":{"minor":4200}}}`,
			"paymentAmount.value must be a string"},
		{"browserInfo flag",
			`{"env":{"browserInfo":{"javaEnabled":"no"}}}`,
			"env.browserInfo.javaEnabled must be true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r PayRequest
			err := Decode([]byte(tt.body), &r)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v, want a *FieldError", err)
			}
			if err.Error() != tt.msg {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.msg)
			}
			if strings.Contains(err.Error(), "4242424242424242") {
				t.Errorf("error %q carries the card number", err)
			}
		})
	}
}

func TestDecodePayRequestCoercions(t *testing.T) {
	body := `{
		"paymentRequestId": 20250515141372578176868806656,
		"paymentAmount": {"currency": "JPY", "value": 4200},
		"isAuthorization": "true",
		"paymentFactor": {"isAuthorization": "true", "captureMode": null},
		"paymentMethod": {"paymentMethodType": "CARD", "paymentMethodMetaData": {
			"cardNo": "4242424242424242", "expiryYear": 29, "expiryMonth": "06", "cvv": 123,
			"is3DSAuthentication": "false", "enableAuthenticationUpgrate": true, "tokenize": "true",
			"cardholderName": {"firstName": "Tom", "lastName": "Jay"}, "billingAddress": null}},
		"env": {"terminalType": "WEB", "clientIp": "114.121.121.01", "colorDepth": 24,
			"screenHeight": 723, "screenWidth": "1536", "timeZoneOffset": "480",
			"browserInfo": {"javaEnabled": "false", "javaScriptEnabled": true}},
		"order": {"referenceOrderId": "o1", "goods": [{"goodsQuantity": 2}], "buyer": {"referenceBuyerId": "b"}},
		"paymentNotifyUrl": null,
		"someFutureField": {"nested": true}
	}`
	var r PayRequest
	if err := Decode([]byte(body), &r); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	m := r.PaymentMethod.PaymentMethodMetaData
	checks := []struct {
		name      string
		got, want any
	}{
		{"paymentRequestId", r.PaymentRequestID, "20250515141372578176868806656"},
		{"paymentAmount", *r.PaymentAmount, Amount{Currency: "JPY", Value: "4200"}},
		{"isAuthorization", r.IsAuthorization, true},
		{"paymentFactor", *r.PaymentFactor, PaymentFactor{IsAuthorization: true}},
		{"expiryYear", m.ExpiryYear, "29"},
		{"cvv", m.CVV, "123"},
		{"is3DSAuthentication", m.Is3DSAuthentication, false},
		{"enableAuthenticationUpgrate", m.EnableAuthenticationUpgrate, true},
		{"tokenize", m.Tokenize, true},
		{"billingAddress", m.BillingAddress == nil, true},
		{"colorDepth", r.Env.ColorDepth, "24"},
		{"screenHeight", r.Env.ScreenHeight, "723"},
		{"screenWidth", r.Env.ScreenWidth, "1536"},
		{"timeZoneOffset", r.Env.TimeZoneOffset, 480},
		{"browserInfo", *r.Env.BrowserInfo, BrowserInfo{JavaScriptEnabled: true}},
		{"goodsQuantity", r.Order.Goods[0].GoodsQuantity, "2"},
		{"paymentNotifyUrl", r.PaymentNotifyURL, ""},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

// FuzzDecode: Decode never panics, only ever fails with a *FieldError, and whatever it accepts
// encodes to JSON that decodes back to the same encoding.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `null`, ``, `{"s":1}`, `{"S":"a","s":"b"}`,
		`{"paymentRequestId":"r","paymentAmount":{"currency":"SGD","value":"4200"}}`,
		`{"paymentMethod":{"paymentMethodMetaData":{"cardholderName":"x"}}}`,
		`{"order":{"goods":[{"goodsQuantity":{}}]}}`,
		`{"env":{"timeZoneOffset":"99999999999999999999"}}`,
		`{"isAuthorization":"TRUE","paymentFactor":{"isAuthorization":1}}`,
		"{\"s\":\"\xff\"}", `{"a":"\ud800"}`, `{"s":"x"} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r PayRequest
		err := Decode(body, &r)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Decode(%q) error %v is not a *FieldError", body, err)
			}
			return
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var r2 PayRequest
		if err := Decode(again, &r2); err != nil {
			t.Fatalf("Decode(Marshal(r)) error = %v for %s", err, again)
		}
		third, _ := json.Marshal(r2)
		if !bytes.Equal(again, third) {
			t.Fatalf("round trip changed the request:\n%s\n%s", again, third)
		}
	})
}

// TestDecodeIsDeterministic: the same body always gives the same value and the same first error,
// whatever order Go's maps iterate in.
func TestDecodeIsDeterministic(t *testing.T) {
	var firstErr string
	var firstVal decodeSample
	for i := range 100 {
		var bad decodeSample
		err := Decode([]byte(`{"s":{},"b":"x","i":"y","p":"z","l":1}`), &bad)
		if err == nil {
			t.Fatal("accepted")
		}
		var val decodeSample
		if err := Decode([]byte(`{"NOTAG":"a","notag":"b","nOtAg":"c"}`), &val); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			firstErr, firstVal = err.Error(), val
			continue
		}
		if err.Error() != firstErr {
			t.Fatalf("error %q, earlier %q", err, firstErr)
		}
		if val.NoTag != firstVal.NoTag {
			t.Fatalf("value %+v, earlier %+v", val, firstVal)
		}
	}
}
