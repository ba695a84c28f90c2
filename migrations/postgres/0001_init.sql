-- Every trueup process that runs against this database registers here at
-- start-up and refreshes last_seen_at while it runs. Leases and advisory-lock
-- leadership name their holder by this id, and operators see who is running.
CREATE TABLE trueup_instance (
    id           TEXT PRIMARY KEY,         -- host name, pid and a random suffix
    version      TEXT NOT NULL,            -- the trueup version it runs
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX trueup_instance_last_seen_idx ON trueup_instance (last_seen_at);
