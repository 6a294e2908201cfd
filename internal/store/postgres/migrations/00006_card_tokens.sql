-- +goose Up
-- Saved cards (design.md "Tokens"). A token is the cardToken a merchant sends back instead of a
-- card: the card number, expiry and holder name live only in sealed (a vault envelope bound to
-- the merchant and token id); card is the masked summary that may be shown, never the number.
-- client_id is the merchant, as in payments. The unique key saves a buyer's card once: two
-- payments approving the same card for the same buyer at once cannot both save it, the second
-- insert fails and that approval re-reads the token the first one made. buyer_id '' is a token
-- for any buyer of the merchant. Times are Unix milliseconds like every other table.
-- The same table as in SQLite; ids are COLLATE "C" so that key rotation pages through them in byte
-- order, as SQLite does, whatever the database's locale.
CREATE TABLE card_tokens (
    token_id    TEXT COLLATE "C" PRIMARY KEY CHECK (token_id <> ''),
    client_id   TEXT COLLATE "C" NOT NULL REFERENCES merchants (client_id),
    buyer_id    TEXT COLLATE "C" NOT NULL DEFAULT '',
    fingerprint TEXT COLLATE "C" NOT NULL CHECK (fingerprint <> ''),
    card        TEXT NOT NULL CHECK (card <> ''),
    sealed      TEXT NOT NULL CHECK (sealed <> ''),
    created_at  BIGINT NOT NULL CHECK (created_at > 0),
    updated_at  BIGINT NOT NULL CHECK (updated_at >= created_at),
    UNIQUE (client_id, buyer_id, fingerprint)
);

-- Key rotation walks the payments holding a sealed card in payment_id order; they are the few
-- with a 3-D Secure challenge pending, so a partial index keeps that walk off the whole table.
CREATE INDEX payments_sealed_card ON payments (payment_id) WHERE sealed_card <> '';

-- +goose Down
DROP INDEX payments_sealed_card;
DROP TABLE card_tokens;
