-- Messaging: inbox (durable receipt + dedupe), quarantine, transactional
-- outbox, and Idempotency-Key storage. See docs/messaging.md.
-- Timestamps are UTC RFC 3339 text with 6 fraction digits
-- ("2024-05-01T12:00:00.000000Z"), written by trueup, so they compare as text.

CREATE TABLE trueup_inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    source       TEXT NOT NULL,
    dedupe_key   TEXT NOT NULL,
    content_type TEXT NOT NULL,
    payload      BLOB NOT NULL,
    received_at  TEXT NOT NULL,
    CONSTRAINT trueup_inbox_source_dedupe_key UNIQUE (source, dedupe_key)
);

CREATE TABLE trueup_quarantine (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    source       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    payload      BLOB NOT NULL,
    reason       TEXT NOT NULL,
    received_at  TEXT NOT NULL
);

CREATE TABLE trueup_outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    topic        TEXT NOT NULL,
    key          TEXT NOT NULL,
    type         TEXT NOT NULL,
    source       TEXT NOT NULL,
    subject      TEXT,
    time         TEXT NOT NULL,
    data         TEXT NOT NULL,
    traceparent  TEXT,
    created_at   TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX trueup_outbox_pending_idx ON trueup_outbox (seq) WHERE published_at IS NULL;
CREATE INDEX trueup_outbox_published_idx ON trueup_outbox (published_at) WHERE published_at IS NOT NULL;

CREATE TABLE trueup_idempotency_key (
    scope            TEXT NOT NULL,
    key              TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
    token            TEXT,
    locked_until     TEXT,
    response_status  INTEGER,
    response_headers TEXT,
    response_body    BLOB,
    created_at       TEXT NOT NULL,
    completed_at     TEXT,
    expires_at       TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX trueup_idempotency_key_expires_idx ON trueup_idempotency_key (expires_at);
