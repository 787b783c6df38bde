ALTER TABLE clients DROP COLUMN admin;
DROP INDEX users_created;
DROP TRIGGER users_next_version;
ALTER TABLE users DROP COLUMN updated_at;
ALTER TABLE users DROP COLUMN version;
