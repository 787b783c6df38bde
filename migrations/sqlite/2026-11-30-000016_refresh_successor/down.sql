CREATE INDEX refresh_tokens_parent ON refresh_tokens (parent_digest);
ALTER TABLE refresh_tokens DROP COLUMN successor_digest;
