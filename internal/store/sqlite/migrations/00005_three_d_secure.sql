-- +goose Up
-- 3-D Secure. threeds is the authentication outcome shown to merchants; challenge_token is the
-- unguessable key of the issuer page in normalUrl; sealed_card holds the card number, expiry and
-- CVV sealed by the vault (AES-256-GCM envelope) only while a challenge is pending, and is
-- emptied in the same transaction as the authorization result (design.md "Card data during 3-D
-- Secure").
ALTER TABLE payments ADD COLUMN threeds TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN challenge_token TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN challenge_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN sealed_card TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX payments_challenge_token ON payments (challenge_token) WHERE challenge_token <> '';

-- +goose Down
DROP INDEX payments_challenge_token;
ALTER TABLE payments DROP COLUMN sealed_card;
ALTER TABLE payments DROP COLUMN challenge_attempts;
ALTER TABLE payments DROP COLUMN challenge_token;
ALTER TABLE payments DROP COLUMN threeds;
