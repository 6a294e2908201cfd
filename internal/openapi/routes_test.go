package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/protocol"
)

// documentedPaths are the document's paths, sorted.
func documentedPaths(t *testing.T) []string {
	t.Helper()
	paths, _ := loadDoc(t).Root["paths"].(map[string]any)
	return sortedKeys(paths)
}

func startGateway(t *testing.T, mode gateway.Mode) *gateway.Gateway {
	t.Helper()
	g, err := gateway.Start(context.Background(), gateway.Config{Mode: mode, Data: t.TempDir(), Addr: "127.0.0.1:0", Manual: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// difference is what a holds that b does not.
func difference(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// probes are the bodies sent to a path besides {} (which most calls refuse, PARAM_ILLEGAL): a
// report answers in the format asked for, so both are asked for.
var probes = map[string][]string{
	"/cardgate/v1/reports/transactions": {`{"date":"today","format":"json"}`, `{"date":"today","format":"csv"}`},
	"/cardgate/v1/reports/settlement":   {`{"date":"today","format":"json"}`, `{"date":"today","format":"csv"}`},
	"/cardgate/v1/merchant/settings":    {`{"notifyUrl":"http://127.0.0.1:9/notify"}`},
	"/sandbox/v1/clock/advance":         {`{"duration":"1m"}`},
	"/sandbox/v1/force":                 {`{"operation":"pay","resultCode":"DO_NOT_HONOR","count":2}`},
	"/cardgate/v1/routing/set":          {`{"rules":[{"match":{"currency":["EUR"]},"route":["ADYEN"]}],"default":{"weights":{"ADYEN":70,"CHECKOUT":30}}}`},
}

// TestDocumentedIsServed compares the document with a sandbox gateway started as serve starts
// it: every path the API routes (api.Server.Paths) or the operator's endpoints serve is
// documented, and every documented path is routed. Then each documented path is called over
// HTTP — the operator's endpoints with GET, the others signed by the sandbox merchant with {}
// and the probes —
// and must answer as documented: the status, the media type, a body valid against the answer's
// schema, and a result code its operation lists. An undocumented path answers NO_INTERFACE_DEF,
// so that the calls tell routed from unrouted.
func TestDocumentedIsServed(t *testing.T) {
	doc := loadDoc(t)
	ops := operations(t, doc)
	g := startGateway(t, gateway.Sandbox)
	served := append(g.API.Paths(), gateway.OpsPaths()...)
	slices.Sort(served)
	documented := documentedPaths(t)
	if missing := difference(served, documented); len(missing) > 0 {
		t.Errorf("served, not documented:%s", lines(missing))
	}
	if missing := difference(documented, served); len(missing) > 0 {
		t.Errorf("documented, not served:%s", lines(missing))
	}

	creds, err := g.Credentials()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{BaseURL: g.URL, ClientID: creds.ClientID, PrivateKey: creds.MerchantPrivateKey, GatewayPublicKey: creds.GatewayPublicKey})
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]operation{}
	for _, o := range ops {
		if !o.webhook {
			byPath[o.path] = o
		}
	}
	ctx := context.Background()
	for _, path := range documented {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			o := byPath[path]
			if o.method == "get" {
				resp, err := http.Get(g.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				media, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET answers %d: %s", resp.StatusCode, body)
				}
				schema := responseSchema(t, doc, o, "200", media) // fails unless the media type is documented
				var v any = string(body)
				if media == "application/json" {
					v = decode(t, string(body))
				}
				if vs := doc.Validate(schema, v); len(vs) > 0 {
					t.Errorf("the answer does not validate:%s", lines(violationList(vs)))
				}
				return
			}
			for _, body := range append([]string{`{}`}, probes[path]...) {
				resp, err := c.Do(ctx, path, []byte(body)) // verifies the answer's signature
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s answers %d: %s", body, resp.StatusCode, resp.Body)
				}
				ct := resp.Header.Get("Content-Type")
				media, params, _ := mime.ParseMediaType(ct)
				if params["charset"] != "UTF-8" {
					t.Errorf("%s: content type %q, want a UTF-8 charset", body, ct)
				}
				schema := responseSchema(t, doc, o, "200", media) // fails unless the media type is documented
				if media != "application/json" {
					if vs := doc.Validate(schema, string(resp.Body)); len(vs) > 0 {
						t.Errorf("%s: the answer does not validate:%s", body, lines(violationList(vs)))
					}
					continue
				}
				var answer struct{ Result protocol.Result }
				if err := json.Unmarshal(resp.Body, &answer); err != nil {
					t.Fatal(err)
				}
				if code := answer.Result.ResultCode; code == string(protocol.CodeNoInterfaceDef) {
					t.Fatalf("documented, but the gateway has no API here: %s", resp.Body)
				} else if !slices.Contains(resultCodes(o), code) {
					t.Errorf("%s answers %s, which x-result-codes do not list: %s", body, code, resp.Body)
				}
				if vs := doc.Validate(schema, decode(t, string(resp.Body))); len(vs) > 0 {
					t.Errorf("%s: the answer does not validate:%s\n%s", body, lines(violationList(vs)), resp.Body)
				}
			}
		})
	}
	t.Run("an undocumented path", func(t *testing.T) {
		resp, err := c.Do(ctx, protocol.PrefixSandbox+"/v1/payments/createPaymentSession", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(resp.Body, []byte(`"NO_INTERFACE_DEF"`)) {
			t.Errorf("answers %s, want NO_INTERFACE_DEF", resp.Body)
		}
	})
}

// TestProductionServesNoSandbox: a production gateway routes every documented path but the
// sandbox's, which answer the 404 the document gives them.
func TestProductionServesNoSandbox(t *testing.T) {
	doc := loadDoc(t)
	ops := operations(t, doc)
	g := startGateway(t, gateway.Production)
	served := append(g.API.Paths(), gateway.OpsPaths()...)
	var want []string
	for _, p := range documentedPaths(t) {
		if !strings.HasPrefix(p, "/sandbox/") {
			want = append(want, p)
		}
	}
	slices.Sort(served)
	if missing := difference(served, want); len(missing) > 0 {
		t.Errorf("served in production, not documented:%s", lines(missing))
	}
	if missing := difference(want, served); len(missing) > 0 {
		t.Errorf("documented, not served in production:%s", lines(missing))
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	for _, o := range ops {
		if !strings.HasPrefix(o.path, "/sandbox/") {
			continue
		}
		resp, err := hc.Post(g.URL+o.path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("signature") == "" {
			t.Errorf("%s: %d (signature %q), want a signed 404", o.path, resp.StatusCode, resp.Header.Get("signature"))
			continue
		}
		if vs := doc.Validate(responseSchema(t, doc, o, "404", "application/json"), decode(t, string(body))); len(vs) > 0 {
			t.Errorf("%s: the 404 does not validate:%s", o.path, lines(violationList(vs)))
		}
	}
}
