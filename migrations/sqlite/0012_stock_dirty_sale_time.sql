-- The time of the sale behind a dirty mark (see the PostgreSQL file): the
-- earliest occurred_at of the movements that marked the position since the
-- availability service last drained it, as julianday() gives it.
ALTER TABLE stock_dirty ADD COLUMN earliest_occurred_jd REAL;
