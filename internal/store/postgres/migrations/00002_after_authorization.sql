-- +goose Up
-- What happened after the authorization. The CHECKs and the trigger are the invariants of
-- design.md, held by the database itself so that no code path (of any instance) can break them:
-- captured ≤ authorized, refunds ≤ captured, never captured (or capturing) and cancelled both,
-- a successful capture never undone.
ALTER TABLE payments ADD COLUMN capture_state TEXT NOT NULL DEFAULT ''
    CHECK (capture_state IN ('', 'PROCESSING', 'SUCCESS', 'FAIL'));
ALTER TABLE payments ADD COLUMN captured_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN captured_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN close_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN closed_at BIGINT NOT NULL DEFAULT 0;
-- acquirer_due_at: when to ask the acquirer again about an unanswered authorization (0: never).
ALTER TABLE payments ADD COLUMN acquirer_due_at BIGINT NOT NULL DEFAULT 0;
-- void_state: a void owed to the acquirer ('PENDING') survives a crash between commit and call.
ALTER TABLE payments ADD COLUMN void_state TEXT NOT NULL DEFAULT '' CHECK (void_state IN ('', 'PENDING', 'DONE'));

-- One trigger holds them all, as in SQLite: the row's own bounds and its change from OLD to NEW.
-- +goose StatementBegin
CREATE FUNCTION payments_invariants() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER payments_invariants BEFORE INSERT OR UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_invariants();

-- Captures, refunds and cancels attached to a payment (inquiryPayment's transactions[]).
CREATE TABLE transactions (
    -- seq keeps insertion order (SQLite's rowid): Txns lists by created_at, then seq.
    seq            BIGINT GENERATED ALWAYS AS IDENTITY,
    txn_id         TEXT COLLATE "C" PRIMARY KEY,
    payment_id     TEXT COLLATE "C" NOT NULL REFERENCES payments (payment_id),
    client_id      TEXT COLLATE "C" NOT NULL REFERENCES merchants (client_id),
    txn_type       TEXT NOT NULL CHECK (txn_type IN ('CAPTURE', 'REFUND', 'CANCEL', 'VOID')),
    request_id     TEXT COLLATE "C" NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('PROCESSING', 'SUCCESS', 'FAIL')),
    currency       TEXT NOT NULL,
    amount_minor   BIGINT NOT NULL CHECK (amount_minor >= 0),
    result_code    TEXT NOT NULL,
    result_message TEXT NOT NULL,
    details        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    due_at         BIGINT NOT NULL DEFAULT 0,
    -- internal: the request id is the gateway's (an automatic capture, a cancel or a void carry
    -- the paymentRequestId), not a merchant's captureRequestId or refundRequestId.
    internal       SMALLINT NOT NULL DEFAULT 0 CHECK (internal IN (0, 1))
);

-- Idempotency of captureRequestId / refundRequestId, per merchant, across every instance.
CREATE UNIQUE INDEX transactions_request_id ON transactions (client_id, txn_type, request_id) WHERE internal = 0;
-- One cancel or void per payment, one automatic capture per payment.
CREATE UNIQUE INDEX transactions_internal ON transactions (payment_id, txn_type) WHERE internal = 1;

CREATE INDEX transactions_by_payment ON transactions (payment_id, created_at, seq);
CREATE INDEX transactions_due ON transactions (due_at) WHERE status = 'PROCESSING';
CREATE INDEX payments_auth_expiry ON payments (auth_expires_at) WHERE state = 'SUCCESS' AND capture_state IN ('', 'FAIL');
CREATE INDEX payments_acquirer_due ON payments (acquirer_due_at) WHERE state = 'PROCESSING' AND acquirer_due_at > 0;
CREATE INDEX payments_void_owed ON payments (closed_at) WHERE void_state = 'PENDING';
-- An automatic payment approved and not captured: its capture was lost with the instance.
CREATE INDEX payments_auto_capture_owed ON payments (authorized_at)
    WHERE state = 'SUCCESS' AND capture_mode = 'AUTOMATIC' AND capture_state = '';

ALTER TABLE payment_events ADD COLUMN txn_id TEXT NOT NULL DEFAULT '';

-- The sandbox clock's offset, shared by every instance on this store.
CREATE TABLE sandbox_clock (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    offset_ms BIGINT NOT NULL CHECK (offset_ms >= 0)
);
INSERT INTO sandbox_clock (id, offset_ms) VALUES (1, 0);

-- +goose Down
DROP TABLE sandbox_clock;
DROP TABLE transactions;
DROP TRIGGER payments_invariants ON payments;
DROP FUNCTION payments_invariants();
