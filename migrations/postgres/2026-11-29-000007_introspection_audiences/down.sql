ALTER TABLE clients DROP COLUMN audiences;
