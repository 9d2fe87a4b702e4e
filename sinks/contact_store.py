"""Contact rows and identity links in PostgreSQL, written in the caller's transaction.

An identifier row links it to its *home* contact and never moves (merges are contact links,
see :mod:`sinks.merges`). Every write is safe against other workers doing the same at the
same moment: the primary key on (kind, value) decides who owns an identifier, and inserts
are sorted so two transactions lock in the same order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

import orjson

from schemas.contact import Contact
from schemas.identifiers import Identifier, IdentifierKind
from sinks.connection import Conn


class OwnerRow(NamedTuple):  # a tuple, as psycopg reads it: one per identifier of every batch
    key: str
    home: uuid.UUID
    survivor: uuid.UUID
    created_at: datetime
    shared: bool
    touched: int


def split_keys(keys: Iterable[str]) -> tuple[list[str], list[str]]:
    kinds, values = [], []
    for key in keys:
        kind, _, value = key.partition(":")
        kinds.append(kind)
        values.append(value)
    return kinds, values


async def owners(conn: Conn, keys: Iterable[str]) -> list[OwnerRow]:
    """Home contact and current survivor (one hop through ``merged_into``) of each identifier."""
    kinds, values = split_keys(sorted(set(keys)))
    cur = await conn.execute(
        """
        SELECT ci.kind || ':' || ci.value, ci.contact_id, s.contact_id, s.created_at, ci.shared, ci.touched
          FROM unnest(%b::text[], %b::text[]) AS k(kind, value)
          JOIN contact_identifiers ci ON ci.kind = k.kind AND ci.value = k.value
          JOIN contacts c ON c.contact_id = ci.contact_id
          JOIN contacts s ON s.contact_id = coalesce(c.merged_into, c.contact_id)
        """,
        (kinds, values),
    )
    return list(map(OwnerRow._make, await cur.fetchall()))


async def hold(conn: Conn, contact_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Lock these contacts ``FOR KEY SHARE`` until the caller's transaction ends; return the erased ones.

    ``FOR KEY SHARE`` is the lock the foreign keys of the rows written onto a contact take anyway; here it is
    taken on every contact the batch's resolution read, made or attaches to, in id order within this
    statement (locks ``resolve`` took earlier come first, so two batches can still deadlock: PostgreSQL
    aborts one, and the pipeline retries it like any transient fault). It waits for an erasure holding one
    of them (``FOR UPDATE``) and, under
    READ COMMITTED, reads the row as that erasure committed it. The erased filter is applied to the locked
    rows, not in the locking scan: there it would be evaluated on the statement's snapshot, in which the
    running erasure's ``erased_at`` is not set yet, and the row would be skipped without waiting.
    """
    ids = sorted(set(contact_ids))
    if not ids:
        return set()
    cur = await conn.execute(
        """
        WITH held AS MATERIALIZED (
            SELECT contact_id, erased_at FROM contacts WHERE contact_id = ANY(%b) ORDER BY contact_id FOR KEY SHARE
        )
        SELECT contact_id FROM held WHERE erased_at IS NOT NULL
        """,
        (ids,),
    )
    return {row[0] for row in await cur.fetchall()}


