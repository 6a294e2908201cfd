package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/antom"
	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/routing"
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

	// An antom upstream: its base URL, this gateway's client id there, and the files of this
	// gateway's private key (signing) and the upstream's public key (verifying), bare base64 or
	// PEM. The private key may instead come from $CARDGATE_ACQUIRER_<NAME>_PRIVATE_KEY.
	URL            string `json:"url,omitempty"`
	ClientID       string `json:"clientId,omitempty"`
	PrivateKeyFile string `json:"privateKeyFile,omitempty"`
	PublicKeyFile  string `json:"publicKeyFile,omitempty"`
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
		case "antom":
			switch {
			case a.URL == "":
				return nil, fmt.Errorf("%s.url: required for kind antom", at)
			case a.ClientID == "":
				return nil, fmt.Errorf("%s.clientId: required for kind antom", at)
			case a.PrivateKeyFile == "" && os.Getenv(privateKeyEnv(a.Name)) == "":
				return nil, fmt.Errorf("%s.privateKeyFile: required for kind antom (or $%s)", at, privateKeyEnv(a.Name))
			case a.PublicKeyFile == "":
				return nil, fmt.Errorf("%s.publicKeyFile: required for kind antom", at)
			case a.IDFormat != "":
				return nil, fmt.Errorf("%s.idFormat: only for kind simulator", at)
			}
		default:
			return nil, fmt.Errorf("%s.kind %q: one of simulator, antom", at, a.Kind)
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

func privateKeyEnv(name string) string { return "CARDGATE_ACQUIRER_" + name + "_PRIVATE_KEY" }

// UpstreamNotifyPath is where an antom upstream named name sends its notifications.
func UpstreamNotifyPath(name string) string { return "/cardgate/v1/upstream/" + name + "/notify" }

// newAntom connects to an upstream from its configuration entry.
func newAntom(a AcquirerConfig, baseURL string) (*antom.Acquirer, error) {
	key := os.Getenv(privateKeyEnv(a.Name))
	if a.PrivateKeyFile != "" {
		b, err := os.ReadFile(a.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("acquirer %s: privateKeyFile: %w", a.Name, err)
		}
		key = string(b)
	}
	pub, err := os.ReadFile(a.PublicKeyFile)
	if err != nil {
		return nil, fmt.Errorf("acquirer %s: publicKeyFile: %w", a.Name, err)
	}
	cfg := antom.Config{Name: a.Name, URL: a.URL, ClientID: a.ClientID, PrivateKey: pemBody(key), UpstreamPublicKey: pemBody(string(pub)),
		AcquirerMerchantID: a.MerchantID}
	if baseURL != "" {
		cfg.NotifyURL = baseURL + UpstreamNotifyPath(a.Name)
	}
	return antom.New(cfg)
}

// pemBody is a key file's base64: the PEM armour and line breaks dropped, a bare key as it is.
func pemBody(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "-----") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// router is the gateway's acquirers and the routing among them.
type router struct {
	set *acquirer.Set
	// upstreams are the antom acquirers by name, whose notifications the gateway receives.
	upstreams map[string]*antom.Acquirer
	// breakers set aside the acquirers that keep failing technically, by name.
	breakers map[string]*acquirer.Breaker
	// rules are the merchants' routing documents (nil: every acquirer equally likely).
	rules routing.Store
	log   *slog.Logger
	// legacy serves the payments made before routing, which name no acquirer or the single
	// simulator of those days; it is never routed to.
	legacy acquirer.Acquirer
}

// Route implements payments.Router: the merchant's routing rules (internal/routing) decide,
// deterministically per paymentRequestId so that a replay routes the same way; without rules
// every acquirer is equally likely, the others following as the failover order.
func (r *router) Route(ctx context.Context, merchantID string, f payments.RouteFacts) ([]string, error) {
	names := r.set.Names()
	var doc routing.Document
	if r.rules != nil {
		raw, _, err := r.rules.RoutingRules(ctx, merchantID)
		if err != nil {
			return nil, fmt.Errorf("routing rules of %s: %w", merchantID, err)
		}
		if raw != nil {
			if doc, err = routing.Parse(raw, names); err != nil {
				// Rules that name an acquirer no longer configured: the payment still goes
				// somewhere rather than nowhere, and the operator hears of it.
				r.log.WarnContext(ctx, "routing rules no longer fit the acquirers; routing as without rules", "merchant", merchantID, "err", err)
				doc = routing.Document{}
			}
		}
	}
	route := doc.Route(routing.Facts{Currency: f.Currency, CardBrand: f.CardBrand, IssuingCountry: f.IssuingCountry, AmountMinor: f.AmountMinor},
		f.RequestID, names)
	return r.healthyFirst(route), nil
}

// healthyFirst moves the acquirers whose breaker is open to the end of a route, keeping the
// order otherwise: they are tried only once every healthy one has failed over.
func (r *router) healthyFirst(route []string) []string {
	var healthy, aside []string
	for _, name := range route {
		if b := r.breakers[name]; b != nil && b.Open() {
			aside = append(aside, name)
		} else {
			healthy = append(healthy, name)
		}
	}
	return append(healthy, aside...)
}

// AuthenticatesBuyers implements payments.Router: the antom upstreams run 3-D Secure themselves.
func (r *router) AuthenticatesBuyers(name string) bool {
	_, ok := r.upstreams[name]
	return ok
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
func buildAcquirers(list []AcquirerConfig, st interface{ SimulatorLedger() simulator.Ledger }, clk clock.Clock, baseURL string,
	wrap func(acquirer.Acquirer) acquirer.Acquirer, breaker acquirer.BreakerConfig) (*router, error) {
	var acqs []acquirer.Acquirer
	breakers := map[string]*acquirer.Breaker{}
	guard := func(a acquirer.Acquirer) acquirer.Acquirer {
		b := acquirer.NewBreaker(wrap(a), breaker)
		breakers[a.Name()] = b
		return b
	}
	upstreams := map[string]*antom.Acquirer{}
	for _, a := range list {
		switch a.Kind {
		case "antom":
			up, err := newAntom(a, baseURL)
			if err != nil {
				return nil, err
			}
			upstreams[a.Name] = up
			acqs = append(acqs, guard(up))
		case "simulator":
			// Each simulated acquirer keeps its own books in the shared table: a payment that
			// failed over has an entry (or a reversal) at each acquirer it reached.
			sim := simulator.NewProfile(simulatorProfile(a), clk).WithLedger(simulator.PrefixLedger(st.SimulatorLedger(), a.Name+"/"))
			acqs = append(acqs, guard(sim))
		default:
			return nil, fmt.Errorf("acquirer %s: kind %q is not built into this gateway", a.Name, a.Kind)
		}
	}
	set, err := acquirer.NewSet(acqs...)
	if err != nil {
		return nil, err
	}
	legacy := wrap(simulator.NewProfile(simulator.Legacy, clk).WithLedger(st.SimulatorLedger()))
	return &router{set: set, upstreams: upstreams, breakers: breakers, legacy: legacy}, nil
}
