"""Reads of suggestions for the API: one contact's, and every suggestion by status, newest first.

A merged-away contact id resolves to its survivor, whose suggestions include any still filed
under a contact merged into it (until the agent re-evaluates and moves them).

Staff handling (``suggestion_handling``, migrations 0010 and 0021) is overlaid on every read: the
assignee (a staff account, shown by its current name, or the text typed where there are no
accounts), and for a suggestion staff closed, status ``closed`` with their outcome.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.suggestion import Suggestion
from sinks.connection import Conn
from sinks.queries import decode_cursor, encode_cursor, resolve

StatusFilter = Literal["open", "closed", "all"]


class ContactRef(BaseModel):
    contact_id: uuid.UUID
    label: str = Field(description="The contact's name, else its first identifier as people write it.")


class HandledSuggestion(Suggestion):
    """A suggestion as staff see it: the engine's state with their handling on top."""

    assignee: str | None = Field(
        default=None, description="Who it is assigned to: the staff account's name, or the text typed without one."
    )
    assignee_id: str | None = Field(default=None, description="The staff account it is assigned to (its email).")
    other_contact: ContactRef | None = Field(
        default=None, description="For merge_review: the other contact of the possible duplicate pair."
    )
    assigned_at: datetime | None = None
    outcome: str | None = Field(default=None, description="What staff did, when they closed it.")


# What every read selects after the document, and the joins behind it (``s`` is ``suggestions``).
HANDLING_COLUMNS = "coalesce(st.name, h.assignee), h.assignee_id, h.assigned_at, h.outcome, h.closed_at"
_STAFF_JOIN = "LEFT JOIN staff st ON st.email = h.assignee_id"
HANDLING_JOINS = f"LEFT JOIN suggestion_handling h ON h.suggestion_id = s.suggestion_id {_STAFF_JOIN}"


@dataclass(frozen=True)
class SuggestionPage:
    items: list[HandledSuggestion]
    next_cursor: str | None


def as_handled(survivor: uuid.UUID, document: dict[str, Any], *handling: Any) -> HandledSuggestion:
    """``handling``: :data:`HANDLING_COLUMNS`; the reads filter on the same effective status."""
    assignee, assignee_id, assigned_at, outcome, closed_at = handling
    overlay: dict[str, Any] = {
        "assignee": assignee,
        "assignee_id": assignee_id,
        "assigned_at": assigned_at,
        "outcome": outcome,
    }
    if closed_at is not None and document.get("status") == "open":
        overlay.update(status="closed", closed_at=closed_at, close_reason=f"closed by staff: {outcome}")
    return HandledSuggestion.model_validate({**document, "contact_id": str(survivor), **overlay})


async def for_contact(conn: Conn, contact_id: uuid.UUID, status: StatusFilter) -> list[HandledSuggestion] | None:
    """None when the contact does not exist."""
    survivor = await resolve(conn, contact_id)
    if survivor is None:
        return None
    cur = await conn.execute(
        f"""
        SELECT s.document, {HANDLING_COLUMNS}
          FROM suggestions s {HANDLING_JOINS}
         WHERE s.contact_id IN (SELECT contact_id FROM contacts c WHERE person_includes(c, %s))
           AND (%s = 'all' OR CASE WHEN h.closed_at IS NOT NULL THEN 'closed' ELSE s.status END = %s)
         ORDER BY s.opened_at DESC, s.suggestion_id DESC
        """,  # noqa: S608 (constant fragments)
        (survivor, status, status),
    )
    return [as_handled(survivor, *row) for row in await cur.fetchall()]


