-- Stock held for open channel orders: one row per order line while the
-- order is pending, open, on hold or partially fulfilled (written by the
-- channel_order workflow with the order version; removed when it is
-- fulfilled, closed or cancelled). location NULL: the order names none (a web
-- order); the availability service holds it at the channel's push location.
CREATE TABLE stock_reservation (
    order_id    TEXT NOT NULL,
    line_id     TEXT NOT NULL,
    channel     TEXT NOT NULL,
    sku         TEXT NOT NULL,
    location    TEXT,
    quantity_e5 BIGINT NOT NULL,
    PRIMARY KEY (order_id, line_id)
);

-- Orders whose reservations changed since the availability service read them
-- (drained with DELETE ... RETURNING, like stock_dirty).
CREATE TABLE reservation_dirty (
    order_id TEXT PRIMARY KEY
);
