ALTER TABLE signing_keys ADD COLUMN activates_at TIMESTAMP;
