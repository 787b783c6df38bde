DROP INDEX access_tokens_subject;
ALTER TABLE access_tokens DROP COLUMN generation;
ALTER TABLE users DROP COLUMN token_generation;
