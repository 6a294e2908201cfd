-- +goose Up
-- What every API request reads and what rarely changes (a merchant, its public keys, its
-- routing document) is cached by each process (sqlstore/cache.go). config_generation is the
-- invalidation every instance observes: the triggers below move it in the same transaction as
-- any change to those tables, whoever makes it (another instance, `cardgate merchant set`, the
-- console, plain SQL), and each process reads it a few times a second, dropping its cache when
-- it moved. The one row is read by its primary key; it is written only when configuration
-- changes, never on the pay path.
CREATE TABLE config_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO config_generation (id, generation) VALUES (1, 1);

-- +goose StatementBegin
CREATE FUNCTION config_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE config_generation SET generation = generation + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER merchants_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON merchants
    FOR EACH STATEMENT EXECUTE FUNCTION config_generation_bump();
CREATE TRIGGER merchant_keys_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON merchant_keys
    FOR EACH STATEMENT EXECUTE FUNCTION config_generation_bump();
CREATE TRIGGER routing_rules_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON routing_rules
    FOR EACH STATEMENT EXECUTE FUNCTION config_generation_bump();

-- cardgate_one is the guard of a statement the store pipelines (sqlstore.Stmt.One): the
-- statement runs as a data-modifying CTE whose rows this counts, and anything but exactly one
-- raises SQLSTATE CG001. Raised in the database, the failure makes the server skip the rest of
-- the pipeline, COMMIT included, so a guarded change and its rows can go in one round trip.
-- +goose StatementBegin
CREATE FUNCTION cardgate_one(n BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
BEGIN
    IF n <> 1 THEN
        RAISE EXCEPTION 'guarded statement changed % rows, not one', n USING ERRCODE = 'CG001';
    END IF;
    RETURN n;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION cardgate_one(BIGINT);
DROP TRIGGER routing_rules_generation ON routing_rules;
DROP TRIGGER merchant_keys_generation ON merchant_keys;
DROP TRIGGER merchants_generation ON merchants;
DROP FUNCTION config_generation_bump();
DROP TABLE config_generation;
