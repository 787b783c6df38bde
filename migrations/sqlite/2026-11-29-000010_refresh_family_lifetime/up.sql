-- A refresh token family ends at an absolute moment however often it is
-- rotated: each successor inherits it. Families from before this migration
-- get one year (the default) from their current token's issue.
ALTER TABLE refresh_tokens ADD COLUMN family_expires_at TIMESTAMP;
UPDATE refresh_tokens SET family_expires_at = datetime(issued_at, '+365 days');
