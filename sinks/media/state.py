"""An attachment's media state on its interaction, published as ``interaction.updated``.

The row's document gets ``attachments[i].media`` (only if it has none yet: a redelivered record,
or two media processes, change nothing twice), and the changed interaction, whole, goes to the
timeline topic through the outbox in the same transaction, to the live contact its row belongs to.
An ``interaction.updated`` whose interaction has no ``status`` is the interaction itself: replace
your copy.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from schemas import topics
from schemas.ids import event_id_for
from schemas.interaction import Interaction, Media
from schemas.timeline import TimelineEvent, TimelineEventType
from sinks import outbox
from sinks.connection import Conn


async def load(conn: Conn, interaction_id: uuid.UUID) -> Interaction | None:
    """The interaction as stored now (None: not stored, or erased since)."""
    cur = await conn.execute("SELECT document FROM interactions WHERE interaction_id = %s", (interaction_id,))
    row = await cur.fetchone()
    return Interaction.model_validate(row[0]) if row else None


async def record(conn: Conn, interaction_id: uuid.UUID, index: int, media: Media) -> bool:
    """Set attachment ``index``'s media state and append its event; False if it already had one (or is gone)."""
    cur = await conn.execute(
        """
        UPDATE interactions i
           SET document = jsonb_set(i.document, ARRAY['attachments', %s::text, 'media'], %s::jsonb)
          FROM contacts c
         WHERE i.interaction_id = %s AND c.contact_id = i.contact_id
           AND jsonb_typeof(i.document #> ARRAY['attachments', %s::text]) = 'object'
           AND coalesce(jsonb_typeof(i.document #> ARRAY['attachments', %s::text, 'media']), 'null') = 'null'
        RETURNING coalesce(c.merged_into, c.contact_id), i.document
        """,
        (index, media.model_dump_json(), interaction_id, index, index),
    )
    row = await cur.fetchone()
    if row is None:
        if media.sha256 is not None:  # erased or purged while it was fetched: the file may belong to nobody
            await conn.execute(
                "INSERT INTO media_deletions (sha256) VALUES (%s) ON CONFLICT DO NOTHING", (media.sha256,)
            )
        return False
    contact_id, document = row
    interaction = Interaction.model_validate(document)
    if media.sha256 is not None:
        # The file is this interaction's now; a deletion queued since (the last one referencing it erased)
        # is called off.
        await conn.execute(
            "INSERT INTO media_references (interaction_id, sha256) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (interaction_id, media.sha256),
        )
        await conn.execute("DELETE FROM media_deletions WHERE sha256 = %s", (media.sha256,))
    kind = TimelineEventType.interaction_updated
    event = TimelineEvent(
        # One event per attachment: its id names the attachment, so consumers dropping copies keep each.
        event_id=event_id_for(kind.value, str(interaction_id), "media", str(index)),
        type=kind,
        contact_id=contact_id,
        occurred_at=datetime.now(UTC),
        interaction=interaction,
    )
    await outbox.append(conn, [(topics.TIMELINE, str(contact_id).encode(), event.model_dump_json().encode())])
    return True


async def forget_failures(conn: Conn, interaction_ids: list[uuid.UUID]) -> int:
    """Clear the ``failed`` media states of these interactions (dead-letter replay after a fix), so the media
    stage tries those attachments again; stored ones stay. Returns how many interactions changed."""
    cur = await conn.execute(
        """
        UPDATE interactions SET document = jsonb_set(document, '{attachments}', (
                 SELECT jsonb_agg(CASE WHEN a #>> '{media,state}' = 'failed' THEN a - 'media' ELSE a END ORDER BY n)
                   FROM jsonb_array_elements(document -> 'attachments') WITH ORDINALITY AS x(a, n)))
         WHERE interaction_id = ANY(%s) AND document -> 'attachments' @> '[{"media": {"state": "failed"}}]'
        """,
        (interaction_ids,),
    )
    return cur.rowcount


async def referenced(conn: Conn, sha256: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM media_references WHERE sha256 = %s LIMIT 1", (sha256,))
    return await cur.fetchone() is not None
