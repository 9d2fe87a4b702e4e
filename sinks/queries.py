"""Reads for the console and API: contact search, one contact, a timeline page.

A contact that was merged away resolves to its survivor, and a survivor's timeline includes
the interactions attached to every contact merged into it (one hop: ``merged_into`` always
names the survivor); an interaction attached to several of them appears once.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from schemas.contact import Contact
from schemas.errors import InvalidPayload
from sinks.connection import Conn
from sinks.contact_store import snapshots

Order = Literal["desc", "asc"]


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(occurred_at: datetime, interaction_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([occurred_at.isoformat(), str(interaction_id)])).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, iid = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), uuid.UUID(iid)
    except (ValueError, TypeError) as exc:
        raise InvalidPayload("cursor is not valid") from exc


async def resolve(conn: Conn, contact_id: uuid.UUID) -> uuid.UUID | None:
    """The live contact ``contact_id`` is (itself, or the survivor it was merged into); None if unknown."""
    cur = await conn.execute(
        "SELECT coalesce(merged_into, contact_id) FROM contacts WHERE contact_id = %s", (contact_id,)
    )
    row = await cur.fetchone()
    return row[0] if row else None


async def get_contact(conn: Conn, contact_id: uuid.UUID) -> Contact | None:
    survivor = await resolve(conn, contact_id)
    if survivor is None:
        return None
    found = await snapshots(conn, [survivor])
    return found[0] if found else None


async def search_contacts(conn: Conn, *, keys: list[str], name: str | None, limit: int) -> list[Contact]:
    """Exact match on any normalized identifier key, or a case-insensitive name substring."""
    kinds = [k.partition(":")[0] for k in keys]
    values = [k.partition(":")[2] for k in keys]
    pattern = None
    if name:
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    cur = await conn.execute(
        """
        SELECT DISTINCT coalesce(c.merged_into, c.contact_id) AS id
          FROM contacts c
         WHERE c.contact_id IN (
                 SELECT ci.contact_id FROM contact_identifiers ci
                   JOIN unnest(%b::text[], %b::text[]) AS k(kind, value)
                     ON ci.kind = k.kind AND ci.value = k.value)
            OR (%s::text IS NOT NULL AND c.display_name ILIKE %s)
         LIMIT %s
        """,
        (kinds, values, pattern, pattern, limit),
    )
    ids = [row[0] for row in await cur.fetchall()]
    return sorted(await snapshots(conn, ids), key=lambda c: (c.display_name or "", str(c.contact_id)))


@dataclass(frozen=True)
class TimelineFilter:
    """Narrow a timeline: any of these channels, one direction, words of the subject or text.

    ``text`` is matched by full-text search over the unaccented words (migration 0010), so
    "nao" finds "não" and the other way round; web-search syntax ("quoted phrase", -word, or).
    """

    channels: tuple[str, ...] = ()
    direction: str | None = None
    text: str | None = None


async def timeline(
    conn: Conn,
    contact_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    order: Order,
    where: TimelineFilter = TimelineFilter(),  # frozen, so sharing the default is safe
) -> Page | None:
    survivor = await resolve(conn, contact_id)
    if survivor is None:
        return None
    after = decode_cursor(cursor) if cursor else None
    op, direction = (">", "ASC") if order == "asc" else ("<", "DESC")
    # op/direction come from the two literals above, never from input.
    query = f"""
        SELECT i.occurred_at, i.interaction_id, i.document, i.delivery_status
          FROM interactions i
         WHERE i.interaction_id IN (
                 SELECT ic.interaction_id FROM interaction_contacts ic
                  WHERE ic.contact_id IN (SELECT contact_id FROM contacts WHERE contact_id = %s OR merged_into = %s))
           AND (%s::timestamptz IS NULL OR (i.occurred_at, i.interaction_id) {op} (%s::timestamptz, %s::uuid))
           AND (cardinality(%b::text[]) = 0 OR i.channel = ANY(%b::text[]))
           AND (%s::text IS NULL OR i.direction = %s)
           AND (%s::text IS NULL OR i.search @@ websearch_to_tsquery('simple', omnitrail_unaccent(%s)))
         ORDER BY i.occurred_at {direction}, i.interaction_id {direction}
         LIMIT %s
    """  # noqa: S608
    cur = await conn.execute(
        query.encode(),
        (
            survivor,
            survivor,
            after and after[0],
            after and after[0],
            after and after[1],
            list(where.channels),
            list(where.channels),
            where.direction,
            where.direction,
            where.text,
            where.text,
            limit + 1,
        ),
    )
    rows = await cur.fetchall()
    items = []
    for _, _, document, delivery_status in rows[:limit]:
        item = dict(document)
        item["contact_id"] = str(survivor)
        item["delivery_status"] = delivery_status
        items.append(item)
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last[0], last[1])
    return Page(items, next_cursor)


async def interaction(conn: Conn, interaction_id: uuid.UUID) -> tuple[uuid.UUID, dict[str, Any]] | None:
    """One stored interaction and the contact (survivor) whose timeline holds it."""
    cur = await conn.execute(
        """
        SELECT coalesce(c.merged_into, c.contact_id), i.document
          FROM interactions i JOIN contacts c ON c.contact_id = i.contact_id
         WHERE i.interaction_id = %s
        """,
        (interaction_id,),
    )
    row = await cur.fetchone()
    return (row[0], dict(row[1])) if row else None
