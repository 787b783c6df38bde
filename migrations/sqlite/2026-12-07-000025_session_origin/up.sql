-- Where a browser session signed in, for its owner to tell sessions apart
-- on the account page: the browser's User-Agent (truncated), the client
-- address, and how it signed in (a password, a provider's name).
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN address TEXT;
ALTER TABLE sessions ADD COLUMN signed_in_with TEXT;
