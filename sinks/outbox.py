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
    if not records:
        return
    await conn.execute(
        "INSERT INTO timeline_outbox (topic, key, value) SELECT * FROM unnest(%s::text[], %s::bytea[], %s::bytea[])",
        ([r[0] for r in records], [r[1] for r in records], [r[2] for r in records]),
    )


async def drain(pool: AsyncConnectionPool[Conn], publish: Publish, *, limit: int = 10_000) -> int:
    """Publish and delete pending records; return how many. Rows locked by another drainer are skipped."""
    total = 0
    while True:
        async with pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT seq, topic, key, value FROM timeline_outbox ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
                (limit,),
            )
            rows = await cur.fetchall()
            if not rows:
                return total
            await publish([(str(t), k, v) for _, t, k, v in rows])
            await conn.execute("DELETE FROM timeline_outbox WHERE seq = ANY(%s)", ([r[0] for r in rows],))
            total += len(rows)
        if len(rows) < limit:
            return total
