-- +goose Up
-- Delivery of the outbox: a lease lets one dispatcher (of any instance) own a message while it
-- posts it; every attempt, scheduled or a manual resend, is kept for the merchant to read.
ALTER TABLE outbox ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN delivered_at BIGINT NOT NULL DEFAULT 0;

CREATE INDEX outbox_by_payment ON outbox (client_id, payment_id, id);

CREATE TABLE notify_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id   BIGINT NOT NULL REFERENCES outbox (id),
    attempt     BIGINT NOT NULL,
    manual      SMALLINT NOT NULL CHECK (manual IN (0, 1)),
    at          BIGINT NOT NULL,
    http_status BIGINT NOT NULL,
    latency_ms  BIGINT NOT NULL,
    response    TEXT NOT NULL,
    error       TEXT NOT NULL,
    delivered   SMALLINT NOT NULL CHECK (delivered IN (0, 1))
);

CREATE INDEX notify_attempts_by_outbox ON notify_attempts (outbox_id, id);

-- +goose Down
DROP TABLE notify_attempts;
DROP INDEX outbox_by_payment;
ALTER TABLE outbox DROP COLUMN delivered_at;
ALTER TABLE outbox DROP COLUMN last_attempt_at;
ALTER TABLE outbox DROP COLUMN lease_until;
