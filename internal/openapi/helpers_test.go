package openapi_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/openapi"
)

func loadDoc(t testing.TB) *openapi.Doc {
	t.Helper()
	doc, err := openapi.Parse(openapi.Document())
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// operation is one operation of the document: under paths or webhooks.
type operation struct {
	method, path string // path is the webhook's name for a webhook
	webhook      bool
	op           map[string]any
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations lists the document's operations by operationId; an operation without one, or an id
// used twice, fails the test.
func operations(t testing.TB, doc *openapi.Doc) map[string]operation {
	t.Helper()
	out := map[string]operation{}
	for _, section := range []string{"paths", "webhooks"} {
		items, _ := doc.Root[section].(map[string]any)
		for _, path := range sortedKeys(items) {
			item := object(t, doc, items[path])
			for _, m := range methods {
				o, ok := item[m].(map[string]any)
				if !ok {
					continue
				}
				id, _ := o["operationId"].(string)
				if id == "" {
					t.Errorf("%s %s %s has no operationId", section, m, path)
					continue
				}
				if prev, dup := out[id]; dup {
					t.Errorf("operationId %s is used by %s %s and %s %s", id, prev.method, prev.path, m, path)
				}
				out[id] = operation{method: m, path: path, webhook: section == "webhooks", op: o}
			}
		}
	}
	return out
}

// object returns v as an object, following a $ref.
func object(t testing.TB, doc *openapi.Doc, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not an object", v)
	}
	if ref, ok := m["$ref"].(string); ok {
		target, err := doc.Resolve(ref)
		if err != nil {
			t.Fatal(err)
		}
		return object(t, doc, target)
	}
	return m
}

// requestSchema is the JSON schema of an operation's request body.
func requestSchema(t testing.TB, doc *openapi.Doc, o operation) any {
	t.Helper()
	rb, ok := o.op["requestBody"]
	if !ok {
		t.Fatalf("%s has no request body", o.op["operationId"])
	}
	return mediaSchema(t, doc, object(t, doc, rb), "application/json")
}

// responseSchema is the schema of an operation's answer with that status and media type.
func responseSchema(t testing.TB, doc *openapi.Doc, o operation, status, media string) any {
	t.Helper()
	rs := object(t, doc, o.op["responses"])
	r, ok := rs[status]
	if !ok {
		t.Fatalf("%s documents no %s answer", o.op["operationId"], status)
	}
	return mediaSchema(t, doc, object(t, doc, r), media)
}

func mediaSchema(t testing.TB, doc *openapi.Doc, holder map[string]any, media string) any {
	t.Helper()
	content, _ := holder["content"].(map[string]any)
	mt, ok := content[media].(map[string]any)
	if !ok {
		t.Fatalf("no %s content among %v", media, sortedKeys(content))
	}
	s, ok := mt["schema"]
	if !ok {
		t.Fatalf("%s content has no schema", media)
	}
	return s
}

// resultCodes is an operation's x-result-codes.
func resultCodes(o operation) []string {
	list, _ := o.op["x-result-codes"].([]any)
	out := make([]string, 0, len(list))
	for _, c := range list {
		s, _ := c.(string)
		out = append(out, s)
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lines renders a list one item a line, for failure messages.
func lines(items []string) string { return "\n\t" + strings.Join(items, "\n\t") }
