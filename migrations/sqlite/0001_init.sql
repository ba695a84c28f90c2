-- Every trueup process that runs against this database registers here at
-- start-up and refreshes last_seen_at while it runs. Leases name their holder
-- by this id, and operators see who is running.
-- Timestamps are UTC ISO-8601 text ("2024-05-01T12:00:00.000Z").
CREATE TABLE trueup_instance (
    id           TEXT PRIMARY KEY,         -- host name, pid and a random suffix
    version      TEXT NOT NULL,            -- the trueup version it runs
    started_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX trueup_instance_last_seen_idx ON trueup_instance (last_seen_at);
