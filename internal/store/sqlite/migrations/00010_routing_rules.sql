-- +goose Up
-- Each merchant's routing rules (internal/routing): the document in its canonical form, as the
-- merchant last set it. No row: no rules, every acquirer equally likely. Numbered 00010 in both
-- sequences so that the table has one number; goose applies a sequence with gaps in order.
CREATE TABLE routing_rules (
    merchant_id TEXT PRIMARY KEY REFERENCES merchants (client_id),
    document    TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE routing_rules;
