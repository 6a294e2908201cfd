package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// Limits of a document. A merchant routes by a handful of rules; the bounds keep a document
// cheap to store, parse on every payment and walk, whatever a client sends.
const (
	MaxDocumentBytes = 64 << 10
	MaxRules         = 100
	// MaxWeight keeps the sum of the weights far inside 64 bits.
	MaxWeight = 1_000_000
)

// Parse reads and validates a routing document against the gateway's acquirer names. It is
// strict, because a rule that silently means something else sends real payments elsewhere:
// unknown and repeated fields are refused, every value is checked, and the first problem is
// reported as PARAM_ILLEGAL naming its field ("rules[1].route[0]: unknown acquirer \"FOO\"").
func Parse(raw []byte, acquirers []string) (Document, error) {
	switch {
	case len(raw) > MaxDocumentBytes:
		return Document{}, illegal("document", "exceeds %d bytes", MaxDocumentBytes)
	case !utf8.Valid(raw):
		return Document{}, illegal("document", "is not valid UTF-8")
	case !json.Valid(raw):
		return Document{}, illegal("document", "is not valid JSON")
	}
	p := parser{acquirers: acquirers}
	top, err := object(raw, "document", "rules", "default")
	if err != nil {
		return Document{}, err
	}
	d := Document{Rules: []Rule{}}
	if r, ok := top["rules"]; ok {
		items, err := array(r, "rules")
		if err != nil {
			return Document{}, err
		}
		if len(items) > MaxRules {
			return Document{}, illegal("rules", "has %d rules, at most %d are allowed", len(items), MaxRules)
		}
		for i, item := range items {
			rule, err := p.rule(item, fmt.Sprintf("rules[%d]", i))
			if err != nil {
				return Document{}, err
			}
			d.Rules = append(d.Rules, rule)
		}
	}
	if r, ok := top["default"]; ok {
		def, err := p.def(r, "default")
		if err != nil {
			return Document{}, err
		}
		d.Default = &def
	}
	d.prepare()
	return d, nil
}

type parser struct{ acquirers []string }

func (p parser) rule(raw json.RawMessage, path string) (Rule, error) {
	f, err := object(raw, path, "match", "route")
	if err != nil {
		return Rule{}, err
	}
	var r Rule
	m, ok := f["match"]
	if !ok {
		return Rule{}, illegal(path+".match", "is required ({} matches every payment)")
	}
	if r.Match, err = p.match(m, path+".match"); err != nil {
		return Rule{}, err
	}
	route, ok := f["route"]
	if !ok {
		return Rule{}, illegal(path+".route", "is required")
	}
	if r.Route, err = stringList(route, path+".route", p.acquirer); err != nil {
		return Rule{}, err
	}
	return r, nil
}

func (p parser) match(raw json.RawMessage, path string) (Match, error) {
	f, err := object(raw, path, "currency", "cardBrand", "issuingCountry", "amountMin", "amountMax")
	if err != nil {
		return Match{}, err
	}
	var m Match
	lists := []struct {
		name  string
		dst   *[]string
		check func(string) error
	}{
		{"currency", &m.Currency, currency},
		{"cardBrand", &m.CardBrand, brand},
		{"issuingCountry", &m.IssuingCountry, country},
	}
	for _, l := range lists {
		if v, ok := f[l.name]; ok {
			if *l.dst, err = stringList(v, path+"."+l.name, l.check); err != nil {
				return Match{}, err
			}
		}
	}
	var lo, hi int64
	for _, a := range []struct {
		name string
		dst  *string
		n    *int64
	}{{"amountMin", &m.AmountMin, &lo}, {"amountMax", &m.AmountMax, &hi}} {
		v, ok := f[a.name]
		if !ok {
			continue
		}
		if *a.dst, *a.n, err = minor(v, path+"."+a.name); err != nil {
			return Match{}, err
		}
	}
	if m.AmountMin != "" && m.AmountMax != "" && lo > hi {
		return Match{}, illegal(path+".amountMax", "is below amountMin")
	}
	return m, nil
}

func (p parser) def(raw json.RawMessage, path string) (Default, error) {
	f, err := object(raw, path, "weights")
	if err != nil {
		return Default{}, err
	}
	w, ok := f["weights"]
	if !ok {
		return Default{}, illegal(path+".weights", "is required")
	}
	path += ".weights"
	names, values, err := members(w, path)
	if err != nil {
		return Default{}, err
	}
	if len(names) == 0 {
		return Default{}, illegal(path, "must weigh at least one acquirer")
	}
	d := Default{Weights: make(map[string]int, len(names))}
	for i, name := range names {
		at := path + "." + name
		if err := p.acquirer(name); err != nil {
			return Default{}, illegal(path, "%v", err)
		}
		n, err := weight(values[i])
		if err != nil {
			return Default{}, illegal(at, "%v", err)
		}
		d.Weights[name] = n
	}
	return d, nil
}

