"""The contacts that make up one person: a live contact (the survivor) and every contact merged into it.

``contacts.merged_into`` always names the final survivor: a merge re-points what had been merged into
the loser, an unmerge recomputes it from the active links (:mod:`sinks.merges`). So one hop resolves
any contact (``coalesce(merged_into, contact_id)``), and the person of a survivor ``s`` is the contacts
with ``contact_id = s OR merged_into = s``: in SQL, ``person_includes(c, s)`` on a ``contacts`` row
``c`` (migration 0023). PostgreSQL inlines it, so a statement using it is planned as if the predicate
were written out; statements that need the person inside a larger query use it there, in the same
round trip. The functions here are for code that needs the ids themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sinks.connection import Conn

_CONTACTS = "SELECT contact_id FROM contacts c WHERE person_includes(c, %s) ORDER BY contact_id"
_LOCKED = _CONTACTS + " FOR UPDATE"


async def contacts(conn: Conn, survivor: uuid.UUID, *, lock: bool = False) -> list[uuid.UUID]:
    """The contacts of the person ``survivor`` is, in id order (empty if no such contact).

    ``lock``: ``FOR UPDATE``, taken in that order so that two lockers cannot deadlock.
    """
    cur = await conn.execute(_LOCKED if lock else _CONTACTS, (survivor,))
    return [row[0] for row in await cur.fetchall()]


async def survivors(conn: Conn, contact_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Each id's surviving contact; an id with no contact row stands for itself."""
    ids = sorted(set(contact_ids))
    cur = await conn.execute(
        """
        SELECT s.id, coalesce(c.merged_into, s.id)
          FROM unnest(%b::uuid[]) AS s(id) LEFT JOIN contacts c ON c.contact_id = s.id
        """,
        (ids,),
    )
    return {row[0]: row[1] for row in await cur.fetchall()}


async def members(conn: Conn, survivors: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """member -> survivor, for each survivor itself and every contact merged into it.

    The many-survivor form of ``person_includes``: one index scan of ``merged_into = ANY`` (0.9 ms for
    500 survivors), where joining the survivors on ``person_includes`` costs a bitmap OR per survivor (9 ms).
    """
    cur = await conn.execute(
        "SELECT contact_id, merged_into FROM contacts WHERE merged_into = ANY(%b)", (list(survivors),)
    )
    found = {s: s for s in survivors}
    found.update({row[0]: row[1] for row in await cur.fetchall()})
    return found


async def members_of(conn: Conn, contact_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """These contacts, their survivors, and everything merged into those survivors."""
    survivor_of = await survivors(conn, contact_ids)
    everyone = await members(conn, sorted(set(survivor_of.values())))
    return set(survivor_of) | set(everyone)
