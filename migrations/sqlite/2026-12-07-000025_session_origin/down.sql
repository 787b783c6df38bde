ALTER TABLE sessions DROP COLUMN signed_in_with;
ALTER TABLE sessions DROP COLUMN address;
ALTER TABLE sessions DROP COLUMN user_agent;
