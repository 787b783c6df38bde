-- A person's consent to a third-party client, with the scopes it covers:
-- a later request within them skips the consent page (and so prompt=none
-- can succeed); prompt=consent asks again; taking back the application's
-- access on the account page forgets it.
CREATE TABLE consents (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    granted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client ON consents (client_id);
