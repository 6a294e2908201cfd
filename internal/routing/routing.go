// Package routing holds a merchant's routing rules: which acquirers a payment is tried on, in
// which order (docs/design.md "Interfaces other tools rely on", routing rules). It parses and
// validates the document a merchant sends, renders its canonical form, and routes a payment's
// facts to an ordered list of acquirers. It is pure: no I/O, no clock; the store it needs is the
// interface Store, implemented once in internal/store/sqlstore.
package routing

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Document is a merchant's routing rules. The zero value (and the document `{}`) has no rules
// and no default: every acquirer is equally likely.
type Document struct {
	// Rules are tried in order; the first that matches gives the route.
	Rules []Rule `json:"rules"`
	// Default, when set, picks the acquirer of a payment no rule matches.
	Default *Default `json:"default,omitempty"`
}

// Rule sends the payments it matches to its route.
type Rule struct {
	Match Match `json:"match"`
	// Route is the acquirers to try, in order: the first, then the next on a technical failure.
	Route []string `json:"route"`
}

// Match is what a rule asks of a payment. Every condition given must hold; an empty Match
// matches every payment.
type Match struct {
	Currency       []string `json:"currency,omitempty"`
	CardBrand      []string `json:"cardBrand,omitempty"`
	IssuingCountry []string `json:"issuingCountry,omitempty"`
	// AmountMin and AmountMax bound the amount in minor units, both inclusive ("" = unbounded).
	// They are strings, like every amount on the wire (docs/design.md "Money").
	AmountMin string `json:"amountMin,omitempty"`
	AmountMax string `json:"amountMax,omitempty"`
	// lo and hi are the bounds as numbers, derived once by prepare rather than on every payment.
	lo, hi   int64
	prepared bool
}

// Default spreads the payments no rule matches over acquirers by weight.
type Default struct {
	Weights map[string]int `json:"weights"`
	// order is Weights in failover order, derived once by prepare rather than on every payment.
	order []weighted
}

// Facts are what routing knows about a payment.
type Facts struct {
	Currency       string
	CardBrand      string
	IssuingCountry string // "" when unknown: it never matches a rule that lists countries
	AmountMinor    int64
}

// ErrUnknownMerchant is the store's answer to rules for a merchant it does not have.
var ErrUnknownMerchant = errors.New("routing: unknown merchant")

// Store keeps each merchant's routing document in its canonical form.
type Store interface {
	// RoutingRules returns the merchant's stored document and when it was set; a merchant that
	// never set one gets nil raw and no error.
	RoutingRules(ctx context.Context, merchantID string) (raw []byte, updatedAt time.Time, err error)
	// SetRoutingRules replaces the merchant's document (ErrUnknownMerchant when there is no such
	// merchant; nothing is written then).
	SetRoutingRules(ctx context.Context, merchantID string, raw []byte, at time.Time) error
}

// Marshal renders the canonical form of d, the one that is stored and answered: keys in a fixed
// order (weights sorted by name), "rules" always present, empty conditions left out.
func Marshal(d Document) ([]byte, error) {
	if d.Rules == nil {
		d.Rules = []Rule{}
	}
	return json.Marshal(d)
}

// Route returns the acquirers to try for a payment, in order: the route of the first rule that
// matches; else the default's weighted pick followed by its other acquirers by descending weight
// (ties by name), the failover order; else every one of acquirers, rotated to start at a pick
// that is uniform over them. The picks depend on key alone (the paymentRequestId), so a replay
// routes the way the first request did. A matching rule's route is returned as written: acquirers
// were checked when the document was set.
func (d Document) Route(f Facts, key string, acquirers []string) []string {
	for i := range d.Rules {
		if d.Rules[i].Match.matches(f) {
			return slices.Clone(d.Rules[i].Route)
		}
	}
	if d.Default != nil {
		if route := d.Default.route(key); route != nil {
			return route
		}
	}
	if len(acquirers) == 0 {
		return nil
	}
	start := pick(key, uint64(len(acquirers)))
	out := make([]string, 0, len(acquirers))
	out = append(out, acquirers[start:]...)
	return append(out, acquirers[:start]...)
}

func (m *Match) matches(f Facts) bool {
	if len(m.Currency) > 0 && !slices.Contains(m.Currency, f.Currency) ||
		len(m.CardBrand) > 0 && !slices.Contains(m.CardBrand, f.CardBrand) ||
		len(m.IssuingCountry) > 0 && (f.IssuingCountry == "" || !slices.Contains(m.IssuingCountry, f.IssuingCountry)) {
		return false
	}
	lo, hi := m.lo, m.hi
	if !m.prepared { // not from Parse
		p := *m
		p.prepare()
		lo, hi = p.lo, p.hi
	}
	return lo <= f.AmountMinor && f.AmountMinor <= hi
}

// prepare derives what Route needs of a document once: the amount bounds as numbers and the
// weights in failover order.
func (d *Document) prepare() {
	for i := range d.Rules {
		d.Rules[i].Match.prepare()
	}
	if d.Default != nil {
		d.Default.order = byWeight(d.Default.Weights)
	}
}

// prepare sets lo and hi; a bound that is not a number (only in a document not from Parse)
// makes the range empty, so the rule matches nothing rather than more than it says.
func (m *Match) prepare() {
	m.lo, m.hi, m.prepared = math.MinInt64, math.MaxInt64, true
	var err error
	if m.AmountMin != "" {
		if m.lo, err = strconv.ParseInt(m.AmountMin, 10, 64); err != nil {
			m.lo, m.hi = 1, 0
			return
		}
	}
	if m.AmountMax != "" {
		if m.hi, err = strconv.ParseInt(m.AmountMax, 10, 64); err != nil {
			m.lo, m.hi = 1, 0
		}
	}
}

type weighted struct {
	name   string
	weight int
}

// byWeight lists the weights in failover order: descending weight, ties by name.
func byWeight(weights map[string]int) []weighted {
	ws := make([]weighted, 0, len(weights))
	for name, weight := range weights {
		if weight > 0 {
			ws = append(ws, weighted{name, weight})
		}
	}
	slices.SortFunc(ws, func(a, b weighted) int {
		if a.weight != b.weight {
			return b.weight - a.weight
		}
		return strings.Compare(a.name, b.name)
	})
	return ws
}

// route picks the first acquirer by weight and lists the others after it in failover order.
func (w *Default) route(key string) []string {
	ws := w.order
	if len(ws) != len(w.Weights) { // not from Parse
		ws = byWeight(w.Weights)
	}
	total := uint64(0)
	for _, x := range ws {
		total += uint64(x.weight)
	}
	if total == 0 {
		return nil
	}
	at, first := pick(key, total), 0
	for i, x := range ws {
		if at < uint64(x.weight) {
			first = i
			break
		}
		at -= uint64(x.weight)
	}
	out := make([]string, 0, len(ws))
	out = append(out, ws[first].name)
	for i, x := range ws {
		if i != first {
			out = append(out, x.name)
		}
	}
	return out
}

// pick maps key to [0, n), uniformly. It is part of the contract that a replay routes the same
// way, including across upgrades: changing it re-routes payments in flight. FNV-1a alone is weak
// in its low bits (its parity is that of the key's bytes), so the hash is finished with
// MurmurHash3's fmix64 and reduced by its high bits (Lemire's multiply-shift).
func pick(key string, n uint64) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	hi, _ := bits.Mul64(h, n)
	return hi
}
