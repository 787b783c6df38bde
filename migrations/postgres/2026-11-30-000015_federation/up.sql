-- Upstream identities (a GitHub account, an OpenID provider's subject),
-- each linked to one local account; an account may have several.
CREATE TABLE federated_identities (
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX federated_identities_user ON federated_identities (user_id);
-- Sign-ins through an upstream provider under way: finished once by the
-- callback (user_id set), taken once by whoever hands out the token. The
-- flow's secrets travel sealed in its state, never here.
CREATE TABLE upstream_flows (
    id TEXT PRIMARY KEY NOT NULL,
    provider TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    -- A device flow's polling: not before next_poll_at, every
    -- poll_interval_secs (grown by the provider's slow_down).
    poll_interval_secs BIGINT,
    next_poll_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX upstream_flows_expiry ON upstream_flows (expires_at);
