"""A pull connector that dies after the broker acknowledged a batch but before its checkpoint was written
re-sends that batch when it comes back, and the timeline still holds each message once.

The death is placed exactly there by a checkpoint store whose write never happens (the process is
gone by then); everything else is real: Dovecot, the IMAP connector, the session broker, the worker
of the session's ``omnitrail up`` and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from connectors.email.threads import ThreadEntry
from connectors.emitter import KafkaEmitter
from schemas import topics
from schemas.identifiers import Identifier
from schemas.ids import interaction_id_for
from schemas.interaction import Channel, Direction, Interaction, Party, Provider
from sinks.checkpoint_store import PostgresCheckpoints
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from sinks.thread_index import PostgresThreadIndex
from tests import email_corpus as corpus
from tests.integration.dovecot import Dovecot
from tests.integration.email_source import Mailbox
from tests.integration.stack import eventually, read_topic

pytestmark = pytest.mark.integration


class ProcessKilled(BaseException):
    """Stands for SIGKILL: nothing in the connector may catch it (it is not an Exception)."""


class DiesBeforeCheckpoint(PostgresCheckpoints):
    async def save(self, connector: str, account: str, scope: str, state: dict[str, Any]) -> None:
        raise ProcessKilled


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as p:
        yield p


async def test_killed_between_broker_ack_and_checkpoint_resends_and_the_timeline_holds_one_entry(
    dovecot: Dovecot, webhook_stack: Any, broker: Any, db: Any, pool: AsyncConnectionPool[Any]
) -> None:
    box = Mailbox(dovecot)
    await box.add(3)
    ids = [interaction_id_for("email", "", f"s{n}.{box.tag}@cliente.example") for n in range(3)]
    producer = clients.producer(KafkaSettings(idempotence=False), broker.bootstrap)
    await producer.start()
    emitter = KafkaEmitter(producer)
    try:
        first = box.connector(thread_index=PostgresThreadIndex(pool, ThreadEntry))
        with pytest.raises(ProcessKilled):
            await first.poll(emitter, DiesBeforeCheckpoint(pool))  # the batch is on the broker now
        assert await PostgresCheckpoints(pool).scopes("email", box.user) == {}

        restarted = box.connector(thread_index=PostgresThreadIndex(pool, ThreadEntry))
        try:
            assert await restarted.poll(emitter, PostgresCheckpoints(pool)) == 3  # sent again, from the start
        finally:
            await restarted.close()
        assert await PostgresCheckpoints(pool).scopes("email", box.user)
        # Same sender, so the same partition, behind the re-sent copies: once it is stored, they were processed.
        now = datetime.now(UTC)
        sentinel = Interaction.build(
            channel=Channel.email,
            provider=Provider.imap,
            account=corpus.SUPPORT,
            direction=Direction.inbound,
            occurred_at=now,
            received_at=now,
            external_id=f"<sentinel.{box.tag}@cliente.example>",
            sender=Party(identifiers=[Identifier.of("email", "cliente@cliente.example")]),
        )
        await emitter.emit(sentinel)
    finally:
        await first.close()
        await producer.stop()

    async def stored() -> bool:
        cur = await db.execute(
            "SELECT count(*) FROM interactions WHERE interaction_id = %s", (sentinel.interaction_id,)
        )
        return bool((await cur.fetchone())[0])

    await eventually(stored, what="the sentinel behind the re-sent copies in the timeline")
    # Each message is on the interactions topic twice (acknowledged before the death, and re-sent)...
    wanted = {str(i) for i in ids}
    sent = [
        json.loads(v)["interaction_id"]
        for _, v in await read_topic(broker.bootstrap, topics.INTERACTIONS)
        if v and b"cliente.example" in v and json.loads(v)["interaction_id"] in wanted
    ]
    assert sorted(sent) == sorted([*wanted, *wanted])
    # ... and once in the timeline.
    cur = await db.execute(
        "SELECT count(*), count(DISTINCT interaction_id) FROM interactions WHERE interaction_id = ANY(%s)", (ids,)
    )
    assert await cur.fetchone() == (3, 3)
