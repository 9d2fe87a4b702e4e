"""The outbox on the real PostgreSQL: what writers append is published in commit order and deleted only
once published."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from psycopg_pool import AsyncConnectionPool

from sinks import outbox
from sinks.kafka.records import Record

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
