-- A throttle counter is keyed by columns (issue 23): its kind ('login',
-- 'device-code', 'upstream', 'registration'), whom it counts (an account's
-- id, or a login name that names none, flagged by subject_kind), and where
-- the attempts came from (a client address, a device cookie's digest, or
-- '' for everywhere). No key is a string format any more, so none is
-- spelled in two places. Counters live minutes: the old ones are dropped
-- rather than translated, and every budget starts afresh once. Unlogged, as
-- migration 000019 made the old table.
DROP TABLE throttle_counters;
CREATE UNLOGGED TABLE throttle_counters (
    kind TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    address TEXT NOT NULL,
    device TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (kind, subject_kind, subject, address, device)
);
CREATE INDEX throttle_counters_expires ON throttle_counters (expires_at);
