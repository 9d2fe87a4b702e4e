-- The outbox keeps one row per writing transaction, its events as arrays in order (was one row per
-- event): a batch of 1,000 interactions wrote ~1,400 rows with their index entries and its drain
-- deleted them one by one, ~12% of the database's time in the worker's benchmark. Compressed with
-- lz4 where the server has it (events are JSON: a batch's shrinks several times over, so it also
-- takes fewer TOAST chunks); never pglz, which costs more CPU than it saves here.
ALTER TABLE timeline_outbox RENAME TO timeline_outbox_v1;
ALTER SEQUENCE timeline_outbox_seq_seq RENAME TO timeline_outbox_v1_seq_seq;

CREATE TABLE timeline_outbox (
    seq      bigserial PRIMARY KEY,
    topics   text[]  NOT NULL,
    keys     bytea[] NOT NULL,
    payloads bytea[] NOT NULL,
    CHECK (cardinality(topics) = cardinality(keys) AND cardinality(keys) = cardinality(payloads))
);

DO $$
BEGIN
    ALTER TABLE timeline_outbox ALTER COLUMN payloads SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    ALTER TABLE timeline_outbox ALTER COLUMN payloads SET STORAGE EXTERNAL;
END $$;

-- Events still pending from before this migration: one row, in their order.
INSERT INTO timeline_outbox (topics, keys, payloads)
SELECT array_agg(topic ORDER BY seq), array_agg(key ORDER BY seq), array_agg(value ORDER BY seq)
  FROM timeline_outbox_v1
HAVING count(*) > 0;

DROP TABLE timeline_outbox_v1;
