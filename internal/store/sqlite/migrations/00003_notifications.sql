-- +goose Up
-- Delivery of the outbox: a lease lets one dispatcher (of any instance) own a message while it
-- posts it; every attempt, scheduled or a manual resend, is kept for the merchant to read.
ALTER TABLE outbox ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN delivered_at INTEGER NOT NULL DEFAULT 0;

CREATE INDEX outbox_by_payment ON outbox (client_id, payment_id, id);

CREATE TABLE notify_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id   INTEGER NOT NULL REFERENCES outbox (id),
    attempt     INTEGER NOT NULL,
    manual      INTEGER NOT NULL CHECK (manual IN (0, 1)),
    at          INTEGER NOT NULL,
    http_status INTEGER NOT NULL,
    latency_ms  INTEGER NOT NULL,
    response    TEXT NOT NULL,
    error       TEXT NOT NULL,
    delivered   INTEGER NOT NULL CHECK (delivered IN (0, 1))
);

CREATE INDEX notify_attempts_by_outbox ON notify_attempts (outbox_id, id);

-- +goose Down
DROP TABLE notify_attempts;
DROP INDEX outbox_by_payment;
