-- The stock ledger: every accepted movement once, and the on-hand position
-- per SKU and location it produces. Quantities are fixed-point integers
-- scaled by 100000 (5 decimals). Timestamps are UTC ISO-8601 text.
CREATE TABLE inventory_ledger (
    movement_id  TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    sku          TEXT NOT NULL,
    location     TEXT NOT NULL,
    to_location  TEXT,
    quantity_e5  INTEGER NOT NULL,
    occurred_at  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    workflow_id  TEXT NOT NULL
);
CREATE INDEX inventory_ledger_position_idx ON inventory_ledger (sku, location);

CREATE TABLE stock_position (
    sku              TEXT NOT NULL,
    location         TEXT NOT NULL,
    on_hand_e5       INTEGER NOT NULL,
    last_movement_id TEXT NOT NULL,
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (sku, location)
);

CREATE TABLE channel_order (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    status      TEXT NOT NULL,
    document    TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
