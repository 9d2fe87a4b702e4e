"""The transactional outbox: events stored with the rows they describe, published after commit.

``append`` runs inside the batch transaction. ``drain`` publishes what is pending (from
this batch, or left by a worker that crashed after its commit) and deletes it only after
the broker acknowledged it. Consumers see each event at least once, in commit order per
key, and can drop copies by ``event_id``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

Conn = AsyncConnection[tuple[Any, ...]]
Record = tuple[str, bytes | None, bytes | None]
Publish = Callable[[Sequence[Record]], Awaitable[None]]


async def append(conn: Conn, records: Sequence[Record]) -> None:
    """COPY, not an ``unnest`` of arrays: psycopg escapes every array element in Python, which cost
    the worker ~70 µs of CPU per 1.5 KB event (benchmarks/micro.py); COPY streams them for ~10. In
    binary format, since the values are ``bytea``: the text format would hex-escape every byte."""
    if not records:
        return
    statement = "COPY timeline_outbox (topic, key, value) FROM STDIN (FORMAT BINARY)"
    async with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(["text", "bytea", "bytea"])
        for record in records:
            await copy.write_row(record)


async def drain(pool: AsyncConnectionPool[Conn], publish: Publish, *, limit: int = 10_000) -> int:
    """Publish and delete pending records; return how many. Rows locked by another drainer are skipped.

    One round trip takes the rows: they are deleted and returned by the same statement, and the
    delete commits only after the broker acknowledged them (an error rolls it back, so they stay).
    """
    total = 0
    while True:
        async with pool.connection() as conn, conn.transaction():
            # Binary results: ``bytea`` in text format is hex, encoded by the server and decoded here.
            cur = await conn.cursor(binary=True).execute(
                """
                DELETE FROM timeline_outbox WHERE seq IN (
                    SELECT seq FROM timeline_outbox ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED)
                RETURNING seq, topic, key, value
                """,
                (limit,),
            )
            rows = sorted(await cur.fetchall())  # RETURNING has no order; commit order is seq order
            if not rows:
                return total
            await publish([(str(t), k, v) for _, t, k, v in rows])
            total += len(rows)
        if len(rows) < limit:
            return total
