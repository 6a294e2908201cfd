package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/internal/store/sqlstore"
	"github.com/cardgate/cardgate/internal/vault"
)

var _ vault.KeyStore = (*Store)(nil)

// SandboxKeys implements vault.KeyStore: the sandbox's keys, the current (highest seq) first.
func (s *Store) SandboxKeys(ctx context.Context) ([]vault.KEK, error) {
	rs, err := s.Raw().Query(ctx, `SELECT kek_id, key FROM sandbox_vault_keys ORDER BY seq DESC`)
	if err != nil {
		return nil, fmt.Errorf("sandbox vault keys: %w", err)
	}
	defer rs.Close()
	var keys []vault.KEK
	for rs.Next() {
		var k vault.KEK
		if err := rs.Scan(&k.ID, &k.Key); err != nil {
			return nil, fmt.Errorf("sandbox vault keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("sandbox vault keys: %w", err)
	}
	return keys, nil
}

// SeedSandboxKeys implements vault.KeyStore. The table lock (a mode that excludes itself but no
// reader) makes "empty? then insert them all" one step for instances starting at once, so that
// the keys of one seed are never mixed with another's; ON CONFLICT DO NOTHING keeps it harmless
// even so.
func (s *Store) SeedSandboxKeys(ctx context.Context, keys []vault.KEK) error {
	if len(keys) == 0 {
		return errors.New("sandbox vault keys: no keys to seed")
	}
	return s.lockedKeys(ctx, func(tx sqlstore.Conn, top int64) error {
		if top > 0 {
			return nil // another instance seeded first
		}
		now := time.Now().UnixMilli()
		for i, k := range keys {
			seq := int64(len(keys) - i) // the first is current: the highest
			if _, err := tx.Exec(ctx, `INSERT INTO sandbox_vault_keys (seq, kek_id, key, created_at)
				VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, seq, k.ID, k.Key, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddSandboxKey implements vault.KeyStore: k becomes current.
func (s *Store) AddSandboxKey(ctx context.Context, k vault.KEK) error {
	return s.lockedKeys(ctx, func(tx sqlstore.Conn, top int64) error {
		_, err := tx.Exec(ctx, `INSERT INTO sandbox_vault_keys (seq, kek_id, key, created_at) VALUES (?, ?, ?, ?)`,
			top+1, k.ID, k.Key, time.Now().UnixMilli())
		return err
	})
}

// lockedKeys runs f in a transaction that holds the table against other writers, with the
// highest seq stored (0 for none).
func (s *Store) lockedKeys(ctx context.Context, f func(tx sqlstore.Conn, top int64) error) error {
	err := s.InTx(ctx, func(tx sqlstore.Conn) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE sandbox_vault_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var top int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM sandbox_vault_keys`).Scan(&top); err != nil {
			return err
		}
		return f(tx, top)
	})
	if err != nil {
		return fmt.Errorf("sandbox vault keys: %w", err)
	}
	return nil
}
