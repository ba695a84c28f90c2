-- Where each connector instance's polling stands: an opaque cursor (for
-- Shopify the newest updated_at seen), written in the transaction that
-- records what the poll brought.
CREATE TABLE connector_cursor (
    connector_id TEXT PRIMARY KEY,
    cursor       TEXT NOT NULL,
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
