-- The seed APIs ("dialects") each client speaks, space-separated. New
-- clients opt in to each one explicitly; clients registered before this
-- migration keep what they could do before (every dialect, seed 000's
-- redirect login only where it was switched on), so an upgrade breaks no
-- deployed app. `legacy_token_redirect` stays equal to "speaks
-- redirect-login".
ALTER TABLE clients ADD COLUMN dialects TEXT NOT NULL DEFAULT '';
UPDATE clients SET dialects = CASE WHEN legacy_token_redirect
    THEN 'redirect-login pkce-json key-secret spring-oauth'
    ELSE 'pkce-json key-secret spring-oauth' END;
