-- The clients whose tokens this client, as a resource server, may introspect
-- (space-separated client ids; a client id holds no space).
ALTER TABLE clients ADD COLUMN audiences TEXT NOT NULL DEFAULT '';
