DROP INDEX refresh_tokens_user;
DROP INDEX sessions_user;
