"""Contact rows and identity links in PostgreSQL, written in the caller's transaction.

Every write is safe against other workers doing the same at the same moment: the
primary key on (kind, value) decides who owns an identifier, inserts are sorted so two
transactions lock in the same order, and merges lock the contacts they touch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from psycopg import AsyncConnection

from schemas.contact import Contact
from schemas.identifiers import Identifier

Conn = AsyncConnection[tuple[Any, ...]]


@dataclass(frozen=True)
class OwnerRow:
    key: str
    contact_id: uuid.UUID
    created_at: datetime


def split_keys(keys: Iterable[str]) -> tuple[list[str], list[str]]:
    kinds, values = [], []
    for key in keys:
        kind, _, value = key.partition(":")
        kinds.append(kind)
        values.append(value)
    return kinds, values


async def owners(conn: Conn, keys: Iterable[str]) -> list[OwnerRow]:
    """Current owner (the surviving contact, one hop through ``merged_into``) of each identifier."""
    kinds, values = split_keys(sorted(set(keys)))
    cur = await conn.execute(
        """
        SELECT ci.kind || ':' || ci.value, s.contact_id, s.created_at
          FROM unnest(%s::text[], %s::text[]) AS k(kind, value)
          JOIN contact_identifiers ci ON ci.kind = k.kind AND ci.value = k.value
          JOIN contacts c ON c.contact_id = ci.contact_id
          JOIN contacts s ON s.contact_id = coalesce(c.merged_into, c.contact_id)
        """,
        (kinds, values),
    )
    return [OwnerRow(str(k), cid, at) for k, cid, at in await cur.fetchall()]


async def create_contacts(conn: Conn, contacts: list[tuple[uuid.UUID, str | None]]) -> set[uuid.UUID]:
    """Insert new contacts (id, display name); return the ids this transaction created."""
    if not contacts:
        return set()
    ordered = sorted(contacts, key=lambda c: c[0])
    cur = await conn.execute(
        """
        INSERT INTO contacts (contact_id, display_name)
        SELECT * FROM unnest(%s::uuid[], %s::text[])
        ON CONFLICT (contact_id) DO NOTHING
        RETURNING contact_id
        """,
        ([c[0] for c in ordered], [c[1] for c in ordered]),
    )
    return {row[0] for row in await cur.fetchall()}


async def link(conn: Conn, links: list[tuple[Identifier, uuid.UUID]], *, rule: str, source: str) -> None:
    """Link identifiers to contacts unless someone already owns them (then the caller re-reads owners)."""
    if not links:
        return
    ordered = sorted(links, key=lambda item: item[0].key)
    await conn.execute(
        """
        INSERT INTO contact_identifiers (kind, value, contact_id, rule, source)
        SELECT k, v, c, %s, %s FROM unnest(%s::text[], %s::text[], %s::uuid[]) AS t(k, v, c)
        ON CONFLICT (kind, value) DO NOTHING
        """,
        (rule, source, [i.kind.value for i, _ in ordered], [i.value for i, _ in ordered], [c for _, c in ordered]),
    )


async def name_if_unnamed(conn: Conn, names: dict[uuid.UUID, str]) -> None:
    if not names:
        return
    ids = sorted(names)
    await conn.execute(
        """
        UPDATE contacts c SET display_name = n.name, updated_at = clock_timestamp()
          FROM unnest(%s::uuid[], %s::text[]) AS n(id, name)
         WHERE c.contact_id = n.id AND c.display_name IS NULL
        """,
        (ids, [names[i] for i in ids]),
    )


async def merge(conn: Conn, survivor: uuid.UUID, losers: list[uuid.UUID], *, cause: str) -> list[uuid.UUID]:
    """Merge ``losers`` into ``survivor``: identifiers move, rows point one hop at the survivor.

    Returns the losers actually merged (a loser already merged elsewhere is skipped).
    Interactions keep their ``contact_id``; reads resolve ``merged_into`` in one hop, which
    is what keeps a merge cheap, concurrent-safe and reversible.
    """
    ids = sorted({survivor, *losers})
    cur = await conn.execute(
        "SELECT contact_id, merged_into FROM contacts WHERE contact_id = ANY(%s) ORDER BY contact_id FOR UPDATE",
        (ids,),
    )
    state = {row[0]: row[1] for row in await cur.fetchall()}
    if state.get(survivor) is not None:
        return []  # the survivor itself was merged meanwhile; the caller retries with fresh owners
    merged = []
    for loser in losers:
        if loser == survivor or loser not in state or state[loser] is not None:
            continue
        cur = await conn.execute(
            "UPDATE contact_identifiers SET contact_id = %s WHERE contact_id = %s RETURNING kind, value",
            (survivor, loser),
        )
        moved = [{"kind": k, "value": v} for k, v in await cur.fetchall()]
        await conn.execute(
            "UPDATE contacts SET merged_into = %s, updated_at = clock_timestamp()"
            " WHERE contact_id = %s OR merged_into = %s",
            (survivor, loser, loser),
        )
        await conn.execute(
            "INSERT INTO contact_merges (merge_id, survivor_id, merged_id, cause, moved_identifiers)"
            " VALUES (%s, %s, %s, %s, %s::jsonb)",
            (uuid.uuid4(), survivor, loser, cause, orjson.dumps(moved).decode()),
        )
        merged.append(loser)
    return merged


async def snapshots(conn: Conn, contact_ids: Iterable[uuid.UUID]) -> list[Contact]:
    ids = sorted(set(contact_ids))
    if not ids:
        return []
    cur = await conn.execute(
        """
        SELECT c.contact_id, c.display_name, c.created_at, c.updated_at, c.merged_into,
               coalesce(array_agg(ci.kind ORDER BY ci.kind, ci.value) FILTER (WHERE ci.kind IS NOT NULL), '{}'),
               coalesce(array_agg(ci.value ORDER BY ci.kind, ci.value) FILTER (WHERE ci.kind IS NOT NULL), '{}')
          FROM contacts c
          LEFT JOIN contact_identifiers ci ON ci.contact_id = c.contact_id
         WHERE c.contact_id = ANY(%s)
         GROUP BY c.contact_id
        """,
        (ids,),
    )
    return [
        Contact(
            contact_id=cid,
            display_name=name,
            created_at=created,
            updated_at=updated,
            merged_into=merged_into,
            identifiers=[Identifier.model_construct(kind=k, value=v) for k, v in zip(kinds, values, strict=True)],
        )
        for cid, name, created, updated, merged_into, kinds, values in await cur.fetchall()
    ]
