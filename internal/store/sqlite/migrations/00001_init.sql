-- +goose Up
CREATE TABLE gateway_keys (
    version     TEXT PRIMARY KEY,
    private_key TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE merchants (
    client_id       TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    sandbox         INTEGER NOT NULL CHECK (sandbox IN (0, 1)),
    private_key     TEXT NOT NULL DEFAULT '',
    fingerprint_key BLOB NOT NULL,
    notify_url      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);

CREATE TABLE merchant_keys (
    client_id   TEXT NOT NULL REFERENCES merchants (client_id),
    key_version TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    PRIMARY KEY (client_id, key_version)
);

-- A payment holds no card number and no CVV: card is the masked summary (first six, last four,
-- fingerprint). Times are Unix milliseconds so that due-work queries compare integers.
CREATE TABLE payments (
    payment_id      TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES merchants (client_id),
    request_id      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('PROCESSING', 'SUCCESS', 'FAIL', 'CANCELLED')),
    version         INTEGER NOT NULL CHECK (version > 0),
    currency        TEXT NOT NULL CHECK (length(currency) = 3),
    amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),
    capture_mode    TEXT NOT NULL CHECK (capture_mode IN ('AUTOMATIC', 'MANUAL')),
    result_code     TEXT NOT NULL,
    result_message  TEXT NOT NULL,
    acquirer_state  TEXT NOT NULL,
    card            TEXT NOT NULL,
    auth            TEXT NOT NULL,
    order_details   TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    authorized_at   INTEGER NOT NULL DEFAULT 0,
    auth_expires_at INTEGER NOT NULL DEFAULT 0,
    expires_at      INTEGER NOT NULL,
    -- Invariant 1: one authorization per (merchant, paymentRequestId).
    UNIQUE (client_id, request_id)
);

CREATE INDEX payments_open_by_expiry ON payments (expires_at) WHERE state = 'PROCESSING';

CREATE TABLE payment_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id  TEXT NOT NULL REFERENCES payments (payment_id),
    op          TEXT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    result_code TEXT NOT NULL,
    at          INTEGER NOT NULL
);

CREATE INDEX payment_events_by_payment ON payment_events (payment_id, id);

-- The transactional outbox: notifications written with the transition that caused them.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id       TEXT NOT NULL REFERENCES merchants (client_id),
    payment_id      TEXT NOT NULL REFERENCES payments (payment_id),
    notify_type     TEXT NOT NULL,
    -- ref is what the notification is about (paymentId, captureId, refundId): invariant 5 allows
    -- exactly one notification per result.
    ref             TEXT NOT NULL,
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (notify_type, ref)
);

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'PENDING';

-- +goose Down
DROP TABLE outbox;
DROP TABLE payment_events;
DROP TABLE payments;
DROP TABLE merchant_keys;
DROP TABLE merchants;
DROP TABLE gateway_keys;
