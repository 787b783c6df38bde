DROP TABLE access_tokens;
ALTER TABLE clients DROP COLUMN token_format;
