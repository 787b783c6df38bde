-- The web origins a client's browser code runs on (CORS), space-separated;
-- NULL: those of its https and loopback redirect URIs.
ALTER TABLE clients ADD COLUMN allowed_origins TEXT;
