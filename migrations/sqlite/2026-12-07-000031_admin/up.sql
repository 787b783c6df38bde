-- Issue 26: the admin API. An account's version is its ETag: every change
-- to its row makes a new one, whichever path made it (the trigger), and the
-- admin API's own writes set it themselves, conditional on the version the
-- caller saw (If-Match). `updated_at` is `meta.lastModified`.
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN updated_at TIMESTAMP;
CREATE TRIGGER users_next_version AFTER UPDATE ON users
FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN
    UPDATE users
    SET version = OLD.version + 1,
        updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
    WHERE id = OLD.id;
END;
-- Keyset pagination of the admin API's account listing.
CREATE INDEX users_created ON users (created_at, id);
-- A client that may call the admin API (client_credentials, admin:* scopes).
ALTER TABLE clients ADD COLUMN admin BOOLEAN NOT NULL DEFAULT FALSE;
