"""Files no interaction references any more leave the object store.

Whatever removes content (an erasure deletes a person's interactions, a retention purge takes
their attachments) queues the files it leaves unreferenced in ``media_deletions``, in its own
transaction (a trigger, migration 0018). :func:`sweep` deletes them from the store: each queued
file is locked while it is deleted, and one referenced again since (the same bytes sent by
someone else) is kept. The media stage sweeps every few seconds; ``omnitrail gdpr erase``, ``purge``
and the console's erasure sweep right after they commit. Until a file is swept the console serves it
to nobody: :func:`referenced` is asked first.
"""

from __future__ import annotations

from sinks.connection import Conn, ConnectionFactory
from sinks.media.store import MediaStore

_BATCH = 500


async def referenced(conn: Conn, sha256: str) -> bool:
    """Whether an interaction still holds the file: one erased or purged is nobody's, swept or not yet."""
    cur = await conn.execute("SELECT EXISTS (SELECT 1 FROM media_references WHERE sha256 = %s)", (sha256,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def sweep(connection: ConnectionFactory, store: MediaStore) -> int:
    """Delete the queued files; return how many left the store."""
    total = 0
    while True:
        async with connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT sha256 FROM media_deletions ORDER BY queued_at LIMIT %s FOR UPDATE SKIP LOCKED", (_BATCH,)
            )
            queued = [row[0] for row in await cur.fetchall()]
            if not queued:
                return total
            cur = await conn.execute("SELECT DISTINCT sha256 FROM media_references WHERE sha256 = ANY(%s)", (queued,))
            kept = {row[0] for row in await cur.fetchall()}
            gone = [sha256 for sha256 in queued if sha256 not in kept]
            await store.delete(gone)
            await conn.execute("DELETE FROM media_deletions WHERE sha256 = ANY(%s)", (queued,))
            total += len(gone)
        if len(queued) < _BATCH:
            return total
