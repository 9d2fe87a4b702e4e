"""Retention: interaction content older than its channel's maximum age is purged.

What is purged is the content (:data:`schemas.interaction_fields.CONTENT`: subject, text, html, quoted
text, attachment metadata, location, contact cards, channel metadata); the row stays with its ids,
channel, direction, times, parties and threading, so counts and "when did we last talk" still work and
a replay of the same interaction (same id) cannot re-insert the content. Runs in slices
so a first purge of a large table does not hold long locks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.interaction_fields import CONTENT as _CONTENT
from sinks.connection import Conn

CONTENT = list(_CONTENT)
_SLICE = 5000


async def purge(conn: Conn, max_age: dict[str, timedelta], *, now: datetime, dry_run: bool = False) -> dict[str, int]:
    """Purge per channel; return how many interactions had content purged (or would have)."""
    purged: dict[str, int] = {}
    for channel, age in sorted(max_age.items()):
        cutoff = now - age
        if dry_run:
            cur = await conn.execute(
                "SELECT count(*) FROM interactions WHERE channel = %s AND occurred_at < %s AND document ?| %s",
                (channel, cutoff, CONTENT),
            )
            row = await cur.fetchone()
            purged[channel] = int(row[0]) if row else 0
            continue
        total = 0
        while True:
            cur = await conn.execute(
                """
                UPDATE interactions SET document = document - %b::text[]
                 WHERE interaction_id IN (
                       SELECT interaction_id FROM interactions
                        WHERE channel = %s AND occurred_at < %s AND document ?| %b::text[]
                        LIMIT %s FOR UPDATE SKIP LOCKED)
                """,
                (CONTENT, channel, cutoff, CONTENT, _SLICE),
            )
            total += cur.rowcount
            if cur.rowcount < _SLICE:
                break
        purged[channel] = total
    return purged
