"""Per-subscriber dead letters of the webhook sink, in PostgreSQL where operators can see and replay them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sinks.connection import Conn
from sinks.webhooks.delivery import Delivery


@dataclass(frozen=True)
class Source:
    """Where the event came from: the natural key of a dead letter."""

    topic: str
    partition: int
    offset: int
    contact_id: str | None
    event_id: str | None
    event_type: str | None


@dataclass(frozen=True)
class DeadLetterRow:
    deadletter_id: int
    subscriber: str
    event_id: str | None
    event_type: str | None
    attempts: int
    last_status: int | None
    last_error: str
    failed_at: datetime
    body: bytes


async def add(conn: Conn, subscriber: str, source: Source, body: bytes, delivery: Delivery) -> None:
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
            source.topic,
            source.partition,
            source.offset,
            source.contact_id,
            source.event_id,
            source.event_type,
            body,
            delivery.attempts,
            delivery.last_status,
            delivery.last_error or "undelivered",
        ),
    )


async def listing(conn: Conn, subscriber: str | None = None, *, limit: int = 1000) -> list[DeadLetterRow]:
    """Oldest first; every subscriber unless one is named."""
    cur = await conn.execute(
        """
        SELECT deadletter_id, subscriber, event_id, event_type, attempts, last_status, last_error, failed_at, body
        FROM webhook_deadletters WHERE %(s)s::text IS NULL OR subscriber = %(s)s::text
        ORDER BY deadletter_id LIMIT %(limit)s
        """,
        {"s": subscriber, "limit": limit},
    )
    return [DeadLetterRow(*row) for row in await cur.fetchall()]


async def remove(conn: Conn, deadletter_id: int) -> None:
    await conn.execute("DELETE FROM webhook_deadletters WHERE deadletter_id = %s", (deadletter_id,))


async def forget_contact(conn: Conn, contact_id: str) -> int:
    """Delete a contact's undelivered events (their bodies carry its personal data); for erasure."""
    cur = await conn.execute("DELETE FROM webhook_deadletters WHERE contact_id = %s", (contact_id,))
    return cur.rowcount
