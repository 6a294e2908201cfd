-- +goose Up
-- The lease of an authorization call in flight (Unix ms on the gateway clock, 0 for none): set when
-- the authorization is sent, cleared with its answer. One left set past its time is an
-- authorization whose sender died: due work RESOLVE asks the acquirer by the gateway's reference.
ALTER TABLE payments ADD COLUMN inflight_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX payments_inflight ON payments (inflight_until) WHERE inflight_until > 0;

-- The sandbox acquirer's own books: every authorization the simulator answered, by the gateway's
-- reference (the paymentId), and the reversals it received. It lives beside the gateway's tables
-- only because the simulator has no database of its own; the gateway never reads it.
CREATE TABLE sim_acquirer_ledger (
	payment_ref TEXT PRIMARY KEY,
	result      TEXT NOT NULL DEFAULT '',
	reversed    INTEGER NOT NULL DEFAULT 0,
	updated_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE sim_acquirer_ledger;
DROP INDEX payments_inflight;
ALTER TABLE payments DROP COLUMN inflight_until;
