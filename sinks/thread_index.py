"""The email thread index in PostgreSQL (``email_threads``, migrations 0007 and 0024).

Implements the email connector's ``ThreadIndex`` protocol without importing it (imports flow from
connectors and sinks to schemas, never between them): ``omnitrail`` passes the entry type in. A
database fault is a :class:`~schemas.errors.RetriableError`, so the pull loop retries the batch
instead of dead-lettering good mail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from psycopg_pool import AsyncConnectionPool

from sinks.connection import Conn
from sinks.unavailable import retriable_database

_SELECT = (
    "SELECT message_id, thread_key, rule, subject_key, participants, conversation, occurred_at, fingerprint"
    " FROM email_threads"
)
_INSERT = (
    "INSERT INTO email_threads (message_id, thread_key, rule, subject_key, participants, conversation, occurred_at,"
    " fingerprint) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (message_id)"
)


class ThreadRow(Protocol):
    """What one row holds (the connector's ``ThreadEntry`` has exactly these fields)."""

    @property
    def message_id(self) -> str: ...
    @property
    def thread_key(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def subject_key(self) -> str | None: ...
    @property
    def participants(self) -> tuple[str, ...]: ...
    @property
    def conversation(self) -> str | None: ...
    @property
    def occurred_at(self) -> datetime | None: ...
    @property
    def fingerprint(self) -> str | None: ...


E = TypeVar("E", bound=ThreadRow)


class PostgresThreadIndex(Generic[E]):
    def __init__(self, pool: AsyncConnectionPool[Conn], entry: Callable[..., E]) -> None:
        self.pool = pool
        self.entry = entry

    async def _rows(self, sql: str, params: tuple[Any, ...]) -> list[E]:
        with retriable_database("thread index"):
            async with self.pool.connection() as conn:
                cur = await conn.execute(sql, params)
                rows = await cur.fetchall()
                return [self.entry(r[0], r[1], r[2], r[3], tuple(r[4] or ()), r[5], r[6], r[7]) for r in rows]

    async def find(self, message_ids: list[str]) -> list[E]:
        return await self._rows(_SELECT + " WHERE message_id = ANY(%b)", (message_ids,))

    async def find_conversation(self, conversation: str) -> E | None:
        rows = await self._rows(
            _SELECT + " WHERE conversation = %s ORDER BY occurred_at DESC LIMIT 1",
            (conversation,),
        )
        return rows[0] if rows else None

    async def find_subject(self, subject_key: str, since: datetime) -> list[E]:
        return await self._rows(
            _SELECT + " WHERE subject_key = %s AND occurred_at >= %s ORDER BY occurred_at DESC LIMIT 50",
            (subject_key, since),
        )

    async def remember(self, entries: list[E]) -> None:
        full = [e for e in entries if e.rule != "placeholder"]
        placeholders = [e for e in entries if e.rule == "placeholder"]
        with retriable_database("thread index"):
            async with self.pool.connection() as conn, conn.transaction():
                cur = conn.cursor()
                if full:
                    await cur.executemany(
                        _INSERT + " DO UPDATE SET thread_key = excluded.thread_key, rule = excluded.rule,"
                        " subject_key = excluded.subject_key, participants = excluded.participants,"
                        " conversation = excluded.conversation, occurred_at = excluded.occurred_at,"
                        # A message placed before fingerprints were kept stays without one: stamped with the
                        # next message's, it would split its own later copies off (connectors.email.threads).
                        " fingerprint = CASE WHEN email_threads.fingerprint IS NULL"
                        " AND email_threads.rule <> 'placeholder' THEN NULL ELSE excluded.fingerprint END",
                        [_params(e) for e in full],
                    )
                if placeholders:
                    await cur.executemany(
                        _INSERT + " DO NOTHING",
                        [_params(e) for e in placeholders],
                    )


def _params(e: ThreadRow) -> tuple[Any, ...]:
    return (
        e.message_id,
        e.thread_key,
        e.rule,
        e.subject_key,
        list(e.participants),
        e.conversation,
        e.occurred_at,
        e.fingerprint,
    )
