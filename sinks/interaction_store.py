"""Timeline rows: one per interaction id, inserted idempotently in one round trip per batch."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection

from schemas.interaction import Interaction

Conn = AsyncConnection[tuple[Any, ...]]


async def insert(conn: Conn, rows: list[tuple[uuid.UUID, Interaction, str]]) -> set[uuid.UUID]:
    """Insert (contact id, interaction, its JSON); return the ids that were new.

    ``ON CONFLICT DO NOTHING`` on the primary key is what makes any replay harmless.
    """
    if not rows:
        return set()
    rows = sorted(rows, key=lambda r: r[1].interaction_id)  # a stable lock order across workers
    cur = await conn.execute(
        """
        INSERT INTO interactions (interaction_id, contact_id, channel, direction, kind,
                                  occurred_at, received_at, thread_key, document)
        SELECT i, c, ch, d, k, o, r, t, doc::jsonb
          FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[],
                      %s::timestamptz[], %s::timestamptz[], %s::text[], %s::text[])
               AS x(i, c, ch, d, k, o, r, t, doc)
        ON CONFLICT (interaction_id) DO NOTHING
        RETURNING interaction_id
        """,
        (
            [r[1].interaction_id for r in rows],
            [r[0] for r in rows],
            [r[1].channel.value for r in rows],
            [r[1].direction.value for r in rows],
            [r[1].kind.value for r in rows],
            [r[1].occurred_at for r in rows],
            [r[1].received_at for r in rows],
            [r[1].thread_key for r in rows],
            [r[2] for r in rows],
        ),
    )
    return {row[0] for row in await cur.fetchall()}


async def attach(conn: Conn, rows: list[tuple[uuid.UUID, uuid.UUID, Interaction]]) -> None:
    """Attach (interaction id, contact id) pairs: every customer party's contact sees the interaction."""
    if not rows:
        return
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    await conn.execute(
        """
        INSERT INTO interaction_contacts (interaction_id, contact_id, occurred_at)
        SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::timestamptz[])
        ON CONFLICT DO NOTHING
        """,
        ([r[0] for r in rows], [r[1] for r in rows], [r[2].occurred_at for r in rows]),
    )
