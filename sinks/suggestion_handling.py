"""Staff handling of suggestions (migration 0010): assignment to a colleague, and closing with
an outcome. Overlaid on the engine's state by ``sinks/suggestion_queries.py``.

Both writes are idempotent (the same assignee or the same outcome again changes nothing and
reports success) so a client that retries after a timeout gets the same answer.
"""

from __future__ import annotations

import uuid

from sinks.connection import Conn
from sinks.suggestion_queries import HandledSuggestion, as_handled


async def find(conn: Conn, suggestion_id: uuid.UUID) -> HandledSuggestion | None:
    """One suggestion as staff see it, filed under its surviving contact."""
    cur = await conn.execute(
        """
        SELECT coalesce(c.merged_into, s.contact_id), s.document,
               h.assignee, h.assigned_at, h.outcome, h.closed_at
          FROM suggestions s LEFT JOIN contacts c ON c.contact_id = s.contact_id
          LEFT JOIN suggestion_handling h USING (suggestion_id)
         WHERE s.suggestion_id = %s
        """,
        (suggestion_id,),
    )
    row = await cur.fetchone()
    return as_handled(*row) if row else None


async def assign(conn: Conn, suggestion_id: uuid.UUID, *, assignee: str, by: str) -> None:
    await conn.execute(
        """
        INSERT INTO suggestion_handling (suggestion_id, assignee, assigned_by, assigned_at)
        VALUES (%s, %s, %s, clock_timestamp())
        ON CONFLICT (suggestion_id) DO UPDATE SET
            assignee = excluded.assignee, assigned_by = excluded.assigned_by, assigned_at = excluded.assigned_at
        """,
        (suggestion_id, assignee, by),
    )


async def close(conn: Conn, suggestion_id: uuid.UUID, *, outcome: str, by: str) -> None:
    await conn.execute(
        """
        INSERT INTO suggestion_handling (suggestion_id, outcome, closed_by, closed_at)
        VALUES (%s, %s, %s, clock_timestamp())
        ON CONFLICT (suggestion_id) DO UPDATE SET
            outcome = excluded.outcome, closed_by = excluded.closed_by, closed_at = excluded.closed_at
        """,
        (suggestion_id, outcome, by),
    )