async def page(conn: Conn, status: StatusFilter, *, rule: str | None, limit: int, cursor: str | None) -> SuggestionPage:
    """Raises InvalidPayload for a cursor this API did not hand out."""
    after = decode_cursor(cursor) if cursor else None
    cur = await conn.execute(
        f"""
        SELECT s.opened_at, s.suggestion_id, s.document, coalesce(c.merged_into, s.contact_id), {HANDLING_COLUMNS}
          FROM suggestions s LEFT JOIN contacts c ON c.contact_id = s.contact_id {HANDLING_JOINS}
         WHERE (%s = 'all' OR CASE WHEN h.closed_at IS NOT NULL THEN 'closed' ELSE s.status END = %s)
           AND (%s::text IS NULL OR s.rule = %s)
           AND (%s::timestamptz IS NULL OR (s.opened_at, s.suggestion_id) < (%s::timestamptz, %s::uuid))
         ORDER BY s.opened_at DESC, s.suggestion_id DESC
         LIMIT %s
        """,  # noqa: S608 (constant fragments)
        (status, status, rule, rule, after and after[0], after and after[0], after and after[1], limit + 1),
    )
    rows = await cur.fetchall()
    items = [as_handled(survivor, document, *handling) for _, _, document, survivor, *handling in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1][0], rows[limit - 1][1]) if len(rows) > limit else None
    return SuggestionPage(items, next_cursor)


@dataclass(frozen=True)
class Party:
    """A contact as a suggestion names it: its name, else its first identifier (kind, value)."""

    contact_id: uuid.UUID
    display_name: str | None
    identifier: tuple[str, str] | None


@dataclass(frozen=True)
class Parties:
    contacts: dict[uuid.UUID, Party]
    """The contacts asked for, by id (those that exist)."""
    other_sides: dict[uuid.UUID, Party]
    """By suggestion id: the other contact of a merge_review suggestion whose review still names two contacts."""


async def parties(conn: Conn, contact_ids: list[uuid.UUID], items: list[HandledSuggestion]) -> Parties:
    """Contacts with their name and first identifier (their own or a merged-in contact's): ``contact_ids``, and
    the other side of each possible duplicate among ``items`` (both sides resolved to survivors), in one read."""
    reviewed = [s for s in items if s.review_id is not None]
    if not contact_ids and not reviewed:
        return Parties({}, {})
    cur = await conn.execute(
        """
        WITH pairs AS (
            SELECT q.suggestion_id, q.contact_id AS own,
                   coalesce(a.merged_into, a.contact_id) AS a, coalesce(b.merged_into, b.contact_id) AS b
              FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[]) AS q(suggestion_id, contact_id, review_id)
              JOIN identity_reviews r ON r.review_id = q.review_id
              JOIN contacts a ON a.contact_id = r.contact_a
              JOIN contacts b ON b.contact_id = r.contact_b
        ),
        wanted AS (
            SELECT NULL::uuid AS suggestion_id, asked.contact_id FROM unnest(%s::uuid[]) AS asked(contact_id)
             UNION ALL
            SELECT suggestion_id, CASE WHEN own = a THEN b ELSE a END FROM pairs WHERE a <> b AND own IN (a, b)
        ),
        named AS (
            SELECT c.contact_id, c.display_name, first.kind, first.value
              FROM contacts c
              LEFT JOIN LATERAL (
                  SELECT ci.kind, ci.value FROM contact_identifiers ci JOIN contacts m ON m.contact_id = ci.contact_id
                   WHERE person_includes(m, c.contact_id)
                   ORDER BY ci.created_at, ci.kind, ci.value LIMIT 1
              ) first ON true
             WHERE c.contact_id IN (SELECT contact_id FROM wanted)
        )
        SELECT w.suggestion_id, n.contact_id, n.display_name, n.kind, n.value
          FROM wanted w JOIN named n USING (contact_id)
        """,
        (
            [s.suggestion_id for s in reviewed],
            [s.contact_id for s in reviewed],
            [s.review_id for s in reviewed],
            sorted(set(contact_ids)),
        ),
    )
    found = Parties({}, {})
    for suggestion_id, contact_id, name, kind, value in await cur.fetchall():
        party = Party(contact_id, name, (kind, value) if kind is not None else None)
        if suggestion_id is None:
            found.contacts[contact_id] = party
        else:
            found.other_sides[suggestion_id] = party
    return found
