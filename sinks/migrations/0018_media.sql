-- Attachment content kept by the media stage (sinks/media): which interactions reference each stored
-- file (content-addressed, so one file can serve several), and the files no interaction references
-- any more, queued for deletion from the object store (erasure, retention purge, anything that deletes
-- a row or its attachments). The queue is swept by sinks/media/deletions.py after the transaction that
-- queued them committed; a trigger queues them, so no path that removes content can forget its files.
CREATE TABLE IF NOT EXISTS media_references (
    sha256          text NOT NULL,
    interaction_id  uuid NOT NULL,
    PRIMARY KEY (interaction_id, sha256)
);
CREATE INDEX IF NOT EXISTS media_references_sha256 ON media_references (sha256);

CREATE TABLE IF NOT EXISTS media_deletions (
    sha256     text PRIMARY KEY,
    queued_at  timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION media_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH released AS (
        DELETE FROM media_references r
         WHERE r.interaction_id = OLD.interaction_id
           AND (TG_OP = 'DELETE' OR NOT coalesce(NEW.document -> 'attachments', '[]'::jsonb)
                @> jsonb_build_array(jsonb_build_object('media', jsonb_build_object('sha256', r.sha256))))
        RETURNING r.sha256
    )
    INSERT INTO media_deletions (sha256)
    SELECT DISTINCT x.sha256 FROM released x
     WHERE NOT EXISTS (SELECT 1 FROM media_references o
                        WHERE o.sha256 = x.sha256 AND o.interaction_id <> OLD.interaction_id)
    ON CONFLICT (sha256) DO NOTHING;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS interactions_media_deleted ON interactions;
CREATE TRIGGER interactions_media_deleted AFTER DELETE ON interactions
    FOR EACH ROW EXECUTE FUNCTION media_release();
-- Only updates that change the attachments (retention purges them) pay for the check.
DROP TRIGGER IF EXISTS interactions_media_updated ON interactions;
CREATE TRIGGER interactions_media_updated AFTER UPDATE OF document ON interactions
    FOR EACH ROW WHEN (OLD.document -> 'attachments' IS DISTINCT FROM NEW.document -> 'attachments')
    EXECUTE FUNCTION media_release();
