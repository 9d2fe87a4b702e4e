"""Suggestion state in PostgreSQL (migration 0004): activity seen on the timeline, suggestions,
the evaluation schedule; and the reads of identity reviews the merge-review rule needs.

Everything runs in the caller's transaction. Contacts are resolved one hop through
``contacts.merged_into`` at read time (:mod:`sinks.person`), as everywhere else, so merges and
unmerges need no rewrite of these tables. Evaluations of one contact are serialized by an advisory lock.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas.suggestion import Suggestion
from sinks.connection import Conn

_LOCK_SPACE = 0x73756767  # "sugg": advisory lock class of per-contact evaluations
_REVIEWS_LOCK = 0x72657669  # "revi": one review sync at a time


@dataclass(frozen=True)
class ActivityRow:
    interaction_id: uuid.UUID
    contact_id: uuid.UUID
    channel: str
    direction: str
    kind: str
    occurred_at: datetime
    thread_hash: str | None


def thread_hash(thread_key: str | None) -> str | None:
    """Threads are compared, never shown: a hash keeps mail Message-IDs (which name people) out."""
    return hashlib.sha256(thread_key.encode()).hexdigest()[:32] if thread_key else None


async def record_activity(conn: Conn, rows: Sequence[ActivityRow]) -> None:
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: r.interaction_id)
    await conn.execute(
        """
        INSERT INTO suggestion_activity (interaction_id, contact_id, channel, direction, kind, occurred_at, thread_hash)
        SELECT * FROM unnest(%b::uuid[], %b::uuid[], %b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[])
        ON CONFLICT (interaction_id) DO NOTHING
        """,
        tuple(
            [getattr(r, f) for r in ordered]
            for f in ("interaction_id", "contact_id", "channel", "direction", "kind", "occurred_at", "thread_hash")
        ),
    )


async def lock(conn: Conn, contact_ids: Iterable[uuid.UUID]) -> None:
    """Per-contact transaction locks, taken in id order so two evaluators cannot deadlock."""
    await conn.execute(
        """
        SELECT pg_advisory_xact_lock(%s, hashtext(s.id))
          FROM (SELECT id FROM unnest(%b::text[]) AS u(id) ORDER BY id) AS s
        """,
        (_LOCK_SPACE, sorted(str(c) for c in set(contact_ids))),
    )


async def follow_owners(conn: Conn, contact_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Re-file activity of these contacts under the contact the timeline (``interactions``) now
    gives each interaction to; return the contacts that received some."""
    cur = await conn.execute(
        """
        UPDATE suggestion_activity a SET contact_id = i.contact_id
          FROM interactions i
         WHERE i.interaction_id = a.interaction_id AND a.contact_id = ANY(%b) AND i.contact_id <> a.contact_id
        RETURNING a.contact_id
        """,
        (sorted(set(contact_ids)),),
    )
    return {row[0] for row in await cur.fetchall()}


