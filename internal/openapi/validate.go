package openapi

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The document's schemas are written in a small part of JSON Schema 2020-12 (the dialect of
// OpenAPI 3.1), and this validator implements exactly that part. CheckSubset refuses any other
// keyword, so the document cannot come to rely on one the validator would silently pass.

// Keywords are the keywords the validator asserts. Object keywords apply to objects only, items
// to arrays only and maxLength to strings only, as in JSON Schema; a schema may also be true or
// false (additionalProperties: false).
var Keywords = []string{"$ref", "type", "enum", "maxLength", "properties", "required", "additionalProperties", "items"}

// Annotations are the keywords the validator reads past: they describe, they do not assert
// (format is an annotation by default in 2020-12: "date-time" documents the times, and the golden
// files' "<paymentTime>" placeholders stand where times are).
var Annotations = []string{"description", "title", "format", "examples", "deprecated"}

// Doc is a parsed OpenAPI document.
type Doc struct {
	Root map[string]any
}

// Parse reads a document.
func Parse(b []byte) (*Doc, error) {
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return &Doc{Root: root}, nil
}

// Resolve finds the value a local reference ("#/components/schemas/Amount") points at.
func (d *Doc) Resolve(ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local to the document", ref)
	}
	var cur any = d.Root
	if ptr == "" {
		return cur, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("$ref %q is not a JSON pointer", ref)
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("$ref %q: no element %q", ref, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("$ref %q: %q is inside a scalar", ref, tok)
		}
	}
	return cur, nil
}

// A Violation is one way an instance fails its schema; Path is the JSON path of the value at
// fault ("paymentMethod.paymentMethodType", "transactions[0].transactionType"; "" for the whole).
type Violation struct {
	Path, Problem string
}

func (v Violation) String() string {
	if v.Path == "" {
		return v.Problem
	}
	return v.Path + ": " + v.Problem
}

// Validate checks an instance (as decoded by encoding/json, with or without UseNumber) against a
// schema of the document and lists every violation, in path order. Members a schema does not
// name are allowed unless it says additionalProperties.
func (d *Doc) Validate(schema, instance any) []Violation {
	var out []Violation
	d.validate(schema, instance, "", &out, 0)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// maxDepth bounds $ref chains that never reach a value (a schema that is only a reference to itself).
const maxDepth = 256

func (d *Doc) validate(schema, v any, path string, out *[]Violation, depth int) {
	fail := func(format string, args ...any) {
		*out = append(*out, Violation{Path: path, Problem: fmt.Sprintf(format, args...)})
	}
	if depth > maxDepth {
		fail("schema references go %d deep", maxDepth)
		return
	}
	switch s := schema.(type) {
	case bool:
		if !s {
			fail("is not allowed here")
		}
		return
	case map[string]any:
		if ref, ok := s["$ref"].(string); ok {
			target, err := d.Resolve(ref)
			if err != nil {
				fail("%v", err)
				return
			}
			d.validate(target, v, path, out, depth+1)
		}
		if t, ok := s["type"]; ok && !hasType(t, v) {
			fail("is %s, want %s", kindOf(v), typeText(t))
			return // the other keywords would only repeat the mismatch
		}
		if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return sameJSON(e, v) }) {
			fail("%s is not one of %s", jsonText(v), jsonText(enum))
		}
		if n, ok := number(s["maxLength"]); ok {
			if str, isStr := v.(string); isStr && float64(utf8.RuneCountInString(str)) > n {
				fail("is %d characters, more than %v", utf8.RuneCountInString(str), n)
			}
		}
		if obj, ok := v.(map[string]any); ok {
			d.validateObject(s, obj, path, out, depth)
		}
		if arr, ok := v.([]any); ok {
			if items, ok := s["items"]; ok {
				for i, e := range arr {
					d.validate(items, e, fmt.Sprintf("%s[%d]", path, i), out, depth+1)
				}
			}
		}
	default:
		fail("schema is %s, not an object or a boolean", kindOf(schema))
	}
}

