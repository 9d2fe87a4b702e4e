"""A worker killed with SIGKILL at random points under load (5 kills during 20,000 interactions), each
time restarted by `omnitrail up`'s supervisor, leaves no gap and no duplicate."""

from __future__ import annotations

import json
import os
import random
import signal
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from sinks.connection import Conn
from tests.helpers import sms_interaction
from tests.integration.rows import one
from tests.integration.stack import Stack, at_least, eventually, read_topic, start_up

pytestmark = pytest.mark.integration
N = 20_000
KILLS = 5


@pytest.fixture(scope="module")
def database_url(private_database_url: str) -> str:
    """A database of this module's own: the session's long-running stacks drain the transactional
    outbox of the database they share (SKIP LOCKED), so on the shared one they would publish this
    test's timeline events to the session broker, and the check below would miss them here."""
    return private_database_url


@pytest.fixture
def stack(private_broker: EmbeddedBroker, database_url: str, tmp_path: Path) -> Iterator[Stack]:
    # Small batches so the kill lands between commits, not after the last one.
    running = start_up(
        tmp_path, bootstrap=private_broker.bootstrap, database_url=database_url, OMNITRAIL_WORKER_BATCH_SIZE="200"
    )
    yield running
    running.stop()


async def test_sigkill_mid_batch_loses_nothing_and_duplicates_nothing(
    stack: Stack, private_broker: EmbeddedBroker, db: Conn
) -> None:
    broker = private_broker
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
        return int((await one(cur))[0])

    # Kill points spread over the stream at random row counts, so kills land inside batches, between
    # the database commit and the offset commit, during the outbox drain, or while rejoining the group.
    thresholds = sorted(rng.sample(range(N // 20, N * 3 // 5), KILLS))
    killed_at: list[int] = []
    victims: list[int] = []
    for threshold in thresholds:
        [victim] = await eventually(lambda: _one_worker(stack, victims), timeout=60, what="a (new) worker")
        await eventually(partial(at_least, stored, threshold), timeout=120, what=f"{threshold} rows")
        os.kill(victim, signal.SIGKILL)
        victims.append(victim)
        killed_at.append(await stored())
    assert killed_at[-1] < N, f"every kill must land mid-stream (rows at each kill: {killed_at})"

    # The supervisor restarts the worker; the killed member's partitions come back after its session timeout.
    await eventually(lambda: at_least(stored, N), timeout=240, what=f"all {N} rows (kills at {killed_at})")
    cur = await db.execute(
        "SELECT count(*), count(DISTINCT interaction_id) FROM interactions WHERE interaction_id = ANY(%s)", (ids,)
    )
    total, distinct = await one(cur)
    assert (total, distinct) == (N, N)
    print(f"worker SIGKILLed {KILLS} times at rows {killed_at} of {N}: {total} rows, {distinct} distinct")
    # The supervisor brought a worker back (it may still be in its restart backoff right now).
    await eventually(lambda: _one_worker(stack, victims), timeout=90, what="a restarted worker")

    # Every committed row was published (the outbox survives the crash): no gap on the timeline topic.
    async def published() -> bool:
        wanted = {str(i) for i in ids}
        seen = set()
        for _, value in await read_topic(broker.bootstrap, topics.TIMELINE):
            assert value is not None  # every record on these topics has a value
            event = json.loads(value)
            if event["type"] == "interaction.added":
                seen.add(event["interaction"]["interaction_id"])
        return wanted <= seen

    await eventually(published, timeout=120, what="interaction.added for every row")


async def _one_worker(stack: Stack, dead: list[int]) -> list[int] | None:
    alive = [pid for pid in stack.worker_pids() if pid not in dead]
    return alive if len(alive) == 1 else None
