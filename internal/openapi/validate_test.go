package openapi_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/openapi"
)

// decode reads JSON as the tests read fixtures: numbers kept exact, so 24 is an integer.
func decode(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}

func violations(vs []openapi.Violation) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return strings.Join(out, "; ")
}

// TestValidate walks each keyword of the subset, passing and failing, on a document of its own.
func TestValidate(t *testing.T) {
	doc, err := openapi.Parse([]byte(`{"components":{"schemas":{
		"Amount":{"type":"object","required":["currency","value"],"properties":{
			"currency":{"type":"string","maxLength":3},"value":{"type":"string"}}},
		"Pay":{"type":"object","required":["amount"],"properties":{
			"amount":{"$ref":"#/components/schemas/Amount"},
			"kind":{"type":"string","enum":["CARD"]},
			"tags":{"type":"array","items":{"type":"string"}},
			"depth":{"type":["string","integer"]},
			"count":{"type":"integer"},
			"flag":{"type":"boolean"},
			"strict":{"type":"object","additionalProperties":false,"properties":{"a":{"type":"string"}}},
			"weights":{"type":"object","additionalProperties":{"type":"integer"}}}},
		"Loop":{"$ref":"#/components/schemas/Loop"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	pay, err := doc.Resolve("#/components/schemas/Pay")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, instance, want string
	}{
		{"valid", `{"amount":{"currency":"SGD","value":"4200"},"kind":"CARD","tags":["a"],"depth":24,"count":3,"flag":true}`, ""},
		{"unknown members allowed", `{"amount":{"currency":"SGD","value":"1","extra":1},"caav":"x"}`, ""},
		{"string or integer", `{"amount":{"currency":"SGD","value":"1"},"depth":"24"}`, ""},
		{"required", `{"amount":{"currency":"SGD"}}`, "amount.value: is required"},
		{"required at the top", `{}`, "amount: is required"},
		{"type through $ref", `{"amount":{"currency":"SGD","value":4200}}`, "amount.value: is an integer, want string"},
		{"not an object", `[]`, "is an array, want object"},
		{"enum", `{"amount":{"currency":"SGD","value":"1"},"kind":"ALIPAY_CN"}`, `kind: "ALIPAY_CN" is not one of ["CARD"]`},
		{"items", `{"amount":{"currency":"SGD","value":"1"},"tags":["a",2]}`, "tags[1]: is an integer, want string"},
		{"type list", `{"amount":{"currency":"SGD","value":"1"},"depth":true}`, "depth: is a boolean, want string or integer"},
		{"integer", `{"amount":{"currency":"SGD","value":"1"},"count":1.5}`, "count: is a number, want integer"},
		{"boolean", `{"amount":{"currency":"SGD","value":"1"},"flag":"true"}`, "flag: is a string, want boolean"},
		{"maxLength", `{"amount":{"currency":"SGDX","value":"1"}}`, "amount.currency: is 4 characters, more than 3"},
		{"maxLength counts characters", `{"amount":{"currency":"€€€","value":"1"}}`, ""},
		{"additionalProperties false", `{"amount":{"currency":"SGD","value":"1"},"strict":{"a":"x","b":"y"}}`, "strict.b: is not a member this object may have"},
		{"additionalProperties schema", `{"amount":{"currency":"SGD","value":"1"},"weights":{"ADYEN":70,"CHECKOUT":"30"}}`, "weights.CHECKOUT: is a string, want integer"},
		{"every violation", `{"kind":"X","count":"1"}`, `amount: is required; count: is a string, want integer; kind: "X" is not one of ["CARD"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := violations(doc.Validate(pay, decode(t, tc.instance))); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("numbers decoded as float64", func(t *testing.T) {
		var v any
		if err := json.Unmarshal([]byte(`{"amount":{"currency":"SGD","value":"1"},"count":2,"depth":24}`), &v); err != nil {
			t.Fatal(err)
		}
		if got := violations(doc.Validate(pay, v)); got != "" {
			t.Error(got)
		}
	})
	t.Run("a reference that never ends", func(t *testing.T) {
		loop, _ := doc.Resolve("#/components/schemas/Loop")
		if got := violations(doc.Validate(loop, decode(t, `{}`))); !strings.Contains(got, "deep") {
			t.Errorf("got %q", got)
		}
	})
	t.Run("a reference that does not resolve", func(t *testing.T) {
		if got := violations(doc.Validate(map[string]any{"$ref": "#/components/schemas/Nope"}, decode(t, `{}`))); !strings.Contains(got, `no "Nope"`) {
			t.Errorf("got %q", got)
		}
	})
}

// TestCheckSubset shows that a keyword the validator does not implement, an unknown type name
// and a reference that does not resolve are each found, wherever OpenAPI puts the schema.
func TestCheckSubset(t *testing.T) {
	doc, err := openapi.Parse([]byte(`{
		"paths":{"/p":{"post":{
			"requestBody":{"content":{"application/json":{"schema":{"type":"object","properties":{"a":{"type":"string","pattern":"^x$"}}}}}},
			"responses":{"200":{"$ref":"#/components/responses/Nope"}}}}},
		"components":{
			"parameters":{"P":{"name":"p","in":"header","schema":{"type":"text"}}},
			"schemas":{
				"Fine":{"type":"object","description":"d","required":["a"],"properties":{"a":{"type":["string","null"],"format":"date-time","examples":["x"]}},"additionalProperties":false},
				"Bad":{"oneOf":[{"type":"string"}],"items":{"minLength":1}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		`#/components/parameters/P/schema/type: type "text" is not one of object, array, string, boolean, integer, number, null`,
		`#/components/schemas/Bad/items/minLength: keyword "minLength" is outside the subset the validator implements`,
		`#/components/schemas/Bad/oneOf: keyword "oneOf" is outside the subset the validator implements`,
		`#/paths/~1p/post/requestBody/content/application~1json/schema/properties/a/pattern: keyword "pattern" is outside the subset the validator implements`,
		`#/paths/~1p/post/responses/200: $ref "#/components/responses/Nope": no "responses"`,
	}, "; ")
	if got := violations(doc.CheckSubset()); got != want {
		t.Errorf("got\n%s\nwant\n%s", strings.ReplaceAll(got, "; ", "\n"), strings.ReplaceAll(want, "; ", "\n"))
	}
}
