"""Reads for the console and API: contact search, one contact, a timeline page.

A contact that was merged away resolves to its survivor, and a survivor's timeline includes
the interactions attached to every contact merged into it (:mod:`sinks.person`); an interaction
attached to several of them appears once.
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
from sinks import person
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
    """A page of the survivor's timeline: the rows that name one of its contacts as first customer, and
    those linked to one as another customer (``interaction_contacts``).

    Each contact of the component is read through two ordered index scans, each stopped after a page
    (the row's own timeline index, and the links' index), and the page is the first of their union: no
    scan reads more than a page however long the timeline is. A database written before migration 0015
    also holds a link for the first customer; the union reads that interaction once.
    """
    survivor = await resolve(conn, contact_id)
    if survivor is None:
        return None
    after = decode_cursor(cursor) if cursor else None
    op, direction = (">", "ASC") if order == "asc" else ("<", "DESC")
    # Only fixed fragments are put together here (op/direction from the two literals above); values are parameters.
    params: dict[str, Any] = {"n": limit + 1}
    filters = ""
    if where.channels:
        filters += " AND i.channel = ANY(%(channels)s)"
        params["channels"] = list(where.channels)
    if where.direction is not None:
        filters += " AND i.direction = %(direction)s"
        params["direction"] = where.direction
    if where.text is not None:
        filters += " AND i.search @@ websearch_to_tsquery('simple', omnitrail_unaccent(%(text)s))"
        params["text"] = where.text
    if after is not None:
        params.update(at=after[0], id=after[1])

    def page_of(key: str) -> str:
        """The cursor, the filters and the page's order over the ordering columns of ``key``."""
        since = f" AND ({key}.occurred_at, {key}.interaction_id) {op} (%(at)s, %(id)s)" if after else ""
        return f"{since}{filters} ORDER BY {key}.occurred_at {direction}, {key}.interaction_id {direction} LIMIT %(n)s"

    members = await person.contacts(conn, survivor)
    branches = []
    for n, member in enumerate(members):  # the row's own contact, then the links: both forms, each read once
        params[f"c{n}"] = member
        rows_of, links_of = f"i.contact_id = %(c{n})s{page_of('i')}", f"k.contact_id = %(c{n})s{page_of('k')}"
        branches.append(f"(SELECT i.occurred_at, i.interaction_id FROM interactions i WHERE {rows_of})")  # noqa: S608
        branches.append(
            "(SELECT k.occurred_at, k.interaction_id FROM interaction_contacts k"  # noqa: S608
            f" JOIN interactions i ON i.interaction_id = k.interaction_id WHERE {links_of})"
        )
    hits = " UNION ".join(branches)
    query = f"""
        SELECT i.occurred_at, i.interaction_id, i.document, i.delivery_status
          FROM ({hits} ORDER BY 1 {direction}, 2 {direction} LIMIT %(n)s) k
          JOIN interactions i ON i.interaction_id = k.interaction_id
         ORDER BY i.occurred_at {direction}, i.interaction_id {direction}
    """  # noqa: S608
    # Never a generic plan: each contact is a literal to the planner, so a long timeline is read in index order
    # and stopped after a page, a short one however is cheapest (with a generic plan, every contact looked like
    # the average one, and the longest timelines were sorted whole: 90 ms instead of 1).
    cur = await conn.execute(query.encode(), params, prepare=False)
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
