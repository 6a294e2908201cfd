-- +goose Up
-- Settlement and reports (issue 15; docs/reports.md). A merchant's contracted settlement
-- currencies, "USD,EUR" (the first its default) or "*" for every currency: the merchants from
-- before this migration keep "*", so nothing they could send before is refused now. A payment's
-- settlement terms are written once, when it is created, and never changed: the settlement
-- currency, the cross rate from the payment's currency as an exact decimal, and the fee, so that
-- a report made later from them is the same whatever the rate table or the fees are by then
-- ('' and 0 on payments from before: settled in their own currency, without fee).
-- The indexes are the report's: a merchant's day of authorizations, of final captures and
-- refunds, and of disputes resolved. Numbered 00015 in both sequences (00014 is the disputed
-- amount's).
ALTER TABLE merchants ADD COLUMN settlement_currencies TEXT NOT NULL DEFAULT '*' CHECK (settlement_currencies <> '');
ALTER TABLE payments ADD COLUMN settlement_currency TEXT NOT NULL DEFAULT ''
    CHECK (settlement_currency = '' OR length(settlement_currency) = 3);
ALTER TABLE payments ADD COLUMN settlement_rate TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN fee_bps BIGINT NOT NULL DEFAULT 0 CHECK (fee_bps >= 0);
ALTER TABLE payments ADD COLUMN fee_fixed_minor BIGINT NOT NULL DEFAULT 0 CHECK (fee_fixed_minor >= 0);
CREATE INDEX payments_report ON payments (client_id, authorized_at) WHERE authorized_at > 0;
CREATE INDEX transactions_report ON transactions (client_id, updated_at) WHERE status = 'SUCCESS';
CREATE INDEX disputes_report ON disputes (client_id, resolved_at) WHERE resolved_at > 0;

-- +goose Down
DROP INDEX disputes_report;
DROP INDEX transactions_report;
DROP INDEX payments_report;
ALTER TABLE payments DROP COLUMN fee_fixed_minor;
ALTER TABLE payments DROP COLUMN fee_bps;
ALTER TABLE payments DROP COLUMN settlement_rate;
ALTER TABLE payments DROP COLUMN settlement_currency;
ALTER TABLE merchants DROP COLUMN settlement_currencies;
