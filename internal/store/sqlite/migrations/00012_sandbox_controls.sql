-- +goose Up
-- The sandbox's test controls (internal/sandbox). A forced result: the next `remaining` calls of
-- `operation` by the merchant answer `result_code`; one row per merchant and operation, taken one
-- at a time by an UPDATE so that instances sharing the store use each answer once. The clock's
-- epoch counts resets: an instance that sees a new epoch drops its offset, and an advance made in
-- an older epoch writes nothing. Numbered 00012 in both sequences (00011 is left to the card
-- features' migration).
CREATE TABLE sandbox_forces (
    merchant_id TEXT NOT NULL REFERENCES merchants (client_id),
    operation   TEXT NOT NULL CHECK (operation IN ('pay', 'capture', 'refund')),
    result_code TEXT NOT NULL,
    remaining   INTEGER NOT NULL CHECK (remaining >= 0),
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, operation)
);
ALTER TABLE sandbox_clock ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE sandbox_clock DROP COLUMN epoch;
DROP TABLE sandbox_forces;
