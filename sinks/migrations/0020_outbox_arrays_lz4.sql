-- The outbox row's topic and key arrays are compressed with lz4 too, as its payloads are (0011).
-- A batch of 1,000 interactions writes ~1,550 events: its topics (~32 KB, one name repeated) were
-- compressed with pglz and its keys (~62 KB of ids) were tried with pglz, which gave up, and stored
-- as they are. lz4 takes both for less CPU (topics 564 -> 246 bytes, keys 62 -> 34 KB, so fewer
-- TOAST chunks and less WAL): appending that batch's row measured 9.0/9.5/9.5 -> 7.8/8.3/8.0 ms of
-- the backend's CPU (40 appends per measure, interleaved), ~1.3 µs per interaction.
--
-- Only the column settings change (no rewrite): rows already written keep their compression and
-- read as before, and the previous release appends and drains as it did.
DO $$
BEGIN
    ALTER TABLE timeline_outbox_batches
        ALTER COLUMN topics SET COMPRESSION lz4,
        ALTER COLUMN keys SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    -- No lz4 in this server: topics keep pglz (they shrink ~60 times); keys, which pglz cannot
    -- shrink, are no longer tried.
    ALTER TABLE timeline_outbox_batches ALTER COLUMN keys SET STORAGE EXTERNAL;
END $$;
