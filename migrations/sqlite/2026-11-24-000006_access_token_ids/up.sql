CREATE INDEX access_tokens_token_id ON access_tokens (token_id);
