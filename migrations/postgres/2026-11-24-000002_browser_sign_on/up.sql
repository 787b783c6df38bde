ALTER TABLE clients ADD COLUMN first_party BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN legacy_token_redirect BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN allow_plain_pkce BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE authorization_codes (
    digest BYTEA PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    code_challenge TEXT,
    code_challenge_method TEXT,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    consumed_at TIMESTAMP,
    issued_family_id TEXT,
    issued_access_token_id TEXT,
    issued_access_expires_at TIMESTAMP
);

CREATE TABLE sessions (
    digest BYTEA PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
