ALTER TABLE clients ADD COLUMN token_format TEXT NOT NULL DEFAULT 'paseto';

CREATE TABLE access_tokens (
    digest BLOB PRIMARY KEY NOT NULL,
    token_id TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    scope TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);
