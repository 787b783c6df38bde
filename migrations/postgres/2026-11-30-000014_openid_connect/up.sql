-- Signing keys of several algorithms: PASETO v4.public for access tokens
-- (every key stored so far), RS256 and EdDSA for ID tokens. Each algorithm
-- has a ring of its own: published before it signs, kept until its tokens
-- expire.
ALTER TABLE signing_keys ADD COLUMN algorithm TEXT NOT NULL DEFAULT 'paseto-v4-public';
-- An authorization code keeps the request's nonce and the moment the user
-- authenticated, for the ID token its redemption issues.
ALTER TABLE authorization_codes ADD COLUMN nonce TEXT;
ALTER TABLE authorization_codes ADD COLUMN auth_time TIMESTAMP;
-- The JWS algorithm a client's ID tokens are signed with (NULL: RS256).
ALTER TABLE clients ADD COLUMN id_token_algorithm TEXT;
-- Where RP-initiated logout may send the browser, space-separated.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
