-- +goose Up
-- A lease on a payment's time-driven work (expiry, settlement, auto-capture, auto-void, voids,
-- capture and refund follow-ups): the instance that claims it owns it until the lease runs out,
-- so several instances share the work and one that dies loses it to another.
ALTER TABLE payments ADD COLUMN work_lease_until BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE payments DROP COLUMN work_lease_until;
