"""The transactional outbox: events stored with the rows they describe, published after commit.

``append`` runs inside the writer's transaction and stores what it is given as one row, the events
as arrays in their order (migration 0011). ``drain`` publishes what is pending (from this batch, or
left by a worker that crashed after its commit) and deletes it only after the broker acknowledged
it. Consumers see each event at least once, in commit order per key, and can drop copies by
``event_id``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from psycopg.errors import LockNotAvailable
from psycopg_pool import AsyncConnectionPool

from sinks.connection import Conn
from sinks.kafka.records import Publish, Record

#: What a process that commits to the outbox calls to publish it now (the console, after a merge or an edit).
Drain = Callable[[], Awaitable[None]]


async def append(conn: Conn, records: Sequence[Record]) -> None:
    """One row for all of ``records``: a row and an index entry per event, each deleted again by the
    drain, cost the database ~5% of its time per interaction. Binary parameters: psycopg's text format
    escapes every array element in Python, and hex-encodes every byte of a ``bytea``."""
    if not records:
        return
    await conn.execute(
        "INSERT INTO timeline_outbox_batches (topics, keys, payloads) VALUES (%b, %b, %b)",
        ([r[0] for r in records], [r[1] for r in records], [r[2] for r in records]),
    )


#: One drainer at a time, deployment-wide (workers, media stages, consoles share the outbox): with two, the
#: second skipped the rows the first had locked and published the newer rows of the same key first. A
#: transaction-level advisory lock, taken in a statement of its own so the take that follows reads what the
#: previous drainer left (its snapshot starts after the wait). The key is arbitrary, ours alone ("outbox").
#: The wait is bounded (``lock_timeout``): a drainer stuck on a slow broker must not hold up every other
#: process's batch or console request; one that gives up publishes nothing, so nothing is reordered, and the
#: rows go with the next drain (after the next batch, or the suggestions agent's tick).
_ONE_DRAINER = "SET LOCAL lock_timeout = '{wait_ms}ms'; SELECT pg_advisory_xact_lock(x'6f7574626f78'::bigint)"

#: The oldest transactions' rows, in ``seq`` (commit) order once sorted.
_TAKE = """
DELETE FROM timeline_outbox_batches WHERE seq IN (
    SELECT seq FROM timeline_outbox_batches ORDER BY seq LIMIT %(batches)s FOR UPDATE SKIP LOCKED)
RETURNING seq, topics, keys, payloads
"""


async def drain(pool: AsyncConnectionPool[Conn], publish: Publish, *, limit: int = 4, wait_s: float = 2.0) -> int:
    """Publish and delete pending records; return how many. Another drainer's round is waited for up to
    ``wait_s``; past that, the pending rows are left to it or to the next drain.

    One round trip takes up to ``limit`` transactions' rows: they are deleted and returned by the
    same statement, and the delete commits only after the broker acknowledged them (an error rolls
    it back, so they stay).
    """
    total = 0
    lock = _ONE_DRAINER.format(wait_ms=max(1, round(wait_s * 1000)))
    while True:
        try:
            rows = await _round(pool, publish, lock, limit)
        except LockNotAvailable:
            return total  # another drainer is publishing (a slow broker?): these wait for it or the next drain
        total += sum(len(keys) for _, _, keys, _ in rows)
        if len(rows) < limit:
            return total  # less than a full round: nothing more was pending when it started


async def _round(pool: AsyncConnectionPool[Conn], publish: Publish, lock: str, limit: int) -> list[tuple[Any, ...]]:
    """One round: the lock, up to ``limit`` transactions' rows taken, published, deleted on commit."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(lock)  # two statements, no parameters: one round trip
        # Binary results: ``bytea`` in text format is hex, encoded by the server and decoded here.
        cur = await conn.cursor(binary=True).execute(_TAKE, {"batches": limit})
        rows: list[tuple[Any, ...]] = sorted(await cur.fetchall())  # RETURNING has no order; seq order is commit order
        if rows:
            await publish([record for _, *columns in rows for record in zip(*columns, strict=True)])
        return rows
