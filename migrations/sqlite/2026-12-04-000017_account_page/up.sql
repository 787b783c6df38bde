-- The account page lists a person's sessions and live grants; deleting a
-- user or ending their sessions follows the same columns.
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
