package postgres_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cardgate/cardgate/internal/store/postgres"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
	"github.com/cardgate/cardgate/internal/store/storetest"
)

// TestClassifyByCode: Dialect.Classify decides by SQLSTATE alone: the message of a PostgreSQL
// error, or an error that only reads like one, never makes a violation.
func TestClassifyByCode(t *testing.T) {
	unique := &pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint \"merchants_pkey\""}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"unique_violation", unique, sqlstore.ErrUnique},
		{"unique_violation, wrapped", fmt.Errorf("insert merchant: %w", unique), sqlstore.ErrUnique},
		{"unique_violation, no message", &pgconn.PgError{Code: "23505"}, sqlstore.ErrUnique},
		{"check_violation", &pgconn.PgError{Code: "23514"}, sqlstore.ErrConstraint},
		{"not_null_violation", &pgconn.PgError{Code: "23502"}, sqlstore.ErrConstraint},
		{"foreign_key_violation", &pgconn.PgError{Code: "23503"}, sqlstore.ErrConstraint},
		{"RAISE EXCEPTION in a trigger", &pgconn.PgError{Code: "P0001", Message: "payment invariant violated"}, sqlstore.ErrConstraint},
		{"character_not_in_repertoire", &pgconn.PgError{Code: "22021"}, sqlstore.ErrInvalidText},
		{"untranslatable_character", &pgconn.PgError{Code: "22P05"}, sqlstore.ErrInvalidText},
		{"exclusion_violation", &pgconn.PgError{Code: "23P01"}, nil},
		{"serialization_failure", &pgconn.PgError{Code: "40001"}, nil},
		{"syntax error with a unique violation's message", &pgconn.PgError{Code: "42601", Message: unique.Message}, nil},
		{"the text of a unique violation, no code", errors.New(unique.Error()), nil},
		{"no error", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := postgres.Dialect.Classify(tc.err); got != tc.want {
				t.Fatalf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestClassifiedErrorKeepsTheDriverError: the store's ErrUnique still has PostgreSQL's own
// error under it, for a caller that needs the SQLSTATE or the constraint's name.
func TestClassifiedErrorKeepsTheDriverError(t *testing.T) {
	err := storetest.DuplicateKey(t, open(t))
	var pe *pgconn.PgError
	if !errors.Is(err, sqlstore.ErrUnique) || !errors.As(err, &pe) || pe.Code != "23505" || pe.ConstraintName != "merchants_pkey" {
		t.Fatalf("duplicate client id: %v (%T), want ErrUnique over a *pgconn.PgError 23505 on merchants_pkey", err, err)
	}
}
