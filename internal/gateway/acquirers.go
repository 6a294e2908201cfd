package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"regexp"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/payments"
)

// AcquirerConfig is one entry of `serve --acquirers FILE` (docs/design.md "Interfaces other tools
// rely on": Acquirers), a JSON list of them.
type AcquirerConfig struct {
	// Name is acquirerInfo.acquirerName and the name routing rules use: upper case letters,
	// digits and _, at most 32.
	Name string `json:"name"`
	// Kind is "simulator" (the sandbox acquirer, driven by the test cards) or "antom" (an
	// Antom-compatible upstream).
	Kind string `json:"kind"`
	// MerchantID is the acquirerMerchantId it shows (simulator; default the profile's).
	MerchantID string `json:"merchantId,omitempty"`
	// IDFormat is the shape of a simulator's ids: "alipay", "adyen" or "checkout" (default: the
	// profile of the same name, else "adyen").
	IDFormat string `json:"idFormat,omitempty"`
}

var acquirerName = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,31}$`)

// SandboxAcquirers are the acquirers of a gateway started without --acquirers.
func SandboxAcquirers() []AcquirerConfig {
	var out []AcquirerConfig
	for _, p := range simulator.SandboxProfiles {
		out = append(out, AcquirerConfig{Name: p.Name, Kind: "simulator"})
	}
	return out
}

// LoadAcquirers reads an --acquirers file; every mistake names the entry and the field.
func LoadAcquirers(path string) ([]AcquirerConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--acquirers: %w", err)
	}
	return ParseAcquirers(raw)
}

// ParseAcquirers reads the JSON of an --acquirers file.
func ParseAcquirers(raw []byte) ([]AcquirerConfig, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var list []AcquirerConfig
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("--acquirers: not a JSON list of {\"name\",\"kind\",…}: %w", err)
	}
	if len(list) == 0 {
		return nil, errors.New("--acquirers: the list is empty")
	}
	seen := map[string]bool{}
	for i, a := range list {
		at := fmt.Sprintf("--acquirers: [%d]", i)
		switch {
		case !acquirerName.MatchString(a.Name):
			return nil, fmt.Errorf("%s.name %q: upper-case letters, digits and _, at most 32, starting with a letter", at, a.Name)
		case seen[a.Name]:
			return nil, fmt.Errorf("%s.name %q: named twice", at, a.Name)
		case a.Name == simulator.Legacy.Name:
			return nil, fmt.Errorf("%s.name %q: reserved for the payments of gateways before routing", at, a.Name)
		}
		seen[a.Name] = true
		switch a.Kind {
		case "simulator":
			if _, ok := idFormats[a.IDFormat]; !ok && a.IDFormat != "" {
				return nil, fmt.Errorf("%s.idFormat %q: one of alipay, adyen, checkout", at, a.IDFormat)
			}
		default:
			return nil, fmt.Errorf("%s.kind %q: one of simulator", at, a.Kind)
		}
	}
	return list, nil
}

var idFormats = map[string]simulator.Profile{"alipay": simulator.Alipay, "adyen": simulator.Adyen, "checkout": simulator.Checkout}

// simulatorProfile is the profile an entry of kind simulator runs as.
func simulatorProfile(a AcquirerConfig) simulator.Profile {
	p := simulator.Adyen
	for _, sp := range simulator.SandboxProfiles {
		if sp.Name == a.Name {
			p = sp
		}
	}
	if f, ok := idFormats[a.IDFormat]; ok {
		p.Format = f.Format
	}
	if a.MerchantID != "" {
		p.MerchantID = a.MerchantID
	}
	p.Name = a.Name
	return p
}

// router is the gateway's acquirers and the routing among them.
type router struct {
	set *acquirer.Set
	// legacy serves the payments made before routing, which name no acquirer or the single
	// simulator of those days; it is never routed to.
	legacy acquirer.Acquirer
}

// Route implements payments.Router: every acquirer, the first picked by the paymentRequestId so
// that a replay routes the same way and requests spread evenly; the others follow in their
// configured order as the failover order.
func (r *router) Route(_ context.Context, _ string, f payments.RouteFacts) ([]string, error) {
	names := r.set.Names()
	h := fnv.New64a()
	_, _ = h.Write([]byte(f.RequestID))
	first := int(h.Sum64() % uint64(len(names)))
	return append(names[first:], names[:first]...), nil
}

// Acquirer implements payments.Router.
func (r *router) Acquirer(name string) (acquirer.Acquirer, bool) {
	if name == "" || (r.legacy != nil && name == r.legacy.Name()) {
		return r.legacy, r.legacy != nil
	}
	return r.set.Get(name)
}

// buildAcquirers makes the configured acquirers on the store's simulator books, each wrapped
// by wrap (metrics, and the caller's hooks).
func buildAcquirers(list []AcquirerConfig, st interface{ SimulatorLedger() simulator.Ledger }, clk clock.Clock, wrap func(acquirer.Acquirer) acquirer.Acquirer) (*router, error) {
	var acqs []acquirer.Acquirer
	for _, a := range list {
		switch a.Kind {
		case "simulator":
			// Each simulated acquirer keeps its own books in the shared table: a payment that
			// failed over has an entry (or a reversal) at each acquirer it reached.
			sim := simulator.NewProfile(simulatorProfile(a), clk).WithLedger(simulator.PrefixLedger(st.SimulatorLedger(), a.Name+"/"))
			acqs = append(acqs, wrap(sim))
		default:
			return nil, fmt.Errorf("acquirer %s: kind %q is not built into this gateway", a.Name, a.Kind)
		}
	}
	set, err := acquirer.NewSet(acqs...)
	if err != nil {
		return nil, err
	}
	legacy := wrap(simulator.NewProfile(simulator.Legacy, clk).WithLedger(st.SimulatorLedger()))
	return &router{set: set, legacy: legacy}, nil
}
