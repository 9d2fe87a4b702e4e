"""The outbox on the real PostgreSQL: what writers append is published in commit order and deleted only
once published."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from sinks import outbox
from sinks.kafka.records import Record
from tests.integration.stack import eventually

pytestmark = pytest.mark.integration


class Published:
    def __init__(self, fail: bool = False) -> None:
        self.records: list[Record] = []
        self.fail = fail

    async def __call__(self, records: Sequence[Record]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.records += records


def _events(batch: str, n: int) -> list[Record]:
    return [("omnitrail.timeline.v1", f"c{k % 3}".encode(), f"{batch}-{k}".encode()) for k in range(n)]


async def test_appends_are_published_in_commit_order_and_kept_until_published(private_database_url: str) -> None:
    async with AsyncConnectionPool(private_database_url, min_size=1, max_size=2, open=False) as pool:
        batches = [
            _events("a", 1500),
            [("omnitrail.contacts.v1", None, b"snapshot"), *_events("b", 2)],
            _events("c", 3),
        ]
        for records in batches:
            async with pool.connection() as conn, conn.transaction():
                await outbox.append(conn, records)

        down = Published(fail=True)
        with pytest.raises(ConnectionError):
            await outbox.drain(pool, down)
        up = Published()
        # Two rounds of two transactions each: nothing lost to the failed drain, nothing twice.
        assert await outbox.drain(pool, up, limit=2) == 1506
        assert up.records == [r for records in batches for r in records]
        assert await outbox.drain(pool, Published()) == 0


class Topic:
    """What reaches the topic, through a broker that acknowledges at once (``fast``) or once released (``slow``)."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.inside, self.release = asyncio.Event(), asyncio.Event()

    async def slow(self, records: Sequence[Record]) -> None:
        self.inside.set()
        await self.release.wait()
        self.records.extend(records)

    async def fast(self, records: Sequence[Record]) -> None:
        self.records.extend(records)


async def _first_drainer_publishing(
    pool: AsyncConnectionPool[Any], topic: Topic, older: list[Record], newer: list[Record]
) -> asyncio.Task[int]:
    """A drainer publishing ``older`` to the slow broker, and ``newer`` appended behind it meanwhile."""
    async with pool.connection() as conn, conn.transaction():
        await outbox.append(conn, older)
    first = asyncio.create_task(outbox.drain(pool, topic.slow))
    await topic.inside.wait()
    async with pool.connection() as conn, conn.transaction():
        await outbox.append(conn, newer)
    return first


async def test_a_second_drainer_waits_for_the_first_so_a_keys_events_stay_in_order(private_database_url: str) -> None:
    """Two processes drain one outbox (workers, media stages, consoles): the newer events of a key must not
    overtake the older ones that another drainer is still publishing."""
    async with AsyncConnectionPool(private_database_url, min_size=1, max_size=3, open=False) as pool:
        older, newer, topic = _events("older", 3), _events("newer", 3), Topic()
        first = await _first_drainer_publishing(pool, topic, older, newer)
        second = asyncio.create_task(outbox.drain(pool, topic.fast))

        async def second_waits_or_ended() -> bool:
            async with await psycopg.AsyncConnection.connect(private_database_url) as probe:
                cur = await probe.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                waiting = (await cur.fetchone() or (0,))[0]
            return second.done() or waiting > 0

        await eventually(second_waits_or_ended, what="the second drainer waiting for the lock, or done")
        topic.release.set()
        assert (await first, await second) == (3, 3)
        assert topic.records == older + newer


async def test_a_drainer_stuck_on_a_slow_broker_holds_up_the_others_only_briefly(private_database_url: str) -> None:
    """Past its wait, a second drainer leaves the rows (publishing nothing, so nothing is reordered) instead of
    holding its worker's batch or console request for as long as the first one's broker takes."""
    async with AsyncConnectionPool(private_database_url, min_size=1, max_size=3, open=False) as pool:
        older, newer, topic = _events("older", 2), _events("newer", 2), Topic()
        first = await _first_drainer_publishing(pool, topic, older, newer)
        # Gave up waiting: returned, published nothing (without the bound it would wait for the stuck one).
        assert await asyncio.wait_for(outbox.drain(pool, topic.fast, wait_s=0.2), timeout=30) == 0
        assert topic.records == []
        topic.release.set()
        assert await first == 2
        assert await outbox.drain(pool, topic.fast) == 2  # the next drain takes what was left
        assert topic.records == older + newer
