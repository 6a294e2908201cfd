-- +goose Up
-- A merchant-initiated payment names the customer-initiated payment it follows by the network
-- transaction id that payment's authorization returned (issue 14). The id is in auth (JSON);
-- this column is its copy, written with it, so that the lookup walks an index, not every auth.
-- The index is partial: most payments (declines, hosted pays not yet paid) have none. Numbered
-- 00011 in both sequences, as 00010 is.
ALTER TABLE payments ADD COLUMN network_transaction_id TEXT NOT NULL DEFAULT '';
UPDATE payments SET network_transaction_id = json_extract(auth, '$.networkTransactionId')
    WHERE json_valid(auth) AND json_type(auth, '$.networkTransactionId') = 'text';
CREATE INDEX payments_network_transaction ON payments (client_id, network_transaction_id)
    WHERE network_transaction_id <> '';

-- +goose Down
DROP INDEX payments_network_transaction;
ALTER TABLE payments DROP COLUMN network_transaction_id;