func (d *Doc) validateObject(s map[string]any, obj map[string]any, path string, out *[]Violation, depth int) {
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			name, _ := r.(string)
			if _, present := obj[name]; !present {
				*out = append(*out, Violation{Path: join(path, name), Problem: "is required"})
			}
		}
	}
	props, _ := s["properties"].(map[string]any)
	extra, hasExtra := s["additionalProperties"]
	for _, name := range sortedKeys(obj) {
		if ps, ok := props[name]; ok {
			d.validate(ps, obj[name], join(path, name), out, depth+1)
		} else if hasExtra {
			if b, ok := extra.(bool); ok && !b {
				*out = append(*out, Violation{Path: join(path, name), Problem: "is not a member this object may have"})
				continue
			}
			d.validate(extra, obj[name], join(path, name), out, depth+1)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// hasType says whether v is of the type t names (a name, or a list of names).
func hasType(t, v any) bool {
	switch t := t.(type) {
	case string:
		return isType(t, v)
	case []any:
		return slices.ContainsFunc(t, func(n any) bool { s, _ := n.(string); return isType(s, v) })
	}
	return false
}

func isType(name string, v any) bool {
	switch name {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := number(v)
		return ok
	case "integer":
		n, ok := number(v)
		return ok && n == math.Trunc(n) && !math.IsInf(n, 0)
	}
	return false
}

// typeNames are JSON Schema's type names.
var typeNames = []string{"object", "array", "string", "boolean", "integer", "number", "null"}

// number reads a JSON number as decoded with or without UseNumber.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	if n, ok := number(v); ok {
		if n == math.Trunc(n) {
			return "an integer"
		}
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

func typeText(t any) string {
	if list, ok := t.([]any); ok {
		names := make([]string, len(list))
		for i, n := range list {
			names[i] = fmt.Sprint(n)
		}
		return strings.Join(names, " or ")
	}
	return fmt.Sprint(t)
}

// sameJSON compares two decoded values as JSON does: numbers by value, whichever way decoded.
func sameJSON(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// CheckSubset lists every keyword of every schema in the document that is neither one of
// Keywords nor one of Annotations, and every $ref anywhere that does not resolve.
func (d *Doc) CheckSubset() []Violation {
	var out []Violation
	d.walk(d.Root, "#", false, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// walk visits the document; inSchema says that v is a schema (whose keywords are checked) rather
// than a part of the OpenAPI structure around the schemas.
func (d *Doc) walk(v any, at string, inSchema bool, out *[]Violation) {
	fail := func(at, format string, args ...any) {
		*out = append(*out, Violation{Path: at, Problem: fmt.Sprintf(format, args...)})
	}
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"]; ok {
			s, isStr := ref.(string)
			if !isStr {
				fail(at, "$ref is not a string")
			} else if _, err := d.Resolve(s); err != nil {
				fail(at, "%v", err)
			}
		}
		for _, k := range sortedKeys(x) {
			child := at + "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
			if !inSchema {
				// Where OpenAPI puts a schema: a "schema" member (media types, parameters,
				// headers) and the members of components.schemas.
				switch {
				case k == "schema":
					d.walk(x[k], child, true, out)
				case at == "#/components" && k == "schemas":
					for _, name := range sortedKeys(x[k].(map[string]any)) {
						d.walk(x[k].(map[string]any)[name], child+"/"+name, true, out)
					}
				default:
					d.walk(x[k], child, false, out)
				}
				continue
			}
			switch {
			case k == "properties":
				props, ok := x[k].(map[string]any)
				if !ok {
					fail(child, "properties is not an object")
					continue
				}
				for _, name := range sortedKeys(props) {
					d.walk(props[name], child+"/"+name, true, out)
				}
			case k == "items" || k == "additionalProperties":
				d.walk(x[k], child, true, out)
			case k == "type":
				names, isList := x[k].([]any)
				if !isList {
					names = []any{x[k]}
				}
				for _, n := range names {
					if s, _ := n.(string); !slices.Contains(typeNames, s) {
						fail(child, "type %s is not one of %s", jsonText(n), strings.Join(typeNames, ", "))
					}
				}
			case slices.Contains(Keywords, k) || slices.Contains(Annotations, k):
			default:
				fail(child, "keyword %q is outside the subset the validator implements", k)
			}
		}
	case []any:
		for i, e := range x {
			d.walk(e, fmt.Sprintf("%s/%d", at, i), false, out)
		}
	case bool:
		// true and false are schemas too (additionalProperties: false).
	default:
		if inSchema {
			fail(at, "a schema is an object or a boolean, not %s", kindOf(v))
		}
	}
}
