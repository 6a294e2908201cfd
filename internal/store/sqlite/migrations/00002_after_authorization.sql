-- +goose Up
-- What happened after the authorization. The CHECKs are the invariants of design.md, held by the
-- database itself so that no code path can break them: captured ≤ authorized, refunds ≤ captured,
-- never captured (or capturing) and cancelled both.
ALTER TABLE payments ADD COLUMN capture_state TEXT NOT NULL DEFAULT ''
    CHECK (capture_state IN ('', 'PROCESSING', 'SUCCESS', 'FAIL'));
ALTER TABLE payments ADD COLUMN captured_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN refunded_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN captured_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN close_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN closed_at INTEGER NOT NULL DEFAULT 0;
-- acquirer_due_at: when to ask the acquirer again about an unanswered authorization (0: never).
ALTER TABLE payments ADD COLUMN acquirer_due_at INTEGER NOT NULL DEFAULT 0;
-- void_state: a void owed to the acquirer ('PENDING') survives a crash between commit and call.
ALTER TABLE payments ADD COLUMN void_state TEXT NOT NULL DEFAULT '' CHECK (void_state IN ('', 'PENDING', 'DONE'));

-- +goose StatementBegin
CREATE TRIGGER payments_invariants_insert BEFORE INSERT ON payments
WHEN NEW.captured_minor < 0 OR NEW.captured_minor > NEW.amount_minor
  OR NEW.refunded_minor < 0 OR NEW.refunded_minor > NEW.captured_minor
  OR (NEW.state = 'CANCELLED' AND NEW.capture_state IN ('PROCESSING', 'SUCCESS'))
BEGIN
    SELECT RAISE(ABORT, 'payment invariant violated');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER payments_invariants_update BEFORE UPDATE ON payments
WHEN NEW.captured_minor < 0 OR NEW.captured_minor > NEW.amount_minor
  OR NEW.refunded_minor < 0 OR NEW.refunded_minor > NEW.captured_minor
  OR (NEW.state = 'CANCELLED' AND NEW.capture_state IN ('PROCESSING', 'SUCCESS'))
  OR (OLD.capture_state = 'SUCCESS' AND NEW.capture_state <> 'SUCCESS')
BEGIN
    SELECT RAISE(ABORT, 'payment invariant violated');
END;
-- +goose StatementEnd

-- Captures, refunds and cancels attached to a payment (inquiryPayment's transactions[]).
CREATE TABLE transactions (
    txn_id         TEXT PRIMARY KEY,
    payment_id     TEXT NOT NULL REFERENCES payments (payment_id),
    client_id      TEXT NOT NULL REFERENCES merchants (client_id),
    txn_type       TEXT NOT NULL CHECK (txn_type IN ('CAPTURE', 'REFUND', 'CANCEL', 'VOID')),
    request_id     TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('PROCESSING', 'SUCCESS', 'FAIL')),
    currency       TEXT NOT NULL,
    amount_minor   INTEGER NOT NULL CHECK (amount_minor >= 0),
    result_code    TEXT NOT NULL,
    result_message TEXT NOT NULL,
    details        TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    due_at         INTEGER NOT NULL DEFAULT 0,
    -- internal: the request id is the gateway's (an automatic capture, a cancel or a void carry
    -- the paymentRequestId), not a merchant's captureRequestId or refundRequestId.
    internal       INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1))
);

-- Idempotency of captureRequestId / refundRequestId, per merchant. An automatic capture shows
-- the paymentRequestId as its transactionRequestId (seed 003) without taking that id from the
-- merchant's own captureRequestIds.
CREATE UNIQUE INDEX transactions_request_id ON transactions (client_id, txn_type, request_id) WHERE internal = 0;
-- One cancel or void per payment, one automatic capture per payment.
CREATE UNIQUE INDEX transactions_internal ON transactions (payment_id, txn_type) WHERE internal = 1;

CREATE INDEX transactions_by_payment ON transactions (payment_id, created_at);
CREATE INDEX transactions_due ON transactions (due_at) WHERE status = 'PROCESSING';
CREATE INDEX payments_auth_expiry ON payments (auth_expires_at) WHERE state = 'SUCCESS' AND capture_state IN ('', 'FAIL');
CREATE INDEX payments_acquirer_due ON payments (acquirer_due_at) WHERE state = 'PROCESSING' AND acquirer_due_at > 0;
CREATE INDEX payments_void_owed ON payments (closed_at) WHERE void_state = 'PENDING';

ALTER TABLE payment_events ADD COLUMN txn_id TEXT NOT NULL DEFAULT '';

-- The sandbox clock's offset, shared by every instance on this store.
CREATE TABLE sandbox_clock (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    offset_ms INTEGER NOT NULL CHECK (offset_ms >= 0)
);
INSERT INTO sandbox_clock (id, offset_ms) VALUES (1, 0);

-- +goose Down
DROP TABLE sandbox_clock;
DROP TABLE transactions;
DROP TRIGGER payments_invariants_update;
DROP TRIGGER payments_invariants_insert;
