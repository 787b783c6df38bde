ALTER TABLE clients DROP COLUMN dialects;
