DROP TRIGGER clients_next_version ON clients;
DROP FUNCTION portcullis_next_version();
ALTER TABLE clients DROP COLUMN version;
