-- The ID crosswalk: (system, entity, external id) -> canonical id.
CREATE TABLE crosswalk (
    system       TEXT NOT NULL,            -- e.g. square, shopify, business-central
    entity       TEXT NOT NULL,            -- sku, location, channel, customer, ...
    external_id  TEXT NOT NULL,            -- as the system spells it (ids beyond 2^53 stay text)
    canonical_id TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by   TEXT NOT NULL,
    PRIMARY KEY (system, entity, external_id)
);
CREATE INDEX crosswalk_canonical_idx ON crosswalk (entity, canonical_id);

-- Messages that named an identifier the crosswalk did not know. They wait here
-- (with an open exception) until the mapping is added, then are replayed.
CREATE TABLE parked_message (
    id           BIGSERIAL PRIMARY KEY,
    system       TEXT NOT NULL,
    entity       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    source       TEXT NOT NULL,            -- who replays it (a connector or API route name)
    content_type TEXT NOT NULL,
    payload      TEXT NOT NULL,            -- the message as received
    parked_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at  TIMESTAMPTZ,
    last_error   TEXT
);
CREATE INDEX parked_message_waiting_idx ON parked_message (system, entity, external_id) WHERE replayed_at IS NULL;
