"""The email pull loop through a PostgreSQL restart or failover (its pool's connections killed between
polls, as the server does then): it sits the fault out and reads the next message once the database answers."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from connectors.pull import PullLoop
from connectors.testing import InMemoryEmitter
from sinks.checkpoint_store import PostgresCheckpoints
from tests.integration.dovecot import Dovecot
from tests.integration.email_source import Mailbox
from tests.integration.stack import eventually

pytestmark = pytest.mark.integration


async def test_checkpoint_store_connections_killed_between_polls_the_loop_reads_on(
    dovecot: Dovecot, private_database_url: str, private_db: Any
) -> None:
    box = Mailbox(dovecot, poll_interval_s=1)
    await box.add(1)
    emitter = InMemoryEmitter()
    async with AsyncConnectionPool(private_database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        checkpoints = PostgresCheckpoints(pool)
        loop = PullLoop(box.connector(), emitter, checkpoints, first_delay=0.1, max_delay=0.5)
        task = asyncio.create_task(loop.run())
        try:

            async def saved(uid: int) -> bool:
                cur = await private_db.execute(
                    "SELECT state->>'last_uid' FROM connector_checkpoints WHERE account = %s", (box.user,)
                )
                row = await cur.fetchone()
                return row is not None and int(row[0]) >= uid

            await eventually(lambda: saved(1), timeout=20, what="the first message checkpointed")
            await private_db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await box.add(1)

            async def both() -> bool:
                assert not task.done(), f"the pull loop stopped: {loop.health.state}"
                return len({i.external_id for i in emitter.interactions}) == 2

            await eventually(both, timeout=30, what="the message after the database restart")
            await eventually(lambda: saved(2), timeout=20, what="its checkpoint")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
