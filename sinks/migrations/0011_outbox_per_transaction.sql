-- The outbox keeps one row per writing transaction, its events as arrays in order: a batch of 1,000
-- interactions wrote ~1,400 rows of `timeline_outbox` with their index entries, and its drain
-- deleted them one by one (~5% of the database's CPU per interaction in the worker's benchmark, and
-- the worker's fetch of those rows ~4% of its own). Compressed with lz4 where the server has it
-- (a batch's events are JSON and shrink several times over, so they also take fewer TOAST chunks);
-- never pglz, which costs more CPU than it saves here.
--
-- `timeline_outbox` stays: the previous release appends there, and this release drains it first,
-- so a rolling upgrade loses nothing. A later release drops it.
CREATE TABLE timeline_outbox_batches (
    seq      bigserial PRIMARY KEY,
    topics   text[]  NOT NULL,
    keys     bytea[] NOT NULL,
    payloads bytea[] NOT NULL,
    CHECK (cardinality(topics) = cardinality(keys) AND cardinality(keys) = cardinality(payloads))
);

DO $$
BEGIN
    ALTER TABLE timeline_outbox_batches ALTER COLUMN payloads SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    ALTER TABLE timeline_outbox_batches ALTER COLUMN payloads SET STORAGE EXTERNAL;
END $$;
