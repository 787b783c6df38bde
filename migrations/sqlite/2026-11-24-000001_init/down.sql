DROP TABLE signing_keys;
DROP TABLE revoked_access_tokens;
DROP TABLE refresh_tokens;
DROP TABLE clients;
DROP TABLE users;
