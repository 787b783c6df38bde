-- Issue 26: groups. A name is unique in its normal form (RFC 8265
-- UsernameCaseMapped, made by the core before it gets here).
CREATE TABLE user_groups (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- Memberships: deleting an account or a group ends its memberships.
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
-- "Which groups is this account in": every token with the groups claim,
-- and every sign-in to a client with allowed groups, asks it.
CREATE INDEX group_members_user ON group_members (user_id, group_id);
-- The groups a client lets in (space-separated ids); empty: everyone.
ALTER TABLE clients ADD COLUMN allowed_groups TEXT NOT NULL DEFAULT '';
