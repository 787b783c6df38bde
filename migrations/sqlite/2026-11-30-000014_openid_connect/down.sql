ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
ALTER TABLE clients DROP COLUMN id_token_algorithm;
ALTER TABLE authorization_codes DROP COLUMN auth_time;
ALTER TABLE authorization_codes DROP COLUMN nonce;
DELETE FROM signing_keys WHERE algorithm <> 'paseto-v4-public';
ALTER TABLE signing_keys DROP COLUMN algorithm;
