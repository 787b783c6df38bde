-- The grant (refresh token family) a reference access token was issued in,
-- so revoking the grant deletes it too.
ALTER TABLE access_tokens ADD COLUMN family_id TEXT;
CREATE INDEX access_tokens_family ON access_tokens (family_id);
