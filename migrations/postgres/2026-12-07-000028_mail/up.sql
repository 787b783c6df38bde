-- Issue 24: what an account's email is worth, and the mail that proves it.
-- An address counts as verified once a link mailed to it was opened (or an
-- operator or an upstream provider vouched for it). Accounts made through a
-- provider were given only verified addresses; local ones start unverified.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET email_verified = TRUE
    WHERE email IS NOT NULL AND password_hash IS NULL
      AND id IN (SELECT user_id FROM federated_identities);
-- Links mailed to people (verify an address, recover a password, accept an
-- invitation, confirm an address change): only the SHA-256 of the token in
-- the URL, the account, and the address it was sent to. Single use: opening
-- one deletes its row in the same write as its effect.
CREATE TABLE email_links (
    digest BYTEA PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX email_links_user ON email_links (user_id, purpose);
CREATE INDEX email_links_expires ON email_links (expires_at);
-- Letters waiting to be sent, sealed with the key-encryption key (they carry
-- links). Written in the same write as the link a letter carries; taken by a
-- sender with a conditional update of attempts, deleted once the mail server
-- accepted it or it was given up on.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    sealed TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at);
-- A client may sign in only people whose address is verified.
ALTER TABLE clients ADD COLUMN require_verified_email BOOLEAN NOT NULL DEFAULT FALSE;
