-- Issue 25: second factors. How a session and a code authenticated (RFC 8176
-- method names, space-separated; empty for those from before).
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '';
-- TOTP authenticators (the secret sealed with the key-encryption key,
-- counter = the last time step accepted, advanced by a conditional update)
-- and WebAuthn credentials (the adapter's record, counter = the signature
-- counter). A TOTP counts once a correct code confirmed it.
CREATE TABLE second_factors (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    secret TEXT,
    credential_id TEXT UNIQUE,
    record TEXT,
    counter BIGINT NOT NULL DEFAULT 0,
    confirmed BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX second_factors_user ON second_factors (user_id);
-- Recovery codes: only their SHA-256; using one deletes it.
CREATE TABLE recovery_codes (
    digest BYTEA PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);
-- The WebAuthn user handle of an account: random, never its id or a name.
CREATE TABLE webauthn_handles (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    handle TEXT NOT NULL UNIQUE
);
-- WebAuthn ceremonies begun: their state, single use, for minutes, so any
-- node finishes what another began.
CREATE TABLE webauthn_ceremonies (
    digest BYTEA PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies (expires_at);
-- What a client asks of second factors: optional, required, password-grant-allowed.
ALTER TABLE clients ADD COLUMN mfa TEXT NOT NULL DEFAULT 'optional';
