-- Issue 26: a client's version is its ETag in the admin API; every change
-- to its row makes a new one (the CLI's, the API's, a rotated secret).
ALTER TABLE clients ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
CREATE FUNCTION portcullis_next_version() RETURNS trigger AS $$
BEGIN
    IF NEW.version = OLD.version THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER clients_next_version BEFORE UPDATE ON clients
FOR EACH ROW EXECUTE FUNCTION portcullis_next_version();
