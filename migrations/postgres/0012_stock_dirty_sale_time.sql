-- The time of the sale behind a dirty mark, for the availability service's
-- sale-to-channel latency (trueup_availability_sale_to_channel_seconds): the
-- earliest occurred_at of the movements that marked the position since the
-- service last drained it, as a fractional Julian day (NULL for marks written
-- before this column). The ledger keeps the earliest when it marks the
-- position again.
ALTER TABLE stock_dirty ADD COLUMN earliest_occurred_jd DOUBLE PRECISION;

-- julianday(text): SQLite's built-in of that name (the fractional Julian day
-- of an RFC 3339 time with its offset), so that the ledger's one
-- dirty-marking statement reads the same on both engines. The ledger's
-- occurred_at keeps the source's offset, so text does not sort by time.
CREATE OR REPLACE FUNCTION julianday(t TEXT) RETURNS DOUBLE PRECISION
    LANGUAGE sql STABLE PARALLEL SAFE
    AS 'SELECT extract(epoch FROM t::timestamptz)::double precision / 86400.0 + 2440587.5';