async def erased(conn: Conn, contact_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of these contacts that are erased and were not written to again since: nobody to merge.

    ``erased_at`` is never cleared: a person who writes again after an erasure is given the same contact
    id back (ids are deterministic) with her new identifiers linked to it. An erasure leaves the contact
    without any identifier, so an erased contact that has one again is that person's again.
    """
    ids = sorted(set(contact_ids))
    if not ids:
        return set()
    cur = await conn.execute(
        """
        SELECT c.contact_id FROM contacts c
         WHERE c.contact_id = ANY(%b) AND c.erased_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM contact_identifiers ci WHERE ci.contact_id = c.contact_id)
        """,
        (ids,),
    )
    return {row[0] for row in await cur.fetchall()}


async def create_contacts(conn: Conn, contacts: list[tuple[uuid.UUID, str | None]]) -> dict[uuid.UUID, datetime]:
    """Insert new contacts (id, display name); return the ids this transaction created, with their birth."""
    if not contacts:
        return {}
    ordered = sorted(contacts, key=lambda c: c[0])
    cur = await conn.execute(
        """
        INSERT INTO contacts (contact_id, display_name)
        SELECT * FROM unnest(%b::uuid[], %b::text[])
        ON CONFLICT (contact_id) DO NOTHING
        RETURNING contact_id, created_at
        """,
        ([c[0] for c in ordered], [c[1] for c in ordered]),
    )
    return {row[0]: row[1] for row in await cur.fetchall()}


async def link(
    conn: Conn,
    links: list[tuple[Identifier, uuid.UUID]],
    *,
    rule: str,
    source: str,
    evidence: dict[str, str] | None = None,
) -> int:
    """Link identifiers to contacts unless someone already owns them; return how many this call linked
    (fewer than asked: another transaction owns the rest, and the caller must re-read the owners)."""
    if not links:
        return 0
    ordered = sorted(links, key=lambda item: item[0].key)
    cur = await conn.execute(
        """
        INSERT INTO contact_identifiers (kind, value, contact_id, rule, source, evidence)
        SELECT k, v, c, %s, %s, %s::jsonb FROM unnest(%b::text[], %b::text[], %b::uuid[]) AS t(k, v, c)
        ON CONFLICT (kind, value) DO NOTHING
        """,
        (
            rule,
            source,
            orjson.dumps(evidence or {}).decode(),
            [i.kind.value for i, _ in ordered],
            [i.value for i, _ in ordered],
            [c for _, c in ordered],
        ),
    )
    return cur.rowcount


async def name_if_unnamed(conn: Conn, names: dict[uuid.UUID, str]) -> None:
    if not names:
        return
    ids = sorted(names)
    await conn.execute(
        """
        UPDATE contacts c SET display_name = n.name, updated_at = clock_timestamp()
          FROM unnest(%b::uuid[], %b::text[]) AS n(id, name)
         WHERE c.contact_id = n.id AND c.display_name IS NULL
        """,
        (ids, [names[i] for i in ids]),
    )


async def fold(conn: Conn, fresh: uuid.UUID, into: uuid.UUID) -> None:
    """Give up a contact this transaction created because another worker won the race for the person.

    Only for contacts created (and linked) in the caller's own transaction: nothing else can
    reference them yet, so their links move to ``into`` and the row goes, leaving no merge behind.
    """
    await conn.execute("UPDATE contact_identifiers SET contact_id = %s WHERE contact_id = %s", (into, fresh))
    await conn.execute("DELETE FROM contacts WHERE contact_id = %s", (fresh,))


async def touch(conn: Conn, keys: Iterable[str], by: int) -> None:
    """Count contacts an identifier has joined, for the shared-identifier cap."""
    kinds, values = split_keys(sorted(set(keys)))
    if kinds:
        await conn.execute(
            """
            UPDATE contact_identifiers ci SET touched = touched + %s
              FROM unnest(%b::text[], %b::text[]) AS k(kind, value)
             WHERE ci.kind = k.kind AND ci.value = k.value
            """,
            (by, kinds, values),
        )


async def snapshots(conn: Conn, contact_ids: Iterable[uuid.UUID]) -> list[Contact]:
    """Contacts as published and served: a live contact carries the identifiers and attributes of
    every contact merged into it; a merged-away one only its own (and ``merged_into``)."""
    ids = sorted(set(contact_ids))
    if not ids:
        return []
    # Members of each asked-for contact (sinks/person.py): itself plus, if live, the contacts merged into it
    # (nothing names a merged-away one in ``merged_into``); then one set-based join per table, so the cost
    # grows with the contacts asked for, not with the tables.
    cur = await conn.execute(
        """
        WITH w AS (SELECT unnest(%b::uuid[]) AS contact_id),
        mb AS (
            SELECT w.contact_id AS owner, m.contact_id AS member
              FROM w JOIN contacts m ON person_includes(m, w.contact_id)
        ),
        ids AS (
            SELECT mb.owner, array_agg(ci.kind ORDER BY ci.kind, ci.value) AS kinds,
                   array_agg(ci.value ORDER BY ci.kind, ci.value) AS vals
              FROM mb JOIN contact_identifiers ci ON ci.contact_id = mb.member
             GROUP BY mb.owner
        ),
        attrs AS (
            SELECT mb.owner, jsonb_object_agg(a.name, a.value ORDER BY a.updated_at, a.contact_id) AS attributes
              FROM mb JOIN contact_attributes a ON a.contact_id = mb.member
             GROUP BY mb.owner
        )
        SELECT c.contact_id, c.display_name, c.created_at, c.updated_at, c.merged_into,
               coalesce(ids.kinds, '{}'), coalesce(ids.vals, '{}'), attrs.attributes
          FROM w JOIN contacts c ON c.contact_id = w.contact_id
          LEFT JOIN ids ON ids.owner = c.contact_id
          LEFT JOIN attrs ON attrs.owner = c.contact_id
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
            identifiers=[
                Identifier.model_construct(kind=IdentifierKind(k), value=v) for k, v in zip(kinds, values, strict=True)
            ],
            attributes=attributes,
        )
        for cid, name, created, updated, merged_into, kinds, values, attributes in await cur.fetchall()
    ]


async def mark_shared(conn: Conn, identifier: Identifier, shared: bool) -> uuid.UUID | None:
    """Mark an identifier shared (it keeps its contact, never merges people) or not; its contact, if linked."""
    cur = await conn.execute(
        "UPDATE contact_identifiers SET shared = %s WHERE kind = %s AND value = %s RETURNING contact_id",
        (shared, identifier.kind.value, identifier.value),
    )
    row = await cur.fetchone()
    return row[0] if row else None