async def evidence_owners(conn: Conn, contact_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Contacts owning the interactions behind the open suggestions of these contacts (after an
    unmerge, some belong to the restored contact and their suggestions must follow)."""
    cur = await conn.execute(
        """
        SELECT DISTINCT a.contact_id
          FROM suggestions s
         CROSS JOIN LATERAL jsonb_array_elements_text(s.document -> 'interaction_ids') AS x(id)
          JOIN suggestion_activity a ON a.interaction_id = x.id::uuid
         WHERE s.contact_id = ANY(%b) AND s.status = 'open'
        """,
        (sorted(set(contact_ids)),),
    )
    return {row[0] for row in await cur.fetchall()}


async def history(
    conn: Conn, member_of: dict[uuid.UUID, uuid.UUID], *, limit: int
) -> dict[uuid.UUID, list[ActivityRow]]:
    """Per survivor: the latest ``limit`` interactions of its members, plus our replies in their
    threads that went to someone else (a colleague in Cc answering counts as an answer)."""
    cur = await conn.execute(
        """
        WITH m AS (SELECT * FROM unnest(%b::uuid[], %b::uuid[]) AS m(member, survivor)),
        own AS (
            SELECT m.survivor, a.*, row_number() OVER (PARTITION BY m.survivor ORDER BY a.occurred_at DESC) AS n
              FROM suggestion_activity a JOIN m ON a.contact_id = m.member
        ),
        kept AS (
            SELECT survivor, interaction_id, contact_id, channel, direction, kind, occurred_at, thread_hash
              FROM own WHERE n <= %s
        )
        SELECT * FROM kept
        UNION
        SELECT t.survivor, a.interaction_id, a.contact_id, a.channel, a.direction, a.kind, a.occurred_at, a.thread_hash
          FROM suggestion_activity a
          JOIN (SELECT DISTINCT survivor, thread_hash FROM kept WHERE thread_hash IS NOT NULL) t
            ON a.thread_hash = t.thread_hash
         WHERE a.direction = 'outbound'
        """,
        (list(member_of), list(member_of.values()), limit),
    )
    found: dict[uuid.UUID, list[ActivityRow]] = {s: [] for s in member_of.values()}
    for survivor, *row in await cur.fetchall():
        found[survivor].append(ActivityRow(*row))
    return found


async def open_suggestions(conn: Conn, contact_ids: Iterable[uuid.UUID], *, rules: Sequence[str]) -> list[Suggestion]:
    cur = await conn.execute(
        "SELECT document FROM suggestions WHERE contact_id = ANY(%b) AND status = 'open' AND rule = ANY(%b)",
        (list(contact_ids), list(rules)),
    )
    return [Suggestion.model_validate(row[0]) for row in await cur.fetchall()]


async def save(conn: Conn, changes: Sequence[Suggestion]) -> None:
    if not changes:
        return
    await conn.execute(
        """
        INSERT INTO suggestions (suggestion_id, contact_id, rule, status, opened_at, closed_at, document)
        SELECT * FROM unnest(%b::uuid[], %b::uuid[], %b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[],
                             %b::jsonb[])
        ON CONFLICT (suggestion_id) DO UPDATE SET
            contact_id = excluded.contact_id, status = excluded.status, opened_at = excluded.opened_at,
            closed_at = excluded.closed_at, document = excluded.document
        """,
        (
            [s.suggestion_id for s in changes],
            [s.contact_id for s in changes],
            [str(s.rule) for s in changes],
            [str(s.status) for s in changes],
            [s.opened_at for s in changes],
            [s.closed_at for s in changes],
            [s.model_dump_json() for s in changes],
        ),
    )


async def schedule(conn: Conn, next_checks: dict[uuid.UUID, datetime | None], *, forget: Iterable[uuid.UUID]) -> None:
    """When each survivor must next be evaluated (None: only an event can change it);
    merged-away contacts leave the schedule."""
    due = sorted((c, at) for c, at in next_checks.items() if at is not None)
    gone = sorted({*forget, *(c for c, at in next_checks.items() if at is None)})
    await conn.execute("DELETE FROM suggestion_schedule WHERE contact_id = ANY(%b)", (gone,))
    if due:
        await conn.execute(
            """
            INSERT INTO suggestion_schedule (contact_id, next_check_at)
            SELECT * FROM unnest(%b::uuid[], %b::timestamptz[])
            ON CONFLICT (contact_id) DO UPDATE SET next_check_at = excluded.next_check_at
            """,
            ([c for c, _ in due], [at for _, at in due]),
        )


async def due(conn: Conn, now: datetime, *, limit: int) -> list[uuid.UUID]:
    cur = await conn.execute(
        "SELECT contact_id FROM suggestion_schedule WHERE next_check_at <= %s ORDER BY next_check_at LIMIT %s",
        (now, limit),
    )
    return [row[0] for row in await cur.fetchall()]


async def with_open_profiling(conn: Conn) -> list[uuid.UUID]:
    """Contacts holding open profiling suggestions: an objection recorded since must close them."""
    cur = await conn.execute(
        "SELECT DISTINCT contact_id FROM suggestions WHERE status = 'open' AND (document->>'profiling')::boolean"
    )
    return [row[0] for row in await cur.fetchall()]


async def lock_reviews(conn: Conn) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_REVIEWS_LOCK,))


async def open_reviews(conn: Conn) -> list[tuple[uuid.UUID, str, uuid.UUID, uuid.UUID]]:
    """Open identity review items with both sides resolved to their survivors; none naming an erased contact
    nobody wrote as since (an erasure closes hers, but not those left open by a release before that)."""
    cur = await conn.execute(
        """
        SELECT r.review_id, r.rule, coalesce(a.merged_into, a.contact_id), coalesce(b.merged_into, b.contact_id)
          FROM identity_reviews r
          JOIN contacts a ON a.contact_id = r.contact_a
          JOIN contacts b ON b.contact_id = r.contact_b
         WHERE r.status = 'open'
           AND NOT EXISTS (
               SELECT 1 FROM contacts e
                WHERE e.contact_id IN (r.contact_a, r.contact_b) AND e.erased_at IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM contact_identifiers ci WHERE ci.contact_id = e.contact_id))
        """
    )
    return [(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()]


async def open_by_rule(conn: Conn, rule: str) -> list[Suggestion]:
    cur = await conn.execute("SELECT document FROM suggestions WHERE status = 'open' AND rule = %s", (rule,))
    return [Suggestion.model_validate(row[0]) for row in await cur.fetchall()]


async def forget(conn: Conn, contact_id: uuid.UUID) -> None:
    """Erasure: nothing about the contact stays in the suggestion tables."""
    await conn.execute("DELETE FROM suggestion_activity WHERE contact_id = %s", (contact_id,))
    await conn.execute("DELETE FROM suggestions WHERE contact_id = %s", (contact_id,))
    await conn.execute("DELETE FROM suggestion_schedule WHERE contact_id = %s", (contact_id,))
