DROP TRIGGER clients_next_version;
ALTER TABLE clients DROP COLUMN version;
