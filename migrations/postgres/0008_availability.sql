-- The availability service's inputs and memory.
--
-- stock_dirty: positions changed since the service last read them (written
-- in the transaction that changes stock_position, drained with DELETE ...
-- RETURNING by the instance that computes availability). Keyed by position,
-- so it never holds more rows than there are positions, and a row written
-- by a transaction still in flight is simply read by the next drain.
CREATE TABLE stock_dirty (
    sku        TEXT NOT NULL,
    location   TEXT NOT NULL,
    on_hand_e5 BIGINT NOT NULL,
    PRIMARY KEY (sku, location)
);

-- What each channel was last told it may sell, per SKU (written after the
-- channel accepted the push), so a restart pushes only what changed.
CREATE TABLE availability_published (
    channel   TEXT NOT NULL,
    sku       TEXT NOT NULL,
    available BIGINT NOT NULL,
    pushed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, sku)
);
