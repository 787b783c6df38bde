DROP INDEX access_tokens_token_id;
