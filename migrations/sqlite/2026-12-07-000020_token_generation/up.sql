-- Ending every token of an account (a password change, disabling it, an
-- operator's sign-out) raises its token generation in the same write; an
-- access token names the generation it was issued in and is refused once
-- the account has moved past it. A reference token keeps its generation
-- beside it, so a copy another node still caches is refused as well.
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE access_tokens ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
-- The same write deletes the account's reference tokens by subject.
CREATE INDEX access_tokens_subject ON access_tokens (subject);
