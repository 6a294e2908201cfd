package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/store/rows"
)

var (
	_ merchant.Store = (*Store)(nil)
	_ keyring.Store  = (*Store)(nil)
)

// CreateMerchant implements merchant.Store.
func (s *Store) CreateMerchant(ctx context.Context, m merchant.Merchant) error {
	defer s.cache.drop()
	return s.InTx(ctx, func(tx Conn) error {
		if m.SettlementCurrencies != nil && len(m.SettlementCurrencies) == 0 {
			// Not "every currency" by accident: nil says that.
			return fmt.Errorf("insert merchant %s: no settlement currency: %w", m.ClientID, ErrConstraint)
		}
		fp := m.FingerprintKey
		if fp == nil {
			fp = []byte{} // the column is NOT NULL: no key is an empty one
		}
		if _, err := tx.Exec(ctx, `INSERT INTO merchants (client_id, name, sandbox, private_key, fingerprint_key, notify_url, created_at,
			settlement_currencies) VALUES (?,?,?,?,?,?,?,?)`, m.ClientID, m.Name, b2i(m.Sandbox), m.PrivateKey, fp, m.NotifyURL, ms(m.CreatedAt),
			settlementColumn(m.SettlementCurrencies)); err != nil {
			return fmt.Errorf("insert merchant: %w", err)
		}
		for v, pub := range m.PublicKeys {
			if _, err := tx.Exec(ctx, `INSERT INTO merchant_keys (client_id, key_version, public_key) VALUES (?,?,?)`, m.ClientID, v, pub); err != nil {
				return fmt.Errorf("insert merchant key: %w", err)
			}
		}
		return nil
	})
}

const merchantColumns = `client_id, name, sandbox, private_key, fingerprint_key, notify_url, created_at, settlement_currencies`

// settlementColumn is how merchants.settlement_currencies keeps a contract: the codes joined by
// commas, the default first, or "*" for every currency (nil).
func settlementColumn(codes []string) string {
	if codes == nil {
		return "*"
	}
	return strings.Join(codes, ",")
}

func settlementOf(col string) []string {
	if col == "*" {
		return nil
	}
	return strings.Split(col, ",")
}

// MerchantByClientID implements merchant.Store, from the configuration cache (cache.go): a
// change made by another process (a notify URL, a new key) is seen within a second.
func (s *Store) MerchantByClientID(ctx context.Context, clientID string) (merchant.Merchant, error) {
	if !rows.Storable(clientID) {
		return merchant.Merchant{}, merchant.ErrNotFound // no row can hold it (rows.Storable)
	}
	return s.cachedMerchant(ctx, clientID)
}

// SandboxMerchant implements merchant.Store.
func (s *Store) SandboxMerchant(ctx context.Context) (merchant.Merchant, error) {
	return s.queryMerchant(ctx, `SELECT `+merchantColumns+` FROM merchants WHERE sandbox = 1 ORDER BY created_at, client_id LIMIT 1`)
}

func (s *Store) queryMerchant(ctx context.Context, q string, args ...any) (merchant.Merchant, error) {
	if !rows.Storable(args...) {
		return merchant.Merchant{}, merchant.ErrNotFound // no row can hold it (rows.Storable)
	}
	var (
		m       merchant.Merchant
		sandbox int
		created int64
		settle  string
	)
	err := s.db.QueryRow(ctx, q, args...).Scan(&m.ClientID, &m.Name, &sandbox, &m.PrivateKey, &m.FingerprintKey, &m.NotifyURL, &created, &settle)
	if errors.Is(err, sql.ErrNoRows) {
		return m, merchant.ErrNotFound
	}
	if err != nil {
		return m, fmt.Errorf("query merchant: %w", err)
	}
	m.Sandbox, m.CreatedAt, m.SettlementCurrencies = sandbox == 1, fromMS(created), settlementOf(settle)
	rs, err := s.db.Query(ctx, `SELECT key_version, public_key FROM merchant_keys WHERE client_id = ?`, m.ClientID)
	if err != nil {
		return m, fmt.Errorf("query merchant keys: %w", err)
	}
	defer rs.Close()
	m.PublicKeys = map[string]string{}
	for rs.Next() {
		var v, pub string
		if err := rs.Scan(&v, &pub); err != nil {
			return m, err
		}
		m.PublicKeys[v] = pub
	}
	return m, rs.Err()
}

// SetNotifyURL implements merchant.Store.
func (s *Store) SetNotifyURL(ctx context.Context, clientID, url string) error {
	n, err := s.db.Exec(ctx, `UPDATE merchants SET notify_url = ? WHERE client_id = ?`, url, clientID)
	s.cache.drop()
	if err != nil {
		return fmt.Errorf("set notify url: %w", err)
	}
	if n != 1 {
		return merchant.ErrNotFound
	}
	return nil
}

// GatewayKeys implements keyring.Store.
func (s *Store) GatewayKeys(ctx context.Context) ([]keyring.StoredKey, error) {
	rs, err := s.db.Query(ctx, `SELECT version, private_key, created_at FROM gateway_keys ORDER BY created_at, version`)
	if err != nil {
		return nil, fmt.Errorf("query gateway keys: %w", err)
	}
	defer rs.Close()
	var keys []keyring.StoredKey
	for rs.Next() {
		var (
			k  keyring.StoredKey
			at int64
		)
		if err := rs.Scan(&k.Version, &k.PrivateKey, &at); err != nil {
			return nil, err
		}
		k.CreatedAt = fromMS(at)
		keys = append(keys, k)
	}
	return keys, rs.Err()
}

// AddGatewayKey implements keyring.Store. Two instances creating version 1 at once: one inserts,
// the other gets ErrExists and reads the winner's key.
func (s *Store) AddGatewayKey(ctx context.Context, k keyring.StoredKey) error {
	_, err := s.db.Exec(ctx, `INSERT INTO gateway_keys (version, private_key, created_at) VALUES (?,?,?)`, k.Version, k.PrivateKey, ms(k.CreatedAt))
	if errors.Is(err, ErrUnique) {
		return keyring.ErrExists
	}
	return err
}
