-- The upstream login name (GitHub's login, an OpenID preferred_username)
-- as it was at the last sign-in, for the account page to show; never an
-- identifier (the subject is).
ALTER TABLE federated_identities ADD COLUMN login TEXT;
