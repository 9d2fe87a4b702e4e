"""Reads of suggestions for the API: one contact's, and every suggestion by status, newest first.

A merged-away contact id resolves to its survivor, whose suggestions include any still filed
under a contact merged into it (until the agent re-evaluates and moves them).

Staff handling (``suggestion_handling``, migration 0010) is overlaid on every read: the
assignee, and for a suggestion staff closed, status ``closed`` with their outcome.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from schemas.suggestion import Suggestion
from sinks.connection import Conn
from sinks.queries import decode_cursor, encode_cursor, resolve

StatusFilter = Literal["open", "closed", "all"]


class HandledSuggestion(Suggestion):
    """A suggestion as staff see it: the engine's state with their handling on top."""

    assignee: str | None = Field(default=None, description="The colleague it is assigned to.")
    assigned_at: datetime | None = None
    outcome: str | None = Field(default=None, description="What staff did, when they closed it.")


@dataclass(frozen=True)
class SuggestionPage:
    items: list[HandledSuggestion]
    next_cursor: str | None


def as_handled(survivor: uuid.UUID, document: dict[str, Any], *handling: Any) -> HandledSuggestion:
    """``handling``: the columns every read selects after the document (assignee, assigned_at,
    outcome, closed_at); the reads filter on the same effective status."""
    assignee, assigned_at, outcome, closed_at = handling
    overlay: dict[str, Any] = {"assignee": assignee, "assigned_at": assigned_at, "outcome": outcome}
    if closed_at is not None and document.get("status") == "open":
        overlay.update(status="closed", closed_at=closed_at, close_reason=f"closed by staff: {outcome}")
    return HandledSuggestion.model_validate({**document, "contact_id": str(survivor), **overlay})


async def for_contact(conn: Conn, contact_id: uuid.UUID, status: StatusFilter) -> list[HandledSuggestion] | None:
    """None when the contact does not exist."""
    survivor = await resolve(conn, contact_id)
    if survivor is None:
        return None
    cur = await conn.execute(
        """
        SELECT s.document, h.assignee, h.assigned_at, h.outcome, h.closed_at
          FROM suggestions s LEFT JOIN suggestion_handling h USING (suggestion_id)
         WHERE s.contact_id IN (SELECT contact_id FROM contacts WHERE contact_id = %s OR merged_into = %s)
           AND (%s = 'all' OR CASE WHEN h.closed_at IS NOT NULL THEN 'closed' ELSE s.status END = %s)
         ORDER BY s.opened_at DESC, s.suggestion_id DESC
        """,
        (survivor, survivor, status, status),
    )
    return [as_handled(survivor, *row) for row in await cur.fetchall()]


async def page(conn: Conn, status: StatusFilter, *, rule: str | None, limit: int, cursor: str | None) -> SuggestionPage:
    """Raises InvalidPayload for a cursor this API did not hand out."""
    after = decode_cursor(cursor) if cursor else None
    cur = await conn.execute(
        """
        SELECT s.opened_at, s.suggestion_id, s.document, coalesce(c.merged_into, s.contact_id),
               h.assignee, h.assigned_at, h.outcome, h.closed_at
          FROM suggestions s LEFT JOIN contacts c ON c.contact_id = s.contact_id
          LEFT JOIN suggestion_handling h USING (suggestion_id)
         WHERE (%s = 'all' OR CASE WHEN h.closed_at IS NOT NULL THEN 'closed' ELSE s.status END = %s)
           AND (%s::text IS NULL OR s.rule = %s)
           AND (%s::timestamptz IS NULL OR (s.opened_at, s.suggestion_id) < (%s::timestamptz, %s::uuid))
         ORDER BY s.opened_at DESC, s.suggestion_id DESC
         LIMIT %s
        """,
        (status, status, rule, rule, after and after[0], after and after[0], after and after[1], limit + 1),
    )
    rows = await cur.fetchall()
    items = [as_handled(survivor, document, *handling) for _, _, document, survivor, *handling in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1][0], rows[limit - 1][1]) if len(rows) > limit else None
    return SuggestionPage(items, next_cursor)
