-- +goose Up
-- Batch claims of the outbox (docs/performance.md "Notification delivery under load"): the claim walks pending rows
-- in due order and skips leased rows and busy merchants, all from this index without reading
-- the rows; the depth and age gauges count pending rows by creation time from the second.
CREATE INDEX outbox_claim ON outbox (next_attempt_at, id, client_id, lease_until) WHERE status = 'PENDING';
CREATE INDEX outbox_pending_age ON outbox (created_at) WHERE status = 'PENDING';
DROP INDEX outbox_due;

-- +goose Down
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'PENDING';
DROP INDEX outbox_pending_age;
DROP INDEX outbox_claim;
