-- Without an authoritative ERP, a count from a system (a POS's
-- inventory.count.updated) already includes the sales it saw: the time of
-- the newest count applied to a position, so that a sale that happened
-- before it is recorded as 'counted' and not taken off again, and a count
-- older than it as 'stale_count'. UTC RFC 3339 text.
ALTER TABLE stock_position ADD COLUMN counted_at TEXT;
