"""Staff handling of suggestions (migration 0010): assignment to a colleague, and closing with
an outcome. Overlaid on the engine's state by ``sinks/suggestion_queries.py``.

Both writes are idempotent (the same assignee or the same outcome again changes nothing and
reports success) so a client that retries after a timeout gets the same answer. Both take every
suggestion of one item: a merge review has a suggestion on each of its two contacts, and what staff
do to it from either side holds for both (:func:`item`).
"""

from __future__ import annotations

import uuid

from schemas.suggestion import SuggestionRule, suggestion_id_for
from sinks.connection import Conn
from sinks.suggestion_queries import HANDLING_COLUMNS, HANDLING_JOINS, HandledSuggestion, as_handled


async def find(conn: Conn, suggestion_id: uuid.UUID) -> HandledSuggestion | None:
    """One suggestion as staff see it, filed under its surviving contact."""
    cur = await conn.execute(
        f"""
        SELECT coalesce(c.merged_into, s.contact_id), s.document, {HANDLING_COLUMNS}
          FROM suggestions s LEFT JOIN contacts c ON c.contact_id = s.contact_id {HANDLING_JOINS}
         WHERE s.suggestion_id = %s
        """,  # noqa: S608 (constant fragments)
        (suggestion_id,),
    )
    row = await cur.fetchone()
    return as_handled(*row) if row else None


def item(found: HandledSuggestion) -> list[uuid.UUID]:
    """The suggestions that are one item for staff: both sides of a merge review, else the suggestion alone."""
    if found.rule is SuggestionRule.merge_review and found.review_id is not None:
        return sorted(suggestion_id_for(SuggestionRule.merge_review, found.review_id, side) for side in "ab")
    return [found.suggestion_id]


async def assign(
    conn: Conn, suggestion_ids: list[uuid.UUID], *, assignee: str, assignee_id: str | None, by: str
) -> None:
    """``assignee_id``: the staff account (``assignee`` its name then), None for free text."""
    await conn.execute(
        """
        INSERT INTO suggestion_handling (suggestion_id, assignee, assignee_id, assigned_by, assigned_at)
        SELECT suggestion_id, %s, %s, %s, clock_timestamp() FROM suggestions WHERE suggestion_id = ANY(%s)
        ON CONFLICT (suggestion_id) DO UPDATE SET
            assignee = excluded.assignee, assignee_id = excluded.assignee_id,
            assigned_by = excluded.assigned_by, assigned_at = excluded.assigned_at
        """,
        (assignee, assignee_id, by, suggestion_ids),
    )


async def close(conn: Conn, suggestion_ids: list[uuid.UUID], *, outcome: str, by: str) -> None:
    await conn.execute(
        """
        INSERT INTO suggestion_handling (suggestion_id, outcome, closed_by, closed_at)
        SELECT suggestion_id, %s, %s, clock_timestamp() FROM suggestions WHERE suggestion_id = ANY(%s)
        ON CONFLICT (suggestion_id) DO UPDATE SET
            outcome = excluded.outcome, closed_by = excluded.closed_by, closed_at = excluded.closed_at
        """,
        (outcome, by, suggestion_ids),
    )
