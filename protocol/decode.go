package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// FieldError names the JSON path of a request field that could not be decoded.
type FieldError struct {
	Path   string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + " " + e.Reason
}

// Decode unmarshals a request body into v the way Antom's SDKs need (docs/wire.md §1.4, §3): every
// SDK serialises differently, so scalars are accepted in whichever JSON kind they arrive (a number
// or boolean where the model says string, "true" where it says bool, "24" where it says int), JSON
// null means absent (.NET sends null for every unset field), and unknown fields are ignored. Object
// keys match the json tag exactly, falling back to a case-insensitive match as encoding/json does.
// A value that cannot be converted is a *FieldError naming its path.
func Decode(body []byte, v any) error {
	// encoding/json would silently turn invalid UTF-8 and lone surrogate escapes into U+FFFD, so
	// the decoded request would differ from the bytes the merchant signed (text.go).
	if at, reason := scanText(body); at >= 0 {
		if path, ok := pathAt(body, at); ok && path != "" {
			return &FieldError{Path: path, Reason: reason}
		}
		return &FieldError{Reason: "request body " + reason}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return &FieldError{Reason: "request body is not valid JSON: " + jsonErrorText(err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &FieldError{Reason: "request body has data after the JSON object"}
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return &FieldError{Reason: "request body must be a JSON object"}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("protocol.Decode: need a non-nil pointer, got %T", v)
	}
	return assign(rv.Elem(), obj, "")
}

func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func assign(dst reflect.Value, src any, path string) error {
	if src == nil {
		return nil // null = absent
	}
	switch dst.Kind() {
	case reflect.Pointer:
		if dst.IsNil() {
			dst.Set(reflect.New(dst.Type().Elem()))
		}
		return assign(dst.Elem(), src, path)
	case reflect.Interface:
		if dst.NumMethod() == 0 {
			dst.Set(reflect.ValueOf(src))
			return nil
		}
	case reflect.Struct:
		obj, ok := src.(map[string]any)
		if !ok {
			return &FieldError{Path: path, Reason: "must be a JSON object"}
		}
		return assignStruct(dst, obj, path)
	case reflect.Map:
		obj, ok := src.(map[string]any)
		if !ok || dst.Type().Key().Kind() != reflect.String {
			return &FieldError{Path: path, Reason: "must be a JSON object"}
		}
		m := reflect.MakeMapWithSize(dst.Type(), len(obj))
		for k, val := range obj {
			ev := reflect.New(dst.Type().Elem()).Elem()
			if err := assign(ev, val, join(path, k)); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(dst.Type().Key()), ev)
		}
		dst.Set(m)
		return nil
	case reflect.Slice:
		arr, ok := src.([]any)
		if !ok {
			return &FieldError{Path: path, Reason: "must be a JSON array"}
		}
		s := reflect.MakeSlice(dst.Type(), len(arr), len(arr))
		for i, val := range arr {
			if err := assign(s.Index(i), val, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		dst.Set(s)
		return nil
	case reflect.String:
		switch x := src.(type) {
		case string:
			dst.SetString(x)
		case json.Number:
			dst.SetString(x.String())
		case bool:
			dst.SetString(strconv.FormatBool(x))
		default:
			return &FieldError{Path: path, Reason: "must be a string"}
		}
		return nil
	case reflect.Bool:
		switch x := src.(type) {
		case bool:
			dst.SetBool(x)
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return &FieldError{Path: path, Reason: "must be true or false"}
			}
			dst.SetBool(b)
		default:
			return &FieldError{Path: path, Reason: "must be true or false"}
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var text string
		switch x := src.(type) {
		case json.Number:
			text = x.String()
		case string:
			text = strings.TrimSpace(x)
		default:
			return &FieldError{Path: path, Reason: "must be an integer"}
		}
		n, err := strconv.ParseInt(text, 10, dst.Type().Bits())
		if err != nil {
			return &FieldError{Path: path, Reason: "must be an integer"}
		}
		dst.SetInt(n)
		return nil
	}
	return fmt.Errorf("protocol.Decode: unsupported field type %s at %s", dst.Type(), path)
}

func assignStruct(dst reflect.Value, obj map[string]any, path string) error {
	fields := structFields(dst.Type())
	// Sorted keys, so that one body always decodes to the same value and reports the same first
	// error (map order is random), and the exact spelling of a key wins over a case variant.
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		val := obj[key]
		idx, ok := fields.exact[key]
		if !ok {
			idx, ok = fields.folded[strings.ToLower(key)]
			if ok {
				if _, exact := obj[fields.names[idx]]; exact {
					continue
				}
			}
		}
		if !ok {
			continue // unknown fields are ignored, as every SDK ignores ours
		}
		if err := assign(dst.Field(idx), val, join(path, fields.names[idx])); err != nil {
			return err
		}
	}
	return nil
}

type fieldIndex struct {
	exact  map[string]int
	folded map[string]int
	names  map[int]string
}

var fieldCache sync.Map // reflect.Type → fieldIndex; request types are few and fixed

func structFields(t reflect.Type) fieldIndex {
	if fi, ok := fieldCache.Load(t); ok {
		return fi.(fieldIndex)
	}
	fi := fieldIndex{exact: map[string]int{}, folded: map[string]int{}, names: map[int]string{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fi.exact[name] = i
		fi.names[i] = name
		if _, taken := fi.folded[strings.ToLower(name)]; !taken {
			fi.folded[strings.ToLower(name)] = i
		}
	}
	fieldCache.Store(t, fi)
	return fi
}
