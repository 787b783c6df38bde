-- One login name, one account: every username and every email, lower-cased,
-- is a row here, so a name can belong to one account only, whichever
-- column it came from, and a login finds exactly one row.
CREATE TABLE login_names (
    name TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX login_names_user ON login_names (user_id);
-- Existing accounts: usernames first (unique among themselves), then emails,
-- oldest account first. An email that names another account already is
-- left out and reported by `portcullis migrate`, never changed silently.
INSERT INTO login_names (name, user_id) SELECT lower(username), id FROM users;
INSERT INTO login_names (name, user_id)
    SELECT DISTINCT ON (lower(email)) lower(email), id FROM users WHERE email IS NOT NULL
    ORDER BY lower(email), created_at, id
    ON CONFLICT (name) DO NOTHING;
