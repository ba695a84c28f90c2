-- The ID crosswalk: (system, entity, external id) -> canonical id.
-- Timestamps are UTC ISO-8601 text.
CREATE TABLE crosswalk (
    system       TEXT NOT NULL,
    entity       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    canonical_id TEXT NOT NULL,
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_by   TEXT NOT NULL,
    PRIMARY KEY (system, entity, external_id)
);
CREATE INDEX crosswalk_canonical_idx ON crosswalk (entity, canonical_id);

-- Messages that named an identifier the crosswalk did not know; replayed when
-- the mapping is added.
CREATE TABLE parked_message (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    system       TEXT NOT NULL,
    entity       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    source       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    payload      TEXT NOT NULL,
    parked_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    replayed_at  TEXT,
    last_error   TEXT
);
CREATE INDEX parked_message_waiting_idx ON parked_message (system, entity, external_id) WHERE replayed_at IS NULL;
