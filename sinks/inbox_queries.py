"""Reads behind the console's home view and contact sidebar: open work across every contact, and
what one contact's history amounts to (first and last seen, channels used).

A *conversation* is a thread (``thread_key``: an email chain, a chat session, an SMS or WhatsApp
conversation) or, for an interaction without one, the interaction alone. It waits for us when its
latest message or call is the customer's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sinks.connection import Conn
from sinks.queries import resolve


@dataclass(frozen=True)
class Waiting:
    """The latest interaction of a conversation whose last word is the customer's."""

    contact_id: uuid.UUID
    display_name: str | None
    document: dict[str, Any]


async def waiting(conn: Conn, *, since: datetime, limit: int) -> list[Waiting]:
    """Conversations active since ``since`` whose latest message or call is inbound, newest first."""
    cur = await conn.execute(
        """
        WITH latest AS (
            SELECT DISTINCT ON (coalesce(i.thread_key, i.interaction_id::text))
                   i.interaction_id, i.contact_id, i.direction, i.occurred_at, i.document
              FROM interactions i
             WHERE i.occurred_at >= %s AND i.kind IN ('message', 'call')
             ORDER BY coalesce(i.thread_key, i.interaction_id::text), i.occurred_at DESC, i.interaction_id DESC
        )
        SELECT coalesce(c.merged_into, c.contact_id), s.display_name, l.document
          FROM latest l
          JOIN contacts c ON c.contact_id = l.contact_id
          LEFT JOIN contacts s ON s.contact_id = coalesce(c.merged_into, c.contact_id)
         WHERE l.direction = 'inbound'
         ORDER BY l.occurred_at DESC, l.interaction_id DESC
         LIMIT %s
        """,
        (since, limit),
    )
    return [Waiting(contact_id, name, dict(document)) for contact_id, name, document in await cur.fetchall()]


@dataclass(frozen=True)
class ChannelUse:
    channel: str
    interactions: int
    last_at: datetime


@dataclass(frozen=True)
class History:
    contact_id: uuid.UUID
    first_seen: datetime | None
    last_seen: datetime | None
    channels: list[ChannelUse]


async def history(conn: Conn, contact_id: uuid.UUID) -> History | None:
    """First and last interaction and the channels used, over the contact and everyone merged into it."""
    survivor = await resolve(conn, contact_id)
    if survivor is None:
        return None
    # Both forms of membership (see ``queries.timeline``): the row's own contact, and the links of other customers.
    cur = await conn.execute(
        """
        WITH members AS (SELECT contact_id FROM contacts c WHERE person_includes(c, %s)),
             mine AS (
                SELECT i.interaction_id FROM interactions i WHERE i.contact_id IN (SELECT contact_id FROM members)
                 UNION
                SELECT k.interaction_id FROM interaction_contacts k
                 WHERE k.contact_id IN (SELECT contact_id FROM members)
             )
        SELECT i.channel, count(*), min(i.occurred_at), max(i.occurred_at)
          FROM interactions i JOIN mine USING (interaction_id)
         WHERE i.kind IN ('message', 'call', 'note')
         GROUP BY i.channel
         ORDER BY max(i.occurred_at) DESC
        """,
        (survivor,),
    )
    rows = await cur.fetchall()
    channels = [ChannelUse(channel, count, last) for channel, count, _, last in rows]
    return History(
        survivor,
        min((first for *_, first, _ in rows), default=None),
        max((last for *_, last in rows), default=None),
        channels,
    )
