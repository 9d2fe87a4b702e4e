"""The throw-away databases of tests and benchmarks: named under their prefix, migrated when asked, and
gone when their block ends, even when it fails with a session still open in them."""

from __future__ import annotations

from contextlib import ExitStack

import psycopg
import pytest

from sinks.scratch_database import ADMIN_PG, async_scratch_database, scratch_database

pytestmark = pytest.mark.integration


class BlockFailed(Exception):
    """Raised inside a scratch database's block; carries the database's URL."""


def exists(url: str) -> bool:
    with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
        cur = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.rsplit("/", 1)[1],))
        return cur.fetchone() is not None


def fail_with_a_session_open(sessions: ExitStack) -> None:
    with scratch_database("omnitrail_test_scratch") as url:
        session = sessions.enter_context(psycopg.connect(url, autocommit=True))  # outlives the block
        assert url.rsplit("/", 1)[1].startswith("omnitrail_test_scratch_")
        assert session.execute("SELECT count(*) > 0 FROM schema_migrations").fetchone() == (True,)
        raise BlockFailed(url)


async def fail_in_an_unmigrated_one() -> None:
    async with async_scratch_database("omnitrail_test_scratch", migrated=False) as url:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            cur = await conn.execute("SELECT to_regclass('schema_migrations')")
            assert await cur.fetchone() == (None,)
        raise BlockFailed(url)


def test_a_failing_block_leaves_no_database_behind_though_a_session_is_still_open() -> None:
    with ExitStack() as sessions:
        with pytest.raises(BlockFailed) as failed:
            fail_with_a_session_open(sessions)
        assert not exists(failed.value.args[0])


async def test_an_unmigrated_one_is_empty_and_dropped_when_its_block_fails() -> None:
    with pytest.raises(BlockFailed) as failed:
        await fail_in_an_unmigrated_one()
    assert not exists(failed.value.args[0])
