package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/internal/routing"
	"github.com/cardgate/cardgate/internal/store/rows"
)

var _ routing.Store = (*Store)(nil)

// RoutingRules implements routing.Store, from the configuration cache (cache.go): a change
// made by another process is seen within a second.
func (s *Store) RoutingRules(ctx context.Context, merchantID string) ([]byte, time.Time, error) {
	if !rows.Storable(merchantID) {
		return nil, time.Time{}, nil // no row can hold it (rows.Storable)
	}
	return s.cachedRouting(ctx, merchantID)
}

func (s *Store) queryRouting(ctx context.Context, merchantID string) ([]byte, time.Time, error) {
	if !rows.Storable(merchantID) {
		return nil, time.Time{}, nil // no row can hold it (rows.Storable)
	}
	var (
		doc string
		at  int64
	)
	err := s.db.QueryRow(ctx, `SELECT document, updated_at FROM routing_rules WHERE merchant_id = ?`, merchantID).Scan(&doc, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("query routing rules: %w", err)
	}
	return []byte(doc), fromMS(at), nil
}

// SetRoutingRules implements routing.Store: one upsert, so two instances setting rules at once
// leave one whole document, the last.
func (s *Store) SetRoutingRules(ctx context.Context, merchantID string, raw []byte, at time.Time) error {
	if !rows.Storable(merchantID, string(raw)) {
		return fmt.Errorf("set routing rules: %w", ErrInvalidText)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO routing_rules (merchant_id, document, updated_at) VALUES (?,?,?)
		ON CONFLICT (merchant_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
		merchantID, string(raw), ms(at))
	s.cache.drop()
	if errors.Is(err, ErrConstraint) {
		return fmt.Errorf("set routing rules of %q: %w: %w", merchantID, routing.ErrUnknownMerchant, err)
	}
	if err != nil {
		return fmt.Errorf("set routing rules: %w", err)
	}
	return nil
}
