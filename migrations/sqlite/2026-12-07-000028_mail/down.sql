ALTER TABLE clients DROP COLUMN require_verified_email;
DROP TABLE mail_outbox;
DROP TABLE email_links;
ALTER TABLE users DROP COLUMN email_verified;
