DROP TABLE webauthn_ceremonies;
DROP TABLE webauthn_handles;
DROP TABLE recovery_codes;
DROP TABLE second_factors;
ALTER TABLE authorization_codes DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE clients DROP COLUMN mfa;
