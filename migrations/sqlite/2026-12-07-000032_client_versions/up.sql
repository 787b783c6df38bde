-- Issue 26: a client's version is its ETag in the admin API; every change
-- to its row makes a new one (the CLI's, the API's, a rotated secret).
ALTER TABLE clients ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
CREATE TRIGGER clients_next_version AFTER UPDATE ON clients
FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN
    UPDATE clients SET version = OLD.version + 1 WHERE id = OLD.id;
END;
