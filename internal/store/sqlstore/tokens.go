package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store/rows"
)

var _ payments.SealedStore = (*Store)(nil)

// TokenByID implements payments.TokenStore. The merchant is part of the key, so another
// merchant's token is not found, exactly like an unknown one.
func (s *Store) TokenByID(ctx context.Context, merchantID, tokenID string) (payments.Token, error) {
	return s.queryToken(ctx, `SELECT `+rows.TokenColumns+` FROM card_tokens WHERE client_id = ? AND token_id = ?`, merchantID, tokenID)
}

// TokenByFingerprint implements payments.TokenStore.
func (s *Store) TokenByFingerprint(ctx context.Context, merchantID, buyerID, fingerprint string) (payments.Token, error) {
	return s.queryToken(ctx, `SELECT `+rows.TokenColumns+` FROM card_tokens WHERE client_id = ? AND buyer_id = ? AND fingerprint = ?`,
		merchantID, buyerID, fingerprint)
}

func (s *Store) queryToken(ctx context.Context, q string, args ...any) (payments.Token, error) {
	if !rows.Storable(args...) {
		return payments.Token{}, payments.ErrNotFound // no row can hold it (rows.Storable)
	}
	var row rows.TokenScan
	err := s.db.QueryRow(ctx, q, args...).Scan(row.Targets()...)
	if errors.Is(err, sql.ErrNoRows) {
		return payments.Token{}, payments.ErrNotFound
	}
	if err != nil {
		return payments.Token{}, fmt.Errorf("query card token: %w", err)
	}
	return row.Token()
}

// tokenStmt inserts the token an approval saved, in the approval's transaction. A unique
// violation (the buyer already has this card, or, against all odds, the id is taken) is a
// conflict: the whole change rolls back and the domain re-reads to find the existing token.
func tokenStmt(t payments.Token) (Stmt, error) {
	vals, err := rows.TokenValues(t)
	if err != nil {
		return Stmt{}, err
	}
	return Stmt{SQL: `INSERT INTO card_tokens (` + rows.TokenColumns + `) VALUES (?,?,?,?,?,?,?,?)`, Args: vals, Err: func(err error) error {
		if errors.Is(err, ErrUnique) {
			return payments.ErrConflict
		}
		return fmt.Errorf("insert card token: %w", err)
	}}, nil
}

// sealedQueries are, per kind, the listing and the guarded swap of its envelopes. The table and
// column names come from this fixed map, never from the caller.
var sealedQueries = map[payments.SealedKind]struct{ list, replace string }{
	payments.SealedTokens: {
		list: `SELECT token_id, sealed FROM card_tokens WHERE token_id > ? ORDER BY token_id LIMIT ?`,
		// updated_at stays: rewrapping under a new key changes no card, and the store has no
		// gateway clock (the sandbox one is offset) to stamp it with.
		replace: `UPDATE card_tokens SET sealed = ? WHERE token_id = ? AND sealed = ?`,
	},
	payments.SealedPayments: {
		list: `SELECT payment_id, sealed_card FROM payments WHERE sealed_card <> '' AND payment_id > ? ORDER BY payment_id LIMIT ?`,
		// The version bump makes a concurrent guarded Apply computed from the old row conflict
		// and re-read, so it cannot write the old envelope back.
		replace: `UPDATE payments SET sealed_card = ?, version = version + 1 WHERE payment_id = ? AND sealed_card = ?`,
	},
	payments.SealedDisputeEvidence: {
		list: `SELECT dispute_id, evidence_sealed FROM disputes WHERE evidence_sealed <> '' AND dispute_id > ? ORDER BY dispute_id LIMIT ?`,
		// As for payments: a dispute's moves are guarded by its version.
		replace: `UPDATE disputes SET evidence_sealed = ?, version = version + 1 WHERE dispute_id = ? AND evidence_sealed = ?`,
	},
}

func sealedQuery(kind payments.SealedKind) (list, replace string, err error) {
	q, ok := sealedQueries[kind]
	if !ok {
		return "", "", fmt.Errorf("sealed records: unknown kind %q", kind)
	}
	return q.list, q.replace, nil
}

// SealedAfter implements payments.SealedStore.
func (s *Store) SealedAfter(ctx context.Context, kind payments.SealedKind, afterID string, limit int) ([]payments.SealedRecord, error) {
	list, _, err := sealedQuery(kind)
	if err != nil {
		return nil, err
	}
	rs, err := s.db.Query(ctx, list, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	defer rs.Close()
	var out []payments.SealedRecord
	for rs.Next() {
		var r payments.SealedRecord
		if err := rs.Scan(&r.ID, &r.Sealed); err != nil {
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	return out, nil
}

// ReplaceSealed implements payments.SealedStore.
func (s *Store) ReplaceSealed(ctx context.Context, kind payments.SealedKind, id, old, new string) (bool, error) {
	_, replace, err := sealedQuery(kind)
	if err != nil {
		return false, err
	}
	// Rotation swaps envelopes only: an empty one would erase a pending challenge's card, or give
	// a payment without one a card it never had.
	if old == "" || new == "" {
		return false, fmt.Errorf("replace %s %s: an envelope is empty", kind, id)
	}
	n, err := s.db.Exec(ctx, replace, new, id, old)
	if err != nil {
		return false, fmt.Errorf("replace %s %s: %w", kind, id, err)
	}
	return n == 1, nil
}
