-- The one-row-per-event outbox that migration 0011 kept for a rolling upgrade from a release that
-- appended there: that release never shipped, nothing appends there, and the drain reads only
-- `timeline_outbox_batches`. Rows there would be events of committed rows not yet published; there
-- cannot be any, but publish-or-keep is the rule, so the migration refuses rather than drop them.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM timeline_outbox) THEN
        RAISE EXCEPTION 'timeline_outbox still holds unpublished events';
    END IF;
END $$;

DROP TABLE timeline_outbox;
