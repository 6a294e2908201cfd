-- +goose Up
-- What a payment's disputes claim (those not cancelled), kept on the payment so that a refund and
-- a dispute check one balance: the database refuses refunds and disputes that together exceed
-- the capture (issue 15). Only the dispute store writes it, and it bumps the payment's version
-- when it does, so a refund checked against an older balance loses its guarded write and checks
-- again.
ALTER TABLE payments ADD COLUMN disputed_minor BIGINT NOT NULL DEFAULT 0;
-- chargeback_at: when the sandbox acquirer's promised chargeback opens a dispute (the dispute
-- test cards, one day after capture on the gateway clock); 0 for none, or once opened.
ALTER TABLE payments ADD COLUMN chargeback_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX payments_chargeback_due ON payments (chargeback_at) WHERE chargeback_at > 0;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION payments_invariants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.captured_minor < 0 OR NEW.captured_minor > NEW.amount_minor
       OR NEW.refunded_minor < 0 OR NEW.disputed_minor < 0 OR NEW.refunded_minor + NEW.disputed_minor > NEW.captured_minor
       OR (NEW.state = 'CANCELLED' AND NEW.capture_state IN ('PROCESSING', 'SUCCESS'))
       OR (TG_OP = 'UPDATE' AND OLD.capture_state = 'SUCCESS' AND NEW.capture_state <> 'SUCCESS') THEN
        RAISE EXCEPTION 'payment invariant violated' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION payments_invariants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.captured_minor < 0 OR NEW.captured_minor > NEW.amount_minor
       OR NEW.refunded_minor < 0 OR NEW.refunded_minor > NEW.captured_minor
       OR (NEW.state = 'CANCELLED' AND NEW.capture_state IN ('PROCESSING', 'SUCCESS'))
       OR (TG_OP = 'UPDATE' AND OLD.capture_state = 'SUCCESS' AND NEW.capture_state <> 'SUCCESS') THEN
        RAISE EXCEPTION 'payment invariant violated' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
DROP INDEX payments_chargeback_due;
ALTER TABLE payments DROP COLUMN chargeback_at;
ALTER TABLE payments DROP COLUMN disputed_minor;
