-- Issue 26: the admin API. An account's version is its ETag: every change
-- to its row makes a new one, whichever path made it (the trigger), and the
-- admin API's own writes set it themselves, conditional on the version the
-- caller saw (If-Match). `updated_at` is `meta.lastModified`.
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN updated_at TIMESTAMP;
CREATE FUNCTION portcullis_next_user_version() RETURNS trigger AS $$
BEGIN
    IF NEW.version = OLD.version THEN
        NEW.version := OLD.version + 1;
        NEW.updated_at := (now() AT TIME ZONE 'UTC');
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER users_next_version BEFORE UPDATE ON users
FOR EACH ROW EXECUTE FUNCTION portcullis_next_user_version();
-- Keyset pagination of the admin API's account listing.
CREATE INDEX users_created ON users (created_at, id);
-- A client that may call the admin API (client_credentials, admin:* scopes).
ALTER TABLE clients ADD COLUMN admin BOOLEAN NOT NULL DEFAULT FALSE;
