-- The stock ledger: every accepted movement once, and the on-hand position
-- per SKU and location it produces. Quantities are fixed-point integers
-- scaled by 100000 (5 decimals), exactly as the canonical Quantity.
CREATE TABLE inventory_ledger (
    movement_id  TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    sku          TEXT NOT NULL,
    location     TEXT NOT NULL,
    to_location  TEXT,
    quantity_e5  BIGINT NOT NULL,          -- delta, or the counted quantity for a count
    occurred_at  TEXT NOT NULL,            -- RFC 3339 with the source's offset
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    workflow_id  TEXT NOT NULL
);
CREATE INDEX inventory_ledger_position_idx ON inventory_ledger (sku, location);

CREATE TABLE stock_position (
    sku              TEXT NOT NULL,
    location         TEXT NOT NULL,
    on_hand_e5       BIGINT NOT NULL,
    last_movement_id TEXT NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (sku, location)
);

-- Orders accepted through the system API (the latest version of each).
CREATE TABLE channel_order (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    status      TEXT NOT NULL,
    document    TEXT NOT NULL,             -- canonical JSON
    workflow_id TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
