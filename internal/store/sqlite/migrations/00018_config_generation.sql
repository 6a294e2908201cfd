-- +goose Up
-- What every API request reads and what rarely changes (a merchant, its public keys, its
-- routing document) is cached by each process (sqlstore/cache.go). config_generation is the
-- invalidation every process on this file observes: the triggers below move it in the same
-- transaction as any change to those tables, whoever makes it (`cardgate merchant set` from
-- another process, the console, plain SQL), and each process reads it a few times a second,
-- dropping its cache when it moved. (The row-level triggers of SQLite bump once per row; only
-- the change matters.)
CREATE TABLE config_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO config_generation (id, generation) VALUES (1, 1);

-- +goose StatementBegin
CREATE TRIGGER merchants_generation_insert AFTER INSERT ON merchants
BEGIN
    UPDATE config_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER merchants_generation_update AFTER UPDATE ON merchants
BEGIN
    UPDATE config_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER merchants_generation_delete AFTER DELETE ON merchants
BEGIN
    UPDATE config_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER merchant_keys_generation_insert AFTER INSERT ON merchant_keys
BEGIN
    UPDATE config_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER merchant_keys_generation_update AFTER UPDATE ON merchant_keys
BEGIN
    UPDATE config_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER merchant_keys_generation_delete AFTER DELETE ON merchant_keys
BEGIN
    UPDATE config_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER routing_rules_generation_insert AFTER INSERT ON routing_rules
BEGIN
    UPDATE config_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER routing_rules_generation_update AFTER UPDATE ON routing_rules
BEGIN
    UPDATE config_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER routing_rules_generation_delete AFTER DELETE ON routing_rules
BEGIN
    UPDATE config_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER merchants_generation_insert;
DROP TRIGGER merchants_generation_update;
DROP TRIGGER merchants_generation_delete;
DROP TRIGGER merchant_keys_generation_insert;
DROP TRIGGER merchant_keys_generation_update;
DROP TRIGGER merchant_keys_generation_delete;
DROP TRIGGER routing_rules_generation_insert;
DROP TRIGGER routing_rules_generation_update;
DROP TRIGGER routing_rules_generation_delete;
DROP TABLE config_generation;
