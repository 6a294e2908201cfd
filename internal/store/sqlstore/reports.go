package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/reports"
	"github.com/cardgate/cardgate/internal/store/rows"
)

var _ reports.Store = (*Store)(nil)

// reportRows is a merchant's day, one query: the payments authorized in it, the captures and
// refunds that succeeded in it, and the disputes lost or accepted in it, each branch on its
// partial index of migration 00015 ((client_id, time) of the rows that can be in a report), the
// whole in report order. Only final rows are read, and only by times that never change once
// final: a successful transaction is never rewritten (Apply updates only one in process), a
// payment's authorized_at is set once, a final dispute's resolved_at too. The ids sort byte by
// byte on both stores (Dialect.Bytewise).
func (s *Store) reportQuery() string {
	b := s.d.Bytewise
	terms := `p.currency, p.settlement_currency, p.settlement_rate, p.fee_bps, p.fee_fixed_minor, p.auth`
	return `
		SELECT 'AUTHORIZATION', p.authorized_at, p.payment_id` + b + `, p.payment_id, p.request_id, '', p.amount_minor, p.currency,
			` + terms + `, ''
		FROM payments p
		WHERE p.client_id = ? AND p.authorized_at > 0 AND p.authorized_at >= ? AND p.authorized_at < ?
		UNION ALL
		SELECT t.txn_type, t.updated_at, t.txn_id` + b + `, p.payment_id, p.request_id, t.request_id, t.amount_minor, t.currency,
			` + terms + `, t.details
		FROM transactions t JOIN payments p ON p.payment_id = t.payment_id
		WHERE t.client_id = ? AND t.status = 'SUCCESS' AND t.txn_type IN ('CAPTURE', 'REFUND') AND t.updated_at >= ? AND t.updated_at < ?
		UNION ALL
		SELECT 'DISPUTE_DEBIT', d.resolved_at, d.dispute_id` + b + `, p.payment_id, p.request_id, '', d.amount_minor, d.currency,
			` + terms + `, COALESCE(c.details, '')
		FROM disputes d JOIN payments p ON p.payment_id = d.payment_id
			LEFT JOIN transactions c ON c.txn_id = d.capture_id AND c.payment_id = d.payment_id
		WHERE d.client_id = ? AND d.state IN ('ACCEPTED', 'LOST') AND d.resolved_at > 0 AND d.resolved_at >= ? AND d.resolved_at < ?
		ORDER BY 2, 3, 1`
}

// ReportRows implements reports.Store. The rows are read as the query yields them and handed to
// fn one by one; nothing is kept.
func (s *Store) ReportRows(ctx context.Context, merchantID string, from, to time.Time, fn func(reports.Row) error) error {
	if !rows.Storable(merchantID) {
		return nil // no merchant has such an id
	}
	lo, hi := ms(from), ms(to)
	rs, err := s.db.Query(ctx, s.reportQuery(), merchantID, lo, hi, merchantID, lo, hi, merchantID, lo, hi)
	if err != nil {
		return fmt.Errorf("query report rows: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			r                 reports.Row
			typ, id, auth     string
			details           string
			at                int64
			currency, settled string
		)
		if err := rs.Scan(&typ, &at, &id, &r.PaymentID, &r.PaymentRequestID, &r.TxnRequestID, &r.AmountMinor, &currency,
			&r.PaymentCurrency, &settled, &r.Rate, &r.FeeBPS, &r.FeeFixedMinor, &auth, &details); err != nil {
			return fmt.Errorf("scan report row: %w", err)
		}
		r.Type, r.At, r.Currency, r.SettlementCurrency = reports.LineType(typ), fromMS(at), currency, settled
		if r.Type != reports.Authorization {
			r.TxnID = id
		}
		if err := acquirerOf(&r, auth, details); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("read report rows: %w", err)
	}
	return nil
}

// acquirerOf fills the row's acquirer from its payment's authorization and the reference the
// merchant sees in inquiry: the authorization's acquirerTransactionId; a capture's or refund's
// acquirerReferenceNo; a dispute's, that of the capture it disputes.
func acquirerOf(r *reports.Row, auth, details string) error {
	var a payments.AuthDetails
	if err := json.Unmarshal([]byte(auth), &a); err != nil {
		return fmt.Errorf("payment %s auth: %w", r.PaymentID, err)
	}
	r.Acquirer, r.AcquirerReferenceNo = a.AcquirerName, a.AcquirerTransactionID
	if details == "" {
		return nil
	}
	var d payments.TxnDetails
	if err := json.Unmarshal([]byte(details), &d); err != nil {
		return fmt.Errorf("payment %s transaction details: %w", r.PaymentID, err)
	}
	r.AcquirerReferenceNo = firstOf(d.AcquirerReferenceNo, d.AcquirerReference)
	return nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
