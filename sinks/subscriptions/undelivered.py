"""Undelivered events: per subscriber, the timeline events it did not take, in PostgreSQL (``webhook_deadletters``)
where operators list them and send them again (``omnitrail sink deadletters``, ``omnitrail sink redeliver``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson

from sinks.connection import Conn
from sinks.subscriptions.delivery import Delivery


@dataclass(frozen=True)
class Origin:
    """Where the event came from: the natural key of an undelivered event."""

    topic: str
    partition: int
    offset: int
    contact_id: str | None
    event_id: str | None
    event_type: str | None


@dataclass(frozen=True)
class Undelivered:
    undelivered_id: int
    subscriber: str
    event_id: str | None
    event_type: str | None
    attempts: int
    last_status: int | None
    last_error: str
    failed_at: datetime
    body: bytes


async def add(conn: Conn, subscriber: str, origin: Origin, body: bytes, delivery: Delivery) -> None:
    await conn.execute(
        """
        INSERT INTO webhook_deadletters
            (subscriber, topic, "partition", "offset", contact_id, event_id, event_type, body,
             attempts, last_status, last_error)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (subscriber, topic, "partition", "offset") DO NOTHING
        """,
        (
            subscriber,
            origin.topic,
            origin.partition,
            origin.offset,
            origin.contact_id,
            origin.event_id,
            origin.event_type,
            body,
            delivery.attempts,
            delivery.last_status,
            delivery.last_error or "undelivered",
        ),
    )


async def listing(conn: Conn, subscriber: str | None = None, *, limit: int = 1000) -> list[Undelivered]:
    """Oldest first; every subscriber unless one is named."""
    cur = await conn.execute(
        """
        SELECT deadletter_id, subscriber, event_id, event_type, attempts, last_status, last_error, failed_at, body
        FROM webhook_deadletters WHERE %(s)s::text IS NULL OR subscriber = %(s)s::text
        ORDER BY deadletter_id LIMIT %(limit)s
        """,
        {"s": subscriber, "limit": limit},
    )
    return [Undelivered(*row) for row in await cur.fetchall()]


async def remove(conn: Conn, undelivered_id: int) -> None:
    await conn.execute("DELETE FROM webhook_deadletters WHERE deadletter_id = %s", (undelivered_id,))


async def forget(conn: Conn, contact_ids: list[str]) -> int:
    """Delete these contacts' undelivered events (their bodies carry personal data); erasure calls it."""
    cur = await conn.execute("DELETE FROM webhook_deadletters WHERE contact_id = ANY(%s)", (contact_ids,))
    return cur.rowcount


async def forget_interactions(conn: Conn, interaction_ids: list[uuid.UUID]) -> int:
    """Delete every subscriber's undelivered events carrying one of these interactions (whichever contact's
    timeline they were for); erasure calls it for the interactions it redacted, whose
    ``interaction.redacted`` events replace them. An event that only refers to one (a reply's
    ``in_reply_to``) stays."""
    if not interaction_ids:
        return 0
    wanted = {str(i) for i in interaction_ids}
    # The ids' bytes narrow the rows in PostgreSQL; the body is parsed here, where a body that is not
    # JSON cannot fail the erasure.
    cur = await conn.execute(
        "SELECT deadletter_id, body FROM webhook_deadletters"
        " WHERE EXISTS (SELECT 1 FROM unnest(%s::bytea[]) AS n (id) WHERE position(n.id IN body) > 0)",
        ([i.encode() for i in sorted(wanted)],),
    )
    doomed = [row_id for row_id, body in await cur.fetchall() if _interaction_id(body) in wanted]
    await conn.execute("DELETE FROM webhook_deadletters WHERE deadletter_id = ANY(%s)", (doomed,))
    return len(doomed)


def _interaction_id(body: bytes) -> str | None:
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    interaction = event.get("interaction") if isinstance(event, dict) else None
    found = interaction.get("interaction_id") if isinstance(interaction, dict) else None
    return found if isinstance(found, str) else None
