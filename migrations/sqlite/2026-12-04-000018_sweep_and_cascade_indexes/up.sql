-- Every expiry sweep deletes through an index on `expires_at`, and every
-- delete that follows a foreign key (a client's or an account's rows going
-- with it) finds them through an index instead of scanning the table.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);
CREATE INDEX authorization_codes_client ON authorization_codes (client_id);
CREATE INDEX authorization_codes_user ON authorization_codes (user_id);
CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens (expires_at);
CREATE INDEX device_authorizations_expires ON device_authorizations (expires_at);
CREATE INDEX device_authorizations_client ON device_authorizations (client_id);
CREATE INDEX device_authorizations_user ON device_authorizations (user_id);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id);
CREATE INDEX access_tokens_client ON access_tokens (client_id);
CREATE INDEX upstream_flows_user ON upstream_flows (user_id);
