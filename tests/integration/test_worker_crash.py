"""A worker killed with SIGKILL mid-batch and restarted leaves no gap and no duplicate."""

from __future__ import annotations

import json
import os
import random
import signal
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer

from schemas import topics
from tests.helpers import sms_interaction
from tests.integration.stack import Stack, eventually, read_topic, start_up

pytestmark = pytest.mark.integration
N = 8000


@pytest.fixture
def stack(broker, database_url, tmp_path) -> Iterator[Stack]:
    # Small batches so the kill lands between commits, not after the last one.
    running = start_up(
        tmp_path, bootstrap=broker.bootstrap, database_url=database_url, OMNITRAIL_WORKER_BATCH_SIZE="200"
    )
    yield running
    running.stop()


async def test_sigkill_mid_batch_loses_nothing_and_duplicates_nothing(stack, broker, db) -> None:
    rng = random.Random(7)
    base = rng.randint(0, 10**8)
    corpus = [sms_interaction(base * 100_000 + n, f"+3519{rng.randint(10**7, 10**8 - 1)}") for n in range(N)]
    ids = [i.interaction_id for i in corpus]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for interaction in corpus:
            await producer.send(
                topics.INTERACTIONS, interaction.model_dump_json().encode(), key=interaction.routing_key()
            )
        await producer.flush()
    finally:
        await producer.stop()

    async def stored() -> int:
        cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
        return (await cur.fetchone())[0]

    [victim] = stack.worker_pids()
    await eventually(lambda: _at_least(stored, 300), what="first batches committed")
    os.kill(victim, signal.SIGKILL)
    killed_at = await stored()
    assert killed_at < N, "the kill must land mid-stream for this test to mean anything"

    # The supervisor restarts the worker; the killed member's partitions come back after its session timeout.
    await eventually(lambda: _at_least(stored, N), timeout=150, what=f"all {N} rows (had {killed_at} at the kill)")
    cur = await db.execute(
        "SELECT count(*), count(DISTINCT interaction_id) FROM interactions WHERE interaction_id = ANY(%s)", (ids,)
    )
    total, distinct = await cur.fetchone()
    assert (total, distinct) == (N, N)
    assert stack.worker_pids()
    assert stack.worker_pids() != [victim]

    # Every committed row was published (the outbox survives the crash): no gap on the timeline topic.
    async def published() -> bool:
        wanted = {str(i) for i in ids}
        seen = set()
        for _, value in await read_topic(broker.bootstrap, topics.TIMELINE):
            event = json.loads(value)
            if event["type"] == "interaction.added":
                seen.add(event["interaction"]["interaction_id"])
        return wanted <= seen

    await eventually(published, timeout=60, what="interaction.added for every row")


async def _at_least(count, n: int) -> bool:
    return await count() >= n
