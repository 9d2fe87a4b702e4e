"""The outbox on the real PostgreSQL: what writers append is published in commit order and deleted only
once published; what the previous release's processes appended (one row per event) is published too."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from sinks import migrate, outbox
from tests.conftest import ADMIN_PG

pytestmark = pytest.mark.integration


class Published:
    def __init__(self, fail: bool = False) -> None:
        self.records: list[outbox.Record] = []
        self.fail = fail

    async def __call__(self, records: Sequence[outbox.Record]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.records += records


def _events(batch: str, n: int) -> list[outbox.Record]:
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


async def test_events_of_the_previous_release_are_published_first_in_their_order() -> None:
    """Its processes append one row per event to ``timeline_outbox`` (pending at the upgrade, or written
    during a rolling one); this release drains those before its own."""
    name = f"omnitrail_outbox_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]  # generated name, not input
    url = ADMIN_PG.rsplit("/", 1)[0] + "/" + name
    try:
        await migrate.migrate(url)
        old = [("t", b"k1", b"first"), ("u", None, b"second"), ("t", b"k1", b"third")]
        with psycopg.connect(url, autocommit=True) as conn:
            for topic, key, value in old:  # as the previous release's append wrote them
                conn.execute("INSERT INTO timeline_outbox (topic, key, value) VALUES (%s, %s, %s)", (topic, key, value))
        async with AsyncConnectionPool(url, min_size=1, max_size=1, open=False) as pool:
            async with pool.connection() as conn, conn.transaction():
                await outbox.append(conn, [("t", b"k1", b"fourth")])
            published = Published()
            assert await outbox.drain(pool, published) == 4
            assert published.records == [*old, ("t", b"k1", b"fourth")]
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT (SELECT count(*) FROM timeline_outbox), (SELECT count(*) FROM timeline_outbox_batches)"
                )
                assert await cur.fetchone() == (0, 0)
    finally:
        with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
