-- Messaging: inbox (durable receipt + dedupe), quarantine, transactional
-- outbox, and Idempotency-Key storage. See docs/messaging.md.
-- Times are written by trueup from its clock (UTC), not by now().

-- Every inbound message, once. The unique (source, dedupe_key) is the
-- duplicate check: a second insert of the same key does nothing.
CREATE TABLE trueup_inbox (
    id           BIGSERIAL PRIMARY KEY,
    source       TEXT NOT NULL,            -- connector or API name
    dedupe_key   TEXT NOT NULL,            -- source event id, or SHA-256 of canonical content
    content_type TEXT NOT NULL,
    payload      BYTEA NOT NULL,           -- raw, as received
    received_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT trueup_inbox_source_dedupe_key UNIQUE (source, dedupe_key)
);

-- Authentic payloads that could not be parsed or mapped, kept raw.
CREATE TABLE trueup_quarantine (
    id           BIGSERIAL PRIMARY KEY,
    source       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    payload      BYTEA NOT NULL,
    reason       TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL
);

-- Events written in the transaction that caused them; the relay publishes
-- them in seq order and sets published_at.
CREATE TABLE trueup_outbox (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,     -- CloudEvents ce_id
    topic        TEXT NOT NULL,
    key          TEXT NOT NULL,            -- partition key
    type         TEXT NOT NULL,            -- ce_type
    source       TEXT NOT NULL,            -- ce_source
    subject      TEXT,                     -- ce_subject
    time         TEXT NOT NULL,            -- ce_time, RFC 3339 as sent
    data         TEXT NOT NULL,            -- JSON
    traceparent  TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ
);
CREATE INDEX trueup_outbox_pending_idx ON trueup_outbox (seq) WHERE published_at IS NULL;
CREATE INDEX trueup_outbox_published_idx ON trueup_outbox (published_at) WHERE published_at IS NOT NULL;

-- Idempotency-Key header storage (IETF draft).
CREATE TABLE trueup_idempotency_key (
    scope            TEXT NOT NULL,
    key              TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,        -- SHA-256 of method, path, body
    state            TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
    token            TEXT,                 -- the in-flight claim's token
    locked_until     TIMESTAMPTZ,          -- in_flight: retryable after this
    response_status  INTEGER,
    response_headers TEXT,                 -- JSON array of [name, value]
    response_body    BYTEA,
    created_at       TIMESTAMPTZ NOT NULL,
    completed_at     TIMESTAMPTZ,
    expires_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX trueup_idempotency_key_expires_idx ON trueup_idempotency_key (expires_at);
