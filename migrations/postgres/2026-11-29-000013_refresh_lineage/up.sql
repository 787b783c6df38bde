-- Each refresh token names the token it replaced, so a retried rotation
-- (the client never saw the answer) can replace that token's unseen
-- successor instead of counting as a replay; a successor replaced so is
-- marked superseded, and presenting it later revokes the family.
ALTER TABLE refresh_tokens ADD COLUMN parent_digest BYTEA;
ALTER TABLE refresh_tokens ADD COLUMN superseded_at TIMESTAMP;
CREATE INDEX refresh_tokens_parent ON refresh_tokens (parent_digest);
-- The access token issued with each refresh token: superseding an unseen
-- successor revokes the access token that was never seen either.
ALTER TABLE refresh_tokens ADD COLUMN access_token_id TEXT;
ALTER TABLE refresh_tokens ADD COLUMN access_expires_at TIMESTAMP;
