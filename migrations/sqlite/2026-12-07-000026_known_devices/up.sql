-- Browsers that signed in to an account before (OWASP's device cookies):
-- the digest of the cookie's value, per account. A known browser has its
-- own failed-login count and is let through the account-wide lock that a
-- guess spread over many addresses sets off.
CREATE TABLE known_devices (
    digest BLOB NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (digest, user_id)
);
CREATE INDEX known_devices_user ON known_devices (user_id);
CREATE INDEX known_devices_expires ON known_devices (expires_at);
