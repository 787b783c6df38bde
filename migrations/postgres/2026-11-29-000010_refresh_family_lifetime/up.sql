-- A refresh token family ends at an absolute moment however often it is
-- rotated: each successor inherits it. Families from before this migration
-- get one year (the default) from their current token's issue.
ALTER TABLE refresh_tokens ADD COLUMN family_expires_at TIMESTAMP;
UPDATE refresh_tokens SET family_expires_at = issued_at + INTERVAL '365 days';
ALTER TABLE refresh_tokens ALTER COLUMN family_expires_at SET NOT NULL;
