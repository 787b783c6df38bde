ALTER TABLE federated_identities DROP COLUMN login;
