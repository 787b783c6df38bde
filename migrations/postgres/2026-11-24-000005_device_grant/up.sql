CREATE TABLE device_authorizations (
    device_digest BYTEA PRIMARY KEY NOT NULL,
    user_code_digest BYTEA NOT NULL UNIQUE,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    poll_interval BIGINT NOT NULL,
    last_polled_at TIMESTAMP,
    status TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE
);
