package api

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// authenticate checks the request signature exactly as Antom does (docs/wire.md §2.5): client id →
// merchant, signature header → key version, request-time within the window, then RSA over the raw
// bytes. Only an authenticated body is ever parsed.
func (s *Server) authenticate(ctx context.Context, r *http.Request, path, clientID string, body []byte) (merchant.Merchant, error) {
	if clientID == "" {
		return merchant.Merchant{}, protocol.Errorf(protocol.CodeKeyNotFound, "client-id header is missing")
	}
	var m merchant.Merchant
	// No merchant has a client id that an id check refuses (a NUL or invalid UTF-8 there would
	// be a store error on PostgreSQL): it is simply not registered.
	err := payments.ValidateID("client-id", clientID)
	if err == nil {
		m, err = s.merchants.get(ctx, clientID)
	} else {
		err = merchant.ErrNotFound
	}
	if errors.Is(err, merchant.ErrNotFound) {
		return m, protocol.Errorf(protocol.CodeKeyNotFound, "no key is registered for client-id %s", clientID)
	}
	if err != nil {
		return m, fmt.Errorf("load merchant: %w", err)
	}
	sigHeader, err := protocol.ParseSignatureHeader(r.Header.Get("signature"))
	if errors.Is(err, protocol.ErrSignatureMissing) {
		return m, protocol.Errorf(protocol.CodeInvalidSignature, "signature header is missing")
	}
	if err != nil {
		return m, protocol.Errorf(protocol.CodeInvalidSignature, "signature header is malformed: %v", err)
	}
	pub, err := s.merchants.publicKey(m, sigHeader.KeyVersion)
	if err != nil {
		return m, err
	}
	reqTime := r.Header.Get("request-time")
	if reqTime == "" {
		return m, protocol.Errorf(protocol.CodeInvalidSignature, "request-time header is missing")
	}
	t, err := protocol.ParseRequestTime(reqTime)
	if err != nil {
		return m, protocol.Errorf(protocol.CodeInvalidSignature, "request-time %q is not epoch milliseconds or ISO 8601", reqTime)
	}
	if err := protocol.CheckRequestTime(t, s.wall.Now(), s.cfg.RequestTimeWindow); err != nil {
		return m, protocol.Errorf(protocol.CodeInvalidSignature, "request-time is outside the %s window around the gateway's clock", s.cfg.RequestTimeWindow)
	}
	content := protocol.SigningContent(r.Method, path, clientID, reqTime, body)
	if err := protocol.Verify(pub, content, sigHeader.Signature); err != nil {
		return m, protocol.Errorf(protocol.CodeInvalidSignature, "signature does not verify with the merchant key of keyVersion %s over %s", sigHeader.KeyVersion, path)
	}
	return m, nil
}

// merchantCache keeps parsed merchant keys: parsing an RSA key per request would cost more than
// verifying the signature. Entries are keyed by client id; a merchant's keys are immutable once
// registered, so the cache never serves a stale key (rotation adds a new version, which misses).
type merchantCache struct {
	store merchant.Store
	mu    sync.RWMutex
	keys  map[string]*rsa.PublicKey // clientID + "\x00" + keyVersion
}

func newMerchantCache(s merchant.Store) *merchantCache {
	return &merchantCache{store: s, keys: map[string]*rsa.PublicKey{}}
}

func (c *merchantCache) get(ctx context.Context, clientID string) (merchant.Merchant, error) {
	return c.store.MerchantByClientID(ctx, clientID)
}

func (c *merchantCache) publicKey(m merchant.Merchant, version string) (*rsa.PublicKey, error) {
	k := m.ClientID + "\x00" + version
	c.mu.RLock()
	pub, ok := c.keys[k]
	c.mu.RUnlock()
	if ok {
		return pub, nil
	}
	enc, ok := m.PublicKeys[version]
	if !ok {
		return nil, protocol.Errorf(protocol.CodeKeyNotFound, "no key of keyVersion %s is registered for client-id %s", version, m.ClientID)
	}
	pub, err := protocol.ParsePublicKey(enc)
	if err != nil {
		return nil, fmt.Errorf("merchant %s key %s: %w", m.ClientID, version, err)
	}
	c.mu.Lock()
	c.keys[k] = pub
	c.mu.Unlock()
	return pub, nil
}
