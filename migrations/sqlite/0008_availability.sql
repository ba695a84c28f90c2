-- The availability service's inputs and memory (see the PostgreSQL file).
CREATE TABLE stock_dirty (
    sku        TEXT NOT NULL,
    location   TEXT NOT NULL,
    on_hand_e5 INTEGER NOT NULL,
    PRIMARY KEY (sku, location)
);

CREATE TABLE availability_published (
    channel   TEXT NOT NULL,
    sku       TEXT NOT NULL,
    available INTEGER NOT NULL,
    pushed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (channel, sku)
);
