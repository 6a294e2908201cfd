-- +goose Up
-- The vault's key-encryption keys of a sandbox on PostgreSQL (issue 11): every instance of the
-- sandbox, whatever its host and working directory, seals and opens with the same keys, so a 3-D
-- Secure challenge opened on one completes on another. Production never reads or writes this
-- table: its keys come from --vault-keys only, never from the database they protect.
-- seq orders the keys: the highest is current; rows are only ever added (an older key still opens
-- what it wraps). key is the raw 32-byte AES-256 key.
CREATE TABLE sandbox_vault_keys (
    seq        BIGINT PRIMARY KEY CHECK (seq > 0),
    kek_id     TEXT COLLATE "C" NOT NULL UNIQUE CHECK (kek_id ~ '^[A-Za-z0-9_-]{1,32}$'),
    key        BYTEA NOT NULL CHECK (octet_length(key) = 32),
    created_at BIGINT NOT NULL CHECK (created_at > 0)
);

-- +goose Down
DROP TABLE sandbox_vault_keys;
