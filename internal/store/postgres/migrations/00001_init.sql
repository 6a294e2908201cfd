-- +goose Up
-- The same schema as the SQLite store (internal/store/sqlite/migrations), the PostgreSQL way.
-- Times are Unix milliseconds (BIGINT, 0 for "none") exactly as in SQLite, so that due-work
-- queries compare integers and both stores behave alike. Identifiers that are sorted on are
-- COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
CREATE TABLE gateway_keys (
    version     TEXT COLLATE "C" PRIMARY KEY,
    private_key TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE merchants (
    client_id       TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT NOT NULL,
    sandbox         SMALLINT NOT NULL CHECK (sandbox IN (0, 1)),
    private_key     TEXT NOT NULL DEFAULT '',
    fingerprint_key BYTEA NOT NULL,
    notify_url      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL
);

CREATE TABLE merchant_keys (
    client_id   TEXT COLLATE "C" NOT NULL REFERENCES merchants (client_id),
    key_version TEXT COLLATE "C" NOT NULL,
    public_key  TEXT NOT NULL,
    PRIMARY KEY (client_id, key_version)
);

-- A payment holds no card number and no CVV: card is the masked summary (first six, last four,
-- fingerprint). card, auth and order_details are JSON kept as TEXT, byte for byte what was written.
CREATE TABLE payments (
    payment_id      TEXT COLLATE "C" PRIMARY KEY,
    client_id       TEXT COLLATE "C" NOT NULL REFERENCES merchants (client_id),
    request_id      TEXT COLLATE "C" NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('PROCESSING', 'SUCCESS', 'FAIL', 'CANCELLED')),
    version         BIGINT NOT NULL CHECK (version > 0),
    currency        TEXT NOT NULL CHECK (char_length(currency) = 3),
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    capture_mode    TEXT NOT NULL CHECK (capture_mode IN ('AUTOMATIC', 'MANUAL')),
    result_code     TEXT NOT NULL,
    result_message  TEXT NOT NULL,
    acquirer_state  TEXT NOT NULL,
    card            TEXT NOT NULL,
    auth            TEXT NOT NULL,
    order_details   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    authorized_at   BIGINT NOT NULL DEFAULT 0,
    auth_expires_at BIGINT NOT NULL DEFAULT 0,
    expires_at      BIGINT NOT NULL,
    -- Invariant 1: one authorization per (merchant, paymentRequestId), across every instance.
    UNIQUE (client_id, request_id)
);

CREATE INDEX payments_open_by_expiry ON payments (expires_at) WHERE state = 'PROCESSING';

CREATE TABLE payment_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id  TEXT COLLATE "C" NOT NULL REFERENCES payments (payment_id),
    op          TEXT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    result_code TEXT NOT NULL,
    at          BIGINT NOT NULL
);

CREATE INDEX payment_events_by_payment ON payment_events (payment_id, id);

-- The transactional outbox: notifications written with the transition that caused them.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id       TEXT COLLATE "C" NOT NULL REFERENCES merchants (client_id),
    payment_id      TEXT COLLATE "C" NOT NULL REFERENCES payments (payment_id),
    notify_type     TEXT NOT NULL,
    -- ref is what the notification is about (paymentId, captureId, refundId): invariant 5 allows
    -- exactly one notification per result.
    ref             TEXT NOT NULL,
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
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
