-- The relay's queue of events not yet published (docs/messaging.md). An
-- event's row in trueup_outbox is written once and never updated: appending
-- inserts its seq here in the same transaction, and marking it published
-- deletes that seq. Before, marking was an UPDATE of published_at, which
-- copied the whole row (data included) and, because published_at was
-- indexed, wrote a new entry into every index of the table.
-- No foreign key: the relay and the retention job keep the two consistent,
-- and a key check would lock the event row at every append and mark.
-- No event may be appended between the backfill and the end of this
-- migration without its queue row: hold off every writer of the table.
LOCK TABLE trueup_outbox IN ACCESS EXCLUSIVE MODE;
CREATE TABLE trueup_outbox_pending (
    seq BIGINT PRIMARY KEY
);
INSERT INTO trueup_outbox_pending (seq) SELECT seq FROM trueup_outbox WHERE published_at IS NULL;
DROP INDEX trueup_outbox_pending_idx;
DROP INDEX trueup_outbox_published_idx;
ALTER TABLE trueup_outbox DROP COLUMN published_at;
-- A release from before this migration, still running during a rolling
-- upgrade, appends events without queue rows. Releases from this one on set
-- `queued` (always TRUE) and queue their events themselves; a row appended
-- without it is queued by this trigger, so nothing goes unpublished. The
-- WHEN clause keeps the trigger function from being called otherwise.
ALTER TABLE trueup_outbox ADD COLUMN queued BOOLEAN;
CREATE FUNCTION trueup_outbox_queue_unqueued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO trueup_outbox_pending (seq) VALUES (NEW.seq);
    RETURN NULL;
END
$$;
CREATE TRIGGER trueup_outbox_queue_unqueued AFTER INSERT ON trueup_outbox
    FOR EACH ROW WHEN (NEW.queued IS NULL) EXECUTE FUNCTION trueup_outbox_queue_unqueued();
