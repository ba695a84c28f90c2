-- The relay's queue of events not yet published (docs/messaging.md). An
-- event's row in trueup_outbox is written once and never updated: appending
-- inserts its seq here in the same transaction, and marking it published
-- deletes that seq. Before, marking was an UPDATE of published_at, which
-- copied the whole row (data included) and, because published_at was
-- indexed, wrote a new entry into every index of the table.
-- No foreign key: the relay and the retention job keep the two consistent,
-- and a key check would lock the event row at every append and mark.
CREATE TABLE trueup_outbox_pending (
    seq INTEGER PRIMARY KEY
);
INSERT INTO trueup_outbox_pending (seq) SELECT seq FROM trueup_outbox WHERE published_at IS NULL;
DROP INDEX trueup_outbox_pending_idx;
DROP INDEX trueup_outbox_published_idx;
ALTER TABLE trueup_outbox DROP COLUMN published_at;
-- As on PostgreSQL: an event appended without `queued` (by a release from
-- before this migration) is queued by this trigger. One process owns an
-- SQLite file and an older binary refuses a newer schema, so here it keeps
-- the two engines the same.
ALTER TABLE trueup_outbox ADD COLUMN queued INTEGER;
CREATE TRIGGER trueup_outbox_queue_unqueued AFTER INSERT ON trueup_outbox
    FOR EACH ROW WHEN NEW.queued IS NULL
BEGIN
    INSERT INTO trueup_outbox_pending (seq) VALUES (NEW.seq);
END;
