package gateway_test

import (
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/gateway"
)

func TestParseAcquirersNamesTheField(t *testing.T) {
	t.Setenv("CARDGATE_ACQUIRER_UP_PRIVATE_KEY", "")
	for _, tc := range []struct{ doc, says string }{
		{`[]`, "empty"},
		{`{"name":"A"}`, "not a JSON list"},
		{`[{"name":"adyen","kind":"simulator"}]`, `[0].name "adyen"`},
		{`[{"name":"A","kind":"simulator"},{"name":"A","kind":"simulator"}]`, `[1].name "A": named twice`},
		{`[{"name":"CARDGATE_SIM","kind":"simulator"}]`, "reserved"},
		{`[{"name":"A","kind":"bank"}]`, `[0].kind "bank"`},
		{`[{"name":"A","kind":"simulator","idFormat":"visa"}]`, `[0].idFormat "visa"`},
		{`[{"name":"A","kind":"simulator","colour":"red"}]`, `unknown field "colour"`},
		{`[{"name":"UP","kind":"antom","clientId":"C","privateKeyFile":"k","publicKeyFile":"p"}]`, "[0].url: required"},
		{`[{"name":"UP","kind":"antom","url":"http://x","privateKeyFile":"k","publicKeyFile":"p"}]`, "[0].clientId: required"},
		{`[{"name":"UP","kind":"antom","url":"http://x","clientId":"C","publicKeyFile":"p"}]`, "CARDGATE_ACQUIRER_UP_PRIVATE_KEY"},
		{`[{"name":"UP","kind":"antom","url":"http://x","clientId":"C","privateKeyFile":"k"}]`, "[0].publicKeyFile: required"},
	} {
		_, err := gateway.ParseAcquirers([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want an error saying %q", tc.doc, err, tc.says)
		}
	}
	list, err := gateway.ParseAcquirers([]byte(`[{"name":"ADYEN","kind":"simulator"},{"name":"LOCAL_2","kind":"simulator","idFormat":"alipay","merchantId":"M1"}]`))
	if err != nil || len(list) != 2 || list[1].IDFormat != "alipay" {
		t.Fatalf("%+v %v", list, err)
	}
}

func FuzzParseAcquirers(f *testing.F) {
	f.Add([]byte(`[{"name":"ADYEN","kind":"simulator"}]`))
	f.Add([]byte(`[{"name":"UP","kind":"antom","url":"http://x","clientId":"C","privateKeyFile":"k","publicKeyFile":"p"}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		list, err := gateway.ParseAcquirers(raw)
		if err == nil && len(list) == 0 {
			t.Fatal("an empty list accepted")
		}
	})
}
