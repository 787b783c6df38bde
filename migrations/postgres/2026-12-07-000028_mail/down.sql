DROP TABLE mail_outbox;
DROP TABLE email_links;
ALTER TABLE users DROP COLUMN email_verified;
