"""Consent per contact and purpose, with history (``contact_consents``): rows are only ever added.

The current state of a purpose is its latest row; a contact with no row for a purpose has
recorded nothing (what that means is the caller's policy). Reads take the rows of the person: the
survivor and every contact merged into it (``person_includes``, :mod:`sinks.person`), latest row winning.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sinks.connection import Conn

#: Purposes the product knows; others are accepted as data (operators may add their own).
PROFILING = "profiling"
MARKETING = "marketing"


async def record(
    conn: Conn, contact_id: uuid.UUID, purpose: str, *, granted: bool, source: str, recorded_by: str | None = None
) -> None:
    await conn.execute(
        "INSERT INTO contact_consents (contact_id, purpose, granted, source, recorded_by) VALUES (%s, %s, %s, %s, %s)",
        (contact_id, purpose, granted, source, recorded_by),
    )


async def objecting(conn: Conn, contact_ids: Iterable[uuid.UUID], purpose: str) -> set[uuid.UUID]:
    """Which of these contacts (survivor ids) currently withhold consent for ``purpose``."""
    ids = sorted(set(contact_ids))
    if not ids:
        return set()
    cur = await conn.execute(
        """
        SELECT s.id
          FROM unnest(%b::uuid[]) AS s(id)
          JOIN LATERAL (
                SELECT cc.granted FROM contact_consents cc
                  JOIN contacts c ON c.contact_id = cc.contact_id
                 WHERE person_includes(c, s.id) AND cc.purpose = %s
                 ORDER BY cc.recorded_at DESC, cc.consent_id DESC
                 LIMIT 1) latest ON true
         WHERE NOT latest.granted
        """,
        (ids, purpose),
    )
    return {row[0] for row in await cur.fetchall()}


async def history(conn: Conn, survivor: uuid.UUID) -> list[dict[str, Any]]:
    """Every consent decision of the person (the survivor and contacts merged into it), oldest first."""
    cur = await conn.execute(
        """
        SELECT cc.contact_id, cc.purpose, cc.granted, cc.source, cc.recorded_by, cc.recorded_at
          FROM contact_consents cc JOIN contacts c ON c.contact_id = cc.contact_id
         WHERE person_includes(c, %s)
         ORDER BY cc.recorded_at, cc.consent_id
        """,
        (survivor,),
    )
    names = ("contact_id", "purpose", "granted", "source", "recorded_by", "recorded_at")
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]
