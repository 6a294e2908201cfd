package openapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/openapi"
	"github.com/cardgate/cardgate/protocol"
)

// TestDocument checks the document as a document: valid JSON, OpenAPI 3.1.0, every $ref
// resolving, every schema within the validator's subset, operation ids unique, and every part of
// components used.
func TestDocument(t *testing.T) {
	if !json.Valid(openapi.Document()) {
		t.Fatal("openapi.json is not valid JSON")
	}
	doc := loadDoc(t)
	if v := doc.Root["openapi"]; v != "3.1.0" {
		t.Errorf("openapi is %v, want 3.1.0", v)
	}
	info, _ := doc.Root["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info needs a title and a version: %v", info)
	}
	if vs := doc.CheckSubset(); len(vs) > 0 {
		t.Errorf("outside the subset, or not resolving:%s", lines(violationList(vs)))
	}
	operations(t, doc) // ids present and unique

	// Every component is referenced: a schema nobody points at describes nothing served.
	text := string(openapi.Document())
	components, _ := doc.Root["components"].(map[string]any)
	for _, kind := range []string{"schemas", "requestBodies", "responses", "parameters", "headers"} {
		group, _ := components[kind].(map[string]any)
		for _, name := range sortedKeys(group) {
			if !strings.Contains(text, `"#/components/`+kind+`/`+name+`"`) {
				t.Errorf("components.%s.%s is never referenced", kind, name)
			}
		}
	}
}

func violationList(vs []openapi.Violation) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

// TestOperations checks what every operation must say: an Antom API is documented under both
// prefixes alike; a signed call is a POST answering 200 with the three signed headers and a
// result, and lists its result codes; the operator's endpoints are unsigned GETs.
func TestOperations(t *testing.T) {
	doc := loadDoc(t)
	ops := operations(t, doc)
	paths, _ := doc.Root["paths"].(map[string]any)

	for _, path := range sortedKeys(paths) {
		rest, live := strings.CutPrefix(path, protocol.PrefixLive)
		if !live {
			continue
		}
		twin, ok := paths[protocol.PrefixSandbox+rest]
		if !ok {
			t.Errorf("%s has no twin under %s", path, protocol.PrefixSandbox)
			continue
		}
		a, b := clone(t, paths[path]), clone(t, twin)
		la, lb := a["post"].(map[string]any), b["post"].(map[string]any)
		if lb["operationId"] != la["operationId"].(string)+"Sandbox" {
			t.Errorf("%s: the sandbox twin's operationId is %v, want %vSandbox", path, lb["operationId"], la["operationId"])
		}
		delete(la, "operationId")
		delete(lb, "operationId")
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s and its sandbox twin differ", path)
		}
	}
	for _, path := range sortedKeys(paths) {
		if rest, ok := strings.CutPrefix(path, protocol.PrefixSandbox); ok && paths[protocol.PrefixLive+rest] == nil {
			t.Errorf("%s has no twin under %s", path, protocol.PrefixLive)
		}
	}

	for _, id := range sortedKeys(anyMap(ops)) {
		o := ops[id]
		if o.webhook {
			continue
		}
		security, unsigned := o.op["security"]
		if o.method == "get" {
			if !unsigned || !reflect.DeepEqual(security, []any{}) {
				t.Errorf("%s: an operator's endpoint must say security: []", id)
			}
			continue
		}
		if o.method != "post" || unsigned {
			t.Errorf("%s: a signed call is a POST under the document's security, got %s with security %v", id, o.method, security)
			continue
		}
		ok := object(t, doc, object(t, doc, o.op["responses"])["200"])
		headers, _ := ok["headers"].(map[string]any)
		for _, h := range []string{"client-id", "response-time", "signature"} {
			if _, ok := headers[h]; !ok {
				t.Errorf("%s: its 200 answer does not document the %s header", id, h)
			}
		}
		answer := object(t, doc, responseSchema(t, doc, o, "200", "application/json"))
		if req, _ := answer["required"].([]any); !slices.Contains(req, any("result")) {
			t.Errorf("%s: its answer does not require result", id)
		}
		codes := resultCodes(o)
		for _, c := range []string{"SUCCESS", "PARAM_ILLEGAL", "INVALID_SIGNATURE", "KEY_NOT_FOUND", "UNKNOWN_EXCEPTION"} {
			if !slices.Contains(codes, c) {
				t.Errorf("%s: x-result-codes lacks %s, which every signed call can answer", id, c)
			}
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if seen[c] {
				t.Errorf("%s: x-result-codes lists %s twice", id, c)
			}
			seen[c] = true
		}
		if strings.HasPrefix(o.path, "/sandbox/") {
			if _, ok := object(t, doc, o.op["responses"])["404"]; !ok {
				t.Errorf("%s: a sandbox call must document its 404 in production", id)
			}
		}
	}
}

func anyMap[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// clone deep-copies a decoded JSON value so a test may edit it.
func clone(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHandler serves the document to GET and HEAD as application/json, and refuses the rest.
func TestHandler(t *testing.T) {
	h := openapi.Handler()
	for _, tc := range []struct {
		method string
		status int
		body   bool
	}{
		{http.MethodGet, http.StatusOK, true},
		{http.MethodHead, http.StatusOK, false},
		{http.MethodPost, http.StatusMethodNotAllowed, false},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/openapi.json", nil))
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.method, rec.Code, tc.status)
			continue
		}
		if tc.status != http.StatusOK {
			continue
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", tc.method, ct)
		}
		if got := rec.Body.Bytes(); tc.body != (len(got) > 0) || tc.body && string(got) != string(openapi.Document()) {
			t.Errorf("%s: body of %d bytes", tc.method, len(got))
		}
	}
}
