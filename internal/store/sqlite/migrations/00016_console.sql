-- +goose Up
-- The console (internal/dashboard, issue 16): who may sign in, their sessions and the failed
-- sign-ins that throttle guessing. Kept in the store, not in a process, so any instance serves a
-- session. None of it is a merchant's test data: a sandbox reset keeps it.
CREATE TABLE dashboard_users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    -- argon2id, PHC-encoded with its salt and parameters.
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('merchant', 'operator')),
    -- A merchant user sees one merchant; an operator sees every merchant and names none.
    client_id     TEXT REFERENCES merchants (client_id),
    created_at    INTEGER NOT NULL,
    CHECK ((role = 'merchant') = (client_id IS NOT NULL))
);

-- A session is found by the SHA-256 of its cookie's token: the store never holds a token that
-- would sign anyone in.
CREATE TABLE dashboard_sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES dashboard_users (id),
    csrf_secret TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX dashboard_sessions_by_user ON dashboard_sessions (user_id);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);

CREATE TABLE dashboard_login_failures (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    ip       TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX dashboard_login_failures_by_user ON dashboard_login_failures (username, at);
CREATE INDEX dashboard_login_failures_by_ip ON dashboard_login_failures (ip, at);

-- The console's payment list: a merchant's payments newest first, by the keyset (created_at,
-- payment_id), so a deep page costs what the first does.
CREATE INDEX payments_console ON payments (client_id, created_at, payment_id);
-- The search by a card's last four digits, on the masked summary's field (the same expression as
-- Dialect.CardLastFour, or the planner cannot use it).
CREATE INDEX payments_console_last4 ON payments (client_id, json_extract(card, '$.lastFour'), created_at, payment_id);

-- The overview's deliveries per day, by merchant.
CREATE INDEX outbox_console ON outbox (client_id, created_at);

-- +goose Down
DROP INDEX outbox_console;
DROP INDEX payments_console_last4;
DROP INDEX payments_console;
DROP TABLE dashboard_login_failures;
DROP TABLE dashboard_sessions;
DROP TABLE dashboard_users;
