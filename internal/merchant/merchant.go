// Package merchant is the register of merchants: who may call the API, with which public keys,
// and the per-merchant secrets (the card fingerprint key) and settings.
package merchant

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// Merchant is one API client.
type Merchant struct {
	ClientID string
	Name     string
	Sandbox  bool
	// PublicKeys maps keyVersion to the merchant's public key (bare base64 SPKI).
	PublicKeys map[string]string
	// PrivateKey is kept only for sandbox merchants, so `init --json` can print it again; in
	// production the gateway never holds a merchant's private key.
	PrivateKey string
	// FingerprintKey keys the card fingerprint HMAC: stable within a merchant, unlinkable across.
	FingerprintKey []byte
	NotifyURL      string
	// SettlementCurrencies are the currencies the merchant is contracted to settle in, the first
	// being its default; nil is every supported currency, the sandbox merchant's contract
	// (docs/design.md "Currencies"). `merchant create --settlement-currencies` sets it.
	SettlementCurrencies []string
	CreatedAt            time.Time
}

// Store persists merchants.
type Store interface {
	CreateMerchant(ctx context.Context, m Merchant) error
	// MerchantByClientID returns ErrNotFound for an unknown client id.
	MerchantByClientID(ctx context.Context, clientID string) (Merchant, error)
	// SandboxMerchant returns the oldest sandbox merchant, ErrNotFound if none.
	SandboxMerchant(ctx context.Context) (Merchant, error)
	// SetNotifyURL changes the merchant's default notification URL.
	SetNotifyURL(ctx context.Context, clientID, url string) error
}

// ParseSettlementCurrencies reads a contract as `merchant create --settlement-currencies` takes
// it: "USD,EUR", active ISO 4217 codes, each once, the first the default. "*" is every currency
// (nil).
func ParseSettlementCurrencies(s string) ([]string, error) {
	if s == "*" {
		return nil, nil
	}
	var out []string
	for _, code := range strings.Split(s, ",") {
		code = strings.TrimSpace(code)
		if _, ok := money.Lookup(code); !ok {
			return nil, fmt.Errorf("settlement currency %q is not an active ISO 4217 code such as USD", code)
		}
		if slices.Contains(out, code) {
			return nil, fmt.Errorf("settlement currency %s is listed twice", code)
		}
		out = append(out, code)
	}
	return out, nil
}

// ErrNotFound reports an unknown merchant.
var ErrNotFound = errors.New("merchant: not found")

// Credentials is what a merchant needs to configure an SDK, printed by `init --json` and
// `merchant create --json` (docs/design.md "Interfaces other tools rely on"; field names are a contract).
type Credentials struct {
	ClientID                string `json:"clientId"`
	MerchantPrivateKey      string `json:"merchantPrivateKey,omitempty"`
	MerchantPrivateKeyPkcs1 string `json:"merchantPrivateKeyPkcs1,omitempty"`
	MerchantPublicKey       string `json:"merchantPublicKey"`
	GatewayPublicKey        string `json:"gatewayPublicKey"`
}

const idAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func newClientID(prefix string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString(prefix)
	for _, c := range b {
		sb.WriteByte(idAlphabet[int(c)%len(idAlphabet)])
	}
	return sb.String(), nil
}

func newFingerprintKey() ([]byte, error) {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	return k, err
}

// NewSandbox makes a sandbox merchant with a fresh key pair. Its client id starts with SANDBOX_,
// which makes every official SDK use the /ams/sandbox/api paths (docs/wire.md §1.1).
func NewSandbox(name string, now time.Time) (Merchant, error) {
	priv, err := protocol.GenerateKey()
	if err != nil {
		return Merchant{}, fmt.Errorf("generate merchant key: %w", err)
	}
	privB64, err := protocol.EncodePrivateKeyPKCS8(priv)
	if err != nil {
		return Merchant{}, err
	}
	pubB64, err := protocol.EncodePublicKey(&priv.PublicKey)
	if err != nil {
		return Merchant{}, err
	}
	m, err := newMerchant("SANDBOX_", name, pubB64, now)
	if err != nil {
		return Merchant{}, err
	}
	m.Sandbox = true
	m.PrivateKey = privB64
	return m, nil
}

// NewWithPublicKey registers a merchant that keeps its own private key (production).
func NewWithPublicKey(name, publicKey string, now time.Time) (Merchant, error) {
	pub, err := protocol.ParsePublicKey(publicKey)
	if err != nil {
		return Merchant{}, fmt.Errorf("merchant public key: %w", err)
	}
	pubB64, err := protocol.EncodePublicKey(pub)
	if err != nil {
		return Merchant{}, err
	}
	return newMerchant("", name, pubB64, now)
}

func newMerchant(prefix, name, pubB64 string, now time.Time) (Merchant, error) {
	id, err := newClientID(prefix)
	if err != nil {
		return Merchant{}, fmt.Errorf("client id: %w", err)
	}
	fk, err := newFingerprintKey()
	if err != nil {
		return Merchant{}, fmt.Errorf("fingerprint key: %w", err)
	}
	if name == "" {
		name = id
	}
	return Merchant{ClientID: id, Name: name, PublicKeys: map[string]string{"1": pubB64}, FingerprintKey: fk, CreatedAt: now}, nil
}

// EnsureSandbox returns the sandbox merchant, creating one on a store that has none.
func EnsureSandbox(ctx context.Context, s Store, now time.Time) (Merchant, bool, error) {
	m, err := s.SandboxMerchant(ctx)
	if err == nil {
		return m, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Merchant{}, false, fmt.Errorf("load sandbox merchant: %w", err)
	}
	m, err = NewSandbox("Sandbox merchant", now)
	if err != nil {
		return Merchant{}, false, err
	}
	if err := s.CreateMerchant(ctx, m); err != nil {
		return Merchant{}, false, fmt.Errorf("create sandbox merchant: %w", err)
	}
	// Two processes starting at once may both have created one; the oldest is the sandbox merchant.
	m, err = s.SandboxMerchant(ctx)
	return m, true, err
}

// CredentialsOf renders the merchant's SDK configuration.
func CredentialsOf(m Merchant, gatewayPublicKey string) (Credentials, error) {
	c := Credentials{ClientID: m.ClientID, MerchantPublicKey: m.PublicKeys["1"], GatewayPublicKey: gatewayPublicKey}
	if m.PrivateKey != "" {
		priv, err := protocol.ParsePrivateKey(m.PrivateKey)
		if err != nil {
			return Credentials{}, fmt.Errorf("merchant private key: %w", err)
		}
		c.MerchantPrivateKey = m.PrivateKey
		c.MerchantPrivateKeyPkcs1 = protocol.EncodePrivateKeyPKCS1(priv)
	}
	return c, nil
}