func (p parser) acquirer(name string) error {
	if !slices.Contains(p.acquirers, name) {
		return fmt.Errorf("unknown acquirer %s", quote(name))
	}
	return nil
}

func currency(code string) error {
	if _, ok := money.Lookup(code); !ok {
		return fmt.Errorf("%s is not an active ISO 4217 currency code", quote(code))
	}
	return nil
}

func brand(b string) error {
	if !slices.Contains(card.Brands(), card.Brand(b)) {
		return fmt.Errorf("unknown card brand %s", quote(b))
	}
	return nil
}

func country(c string) error {
	if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return fmt.Errorf("%s is not a 2-letter upper-case country code", quote(c))
	}
	return nil
}

// minor reads an amount bound: a string of minor units with the wire's grammar (digits only, no
// leading zero, at most money.MaxDigits).
func minor(raw json.RawMessage, path string) (string, int64, error) {
	var s string
	if kind(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		return "", 0, illegal(path, "must be a string of minor units")
	}
	ok := s != "" && len(s) <= money.MaxDigits && (s == "0" || s[0] != '0')
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= '0' && s[i] <= '9'
	}
	if !ok {
		return "", 0, illegal(path, "%s is not a non-negative integer of at most %d digits without leading zeros", quote(s), money.MaxDigits)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", 0, illegal(path, "%s is out of range", quote(s))
	}
	return s, n, nil
}

func weight(raw json.RawMessage) (int, error) {
	s := string(bytes.TrimSpace(raw))
	ok := s != "" && len(s) <= 7 && s[0] != '0'
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= '0' && s[i] <= '9'
	}
	n, err := strconv.Atoi(s)
	if !ok || err != nil || n < 1 || n > MaxWeight {
		return 0, fmt.Errorf("must be a whole number from 1 to %d", MaxWeight)
	}
	return n, nil
}

// stringList reads a non-empty array of distinct strings, each passing check.
func stringList(raw json.RawMessage, path string, check func(string) error) ([]string, error) {
	items, err := array(raw, path)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, illegal(path, "must list at least one value")
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		at := fmt.Sprintf("%s[%d]", path, i)
		var s string
		if kind(item) != '"' || json.Unmarshal(item, &s) != nil {
			return nil, illegal(at, "must be a string")
		}
		if err := check(s); err != nil {
			return nil, illegal(at, "%v", err)
		}
		if slices.Contains(out, s) {
			return nil, illegal(at, "%s is listed twice", quote(s))
		}
		out = append(out, s)
	}
	return out, nil
}

func array(raw json.RawMessage, path string) ([]json.RawMessage, error) {
	var items []json.RawMessage
	if kind(raw) != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, illegal(path, "must be an array")
	}
	return items, nil
}

// object reads a JSON object whose fields are among allowed, each at most once.
func object(raw json.RawMessage, path string, allowed ...string) (map[string]json.RawMessage, error) {
	names, values, err := members(raw, path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(names))
	for i, name := range names {
		if !slices.Contains(allowed, name) {
			return nil, illegal(path, "unknown field %s", quote(name))
		}
		out[name] = values[i]
	}
	return out, nil
}

// members lists an object's fields in document order and refuses a field given twice, which
// encoding/json would silently resolve to the last.
func members(raw json.RawMessage, path string) ([]string, []json.RawMessage, error) {
	if kind(raw) != '{' {
		return nil, nil, illegal(path, "must be an object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, nil, illegal(path, "must be an object")
	}
	var (
		names  []string
		values []json.RawMessage
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, illegal(path, "is not a valid object")
		}
		name, _ := tok.(string)
		if slices.Contains(names, name) {
			return nil, nil, illegal(path, "field %s is given twice", quote(name))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, illegal(path, "is not a valid object")
		}
		names, values = append(names, name), append(values, v)
	}
	return names, values, nil
}

// kind is the first byte of a JSON value: '{', '[', '"', 'n' (null), …
func kind(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func illegal(path, format string, args ...any) error {
	return protocol.Errorf(protocol.CodeParamIllegal, "%s: %s", path, fmt.Sprintf(format, args...))
}

// quote shows short input and only sizes long input, so a hostile document cannot make the
// gateway echo arbitrary text.
func quote(s string) string {
	if len(s) > 32 {
		return fmt.Sprintf("(a %d-byte string)", len(s))
	}
	return strconv.Quote(s)
}
