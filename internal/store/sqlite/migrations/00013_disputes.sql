-- +goose Up
-- Disputes (internal/disputes, issue 15): a chargeback on a captured payment, its own state
-- machine. due_at is when the gateway clock next acts on it (the defense-due alert, the deadline,
-- the judgement; 0 when final), for the due work's scan. The amount rule (disputes and refunds
-- never above the capture) is checked in the transaction that opens a dispute, which first
-- writes the payment's row so that two openings of one payment run one after the other.
CREATE TABLE disputes (
    dispute_id      TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES merchants (client_id),
    payment_id      TEXT NOT NULL REFERENCES payments (payment_id),
    capture_id      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('OPEN', 'DEFENDED', 'ACCEPTED', 'WON', 'LOST', 'CANCELLED')),
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    currency        TEXT NOT NULL CHECK (length(currency) = 3),
    reason_code     TEXT NOT NULL,
    reason_msg      TEXT NOT NULL,
    defense_wins    INTEGER NOT NULL CHECK (defense_wins IN (0, 1)),
    alerted         INTEGER NOT NULL CHECK (alerted IN (0, 1)),
    accept_reason   TEXT NOT NULL,
    judged_result   TEXT NOT NULL,
    evidence_sealed TEXT NOT NULL,
    opened_at       BIGINT NOT NULL,
    defense_due     BIGINT NOT NULL,
    defended_at     BIGINT NOT NULL,
    resolved_at     BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    version         INTEGER NOT NULL CHECK (version > 0)
);
CREATE INDEX disputes_by_payment ON disputes (client_id, payment_id);
CREATE INDEX disputes_due ON disputes (due_at) WHERE due_at > 0;
CREATE TABLE dispute_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    dispute_id TEXT NOT NULL REFERENCES disputes (dispute_id),
    event      TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX dispute_events_by_dispute ON dispute_events (dispute_id, id);

-- +goose Down
DROP TABLE dispute_events;
DROP TABLE disputes;
