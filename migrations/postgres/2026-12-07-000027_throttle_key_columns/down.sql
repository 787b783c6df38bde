DROP TABLE throttle_counters;
CREATE UNLOGGED TABLE throttle_counters (
    key TEXT PRIMARY KEY NOT NULL,
    attempts BIGINT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX throttle_counters_expires ON throttle_counters (expires_at);
