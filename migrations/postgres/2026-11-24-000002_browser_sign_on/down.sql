DROP TABLE sessions;
DROP TABLE authorization_codes;
ALTER TABLE clients DROP COLUMN allow_plain_pkce;
ALTER TABLE clients DROP COLUMN legacy_token_redirect;
ALTER TABLE clients DROP COLUMN first_party;
