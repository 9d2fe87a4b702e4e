"""Identity review items (``identity_reviews``): open, list, decide.

An item names two contacts (``contact_a < contact_b``), the rule and its evidence. Opening is
idempotent (one item per pair and rule, whatever its status: a rejected suggestion is not
proposed again). Accepting merges the pair through :mod:`sinks.merges`, so it is recorded and
reversible like any other merge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from sinks import person
from sinks.connection import Conn

Status = Literal["open", "accepted", "rejected"]


@dataclass(frozen=True)
class Review:
    review_id: uuid.UUID
    contact_a: uuid.UUID
    contact_b: uuid.UUID
    rule: str
    evidence: dict[str, Any]
    status: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None


@dataclass(frozen=True)
class Proposal:
    contact: uuid.UUID
    other: uuid.UUID
    rule: str
    evidence: dict[str, Any]


async def local_part_owners(conn: Conn, locals_: list[str]) -> dict[str, list[tuple[str, uuid.UUID]]]:
    """Email local part -> (email, live contact) of addresses with that local part, at any domain.

    ``= ANY`` on the expression index: one index scan whatever the table statistics say.
    """
    if not locals_:
        return {}
    cur = await conn.execute(
        """
        SELECT split_part(ci.value, '@', 1), ci.value, coalesce(c.merged_into, c.contact_id)
          FROM contact_identifiers ci JOIN contacts c ON c.contact_id = ci.contact_id
         WHERE ci.kind = 'email' AND split_part(ci.value, '@', 1) = ANY(%b)
        """,
        (locals_,),
    )
    found: dict[str, list[tuple[str, uuid.UUID]]] = {}
    for local, value, contact in await cur.fetchall():
        found.setdefault(local, []).append((value, contact))
    return found


async def same_name(conn: Conn, names: list[str]) -> dict[str, list[uuid.UUID]]:
    """Case-folded full name -> live contacts carrying it."""
    if not names:
        return {}
    cur = await conn.execute(
        """
        SELECT lower(display_name), contact_id FROM contacts
         WHERE lower(display_name) = ANY(%b) AND display_name IS NOT NULL AND merged_into IS NULL
        """,
        (names,),
    )
    found: dict[str, list[uuid.UUID]] = {}
    for name, contact in await cur.fetchall():
        found.setdefault(name, []).append(contact)
    return found


async def open_items(conn: Conn, proposals: list[Proposal]) -> int:
    """Open one item per distinct pair and rule; return how many are new."""
    rows: dict[tuple[uuid.UUID, uuid.UUID, str], dict[str, Any]] = {}
    for p in proposals:
        if p.contact != p.other:
            a, b = sorted((p.contact, p.other))
            rows.setdefault((a, b, p.rule), p.evidence)
    if not rows:
        return 0
    keys = sorted(rows)
    cur = await conn.execute(
        """
        INSERT INTO identity_reviews (review_id, contact_a, contact_b, rule, evidence)
        SELECT gen_random_uuid(), a, b, r, e::jsonb FROM unnest(%b::uuid[], %b::uuid[], %b::text[], %b::text[])
               AS t(a, b, r, e)
        ON CONFLICT (contact_a, contact_b, rule) DO NOTHING
        RETURNING review_id
        """,
        (
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [orjson.dumps(rows[k]).decode() for k in keys],
        ),
    )
    return len(await cur.fetchall())


_COLUMNS = "review_id, contact_a, contact_b, rule, evidence, status, created_at, decided_at, decided_by"


async def listing(conn: Conn, status: Status, limit: int, *, contact: uuid.UUID | None = None) -> list[Review]:
    """Items of that status, oldest first; with ``contact``, only those naming the person it is (on either side):
    its survivor or any contact merged into that survivor, so a merged-away id (a stale link) finds the items of
    the person it became, and a survivor the items opened before a merge on the contact merged into it.

    Each side has its index (``contact_a`` leads the pair's unique key, ``contact_b`` its own: migration 0022).
    """
    members = sorted(await person.members_of(conn, [contact])) if contact else None
    naming = " AND (contact_a = ANY(%(members)s) OR contact_b = ANY(%(members)s))" if members else ""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM identity_reviews WHERE status = %(status)s{naming}"  # noqa: S608  # constant SQL
        " ORDER BY created_at, review_id LIMIT %(limit)s",
        {"status": status, "members": members, "limit": limit},
    )
    return [Review(*row) for row in await cur.fetchall()]


async def lock(conn: Conn, review_id: uuid.UUID) -> Review | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM identity_reviews WHERE review_id = %s FOR UPDATE",  # noqa: S608  # constant column list
        (review_id,),
    )
    row = await cur.fetchone()
    return Review(*row) if row else None


async def decide(conn: Conn, review_id: uuid.UUID, status: Status, by: str) -> None:
    await conn.execute(
        "UPDATE identity_reviews SET status = %s, decided_at = clock_timestamp(), decided_by = %s WHERE review_id = %s",
        (status, by, review_id),
    )
