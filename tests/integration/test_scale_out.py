"""The moving parts of a scaled-out deployment (docs/scaling.md) on one broker: 12 partitions, 3 workers, 2
connector processes taking signed webhooks side by side; one worker SIGKILLed mid-flood. Its partitions come
back to the other two after its session timeout, and nothing is lost, nothing doubled, every customer is one
contact holding exactly their interactions."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from omnitrail.local_stack import EmbeddedBroker
from sinks.connection import Conn
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from tests.helpers import inbound_sms, signed
from tests.integration.rows import one
from tests.integration.stack import FAST_GROUP, Stack, at_least, clean_env, eventually, start_up, stop_processes

pytestmark = pytest.mark.integration
PARTITIONS = 12
WORKERS = 3
PHONES = 90
MESSAGES = 900  # 10 per customer, plus every 10th posted twice (a provider's retry)


@pytest.fixture(scope="module")
def broker12() -> Iterator[EmbeddedBroker]:
    embedded = EmbeddedBroker()
    embedded.start()
    asyncio.run(clients.create_topics(KafkaSettings(partitions=PARTITIONS), embedded.bootstrap))
    yield embedded
    embedded.stop()


@pytest.fixture
def connectors(broker12: EmbeddedBroker, private_database_url: str, tmp_path: Path) -> Iterator[list[Stack]]:
    running = []
    try:
        for n in range(2):
            (tmp_path / f"c{n}").mkdir()
            # The address is required configuration; a push connector does not open the database.
            running.append(
                start_up(
                    tmp_path / f"c{n}",
                    "twilio",
                    command="connector",
                    bootstrap=broker12.bootstrap,
                    database_url=private_database_url,
                )
            )
        yield running
    finally:
        for stack in running:
            stack.stop()


@pytest.fixture
def workers(
    broker12: EmbeddedBroker, private_database_url: str, tmp_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = []
    for n in range(WORKERS):
        env = clean_env(
            OMNITRAIL_KAFKA_BOOTSTRAP=broker12.bootstrap,
            OMNITRAIL_KAFKA_IDEMPOTENCE="false",
            OMNITRAIL_DATABASE_URL=private_database_url,
            OMNITRAIL_WORKER_ID=f"scale-{n}",
            OMNITRAIL_WORKER_BATCH_SIZE="100",  # many commits, so the kill lands between some of them
            OMNITRAIL_WORKER_METRICS_PORT="0",
            OMNITRAIL_SUGGESTIONS_ENABLED="false",
            OMNITRAIL_DATA_DIR=str(tmp_path / f"w{n}"),
            **FAST_GROUP,
        )
        with (tmp_path / f"worker-{n}.log").open("wb") as log:  # the child keeps its own copy of the descriptor
            cmd = [sys.executable, "-m", "omnitrail", "worker"]
            procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
    yield procs
    stop_processes(procs)


async def test_three_workers_two_connectors_one_worker_killed(
    connectors: list[Stack], workers: list[subprocess.Popen[bytes]], private_db: Conn
) -> None:
    db = private_db

    async def held_by_all() -> bool:  # every worker joined and the 12 partitions are spread over them
        cur = await db.execute("SELECT worker_id, assignment FROM pipeline_workers WHERE assignment <> ''")
        rows = await cur.fetchall()
        held = sorted(int(p) for _, a in rows for p in a.split(","))
        return len(rows) == WORKERS and held == list(range(PARTITIONS))

    await eventually(held_by_all, timeout=60, what=f"{WORKERS} workers holding {PARTITIONS} partitions")

    rng = random.Random(21)
    tag = rng.randrange(10**6)
    phones = [f"+3519{rng.randrange(10**7, 10**8)}" for _ in range(PHONES)]
    posts = []
    for n in range(MESSAGES):
        params = inbound_sms(f"SM{tag:06d}{n:026d}", phones[n % PHONES], f"mensagem {n}")
        posts += [params] * (2 if n % 10 == 0 else 1)
    rng.shuffle(posts)
    victim = workers[rng.randrange(WORKERS)]

    async def stored() -> int:
        cur = await db.execute("SELECT count(*) FROM interactions")
        return int((await one(cur))[0])

    async def post(client: httpx.AsyncClient, k: int, params: dict[str, str]) -> None:
        stack = connectors[k % 2]  # the two connector processes take turns, as behind a load balancer
        url = f"{stack.url}/webhooks/twilio/messages"
        body, headers = signed(url, params)
        response = await client.post(url, content=body, headers=headers)
        assert response.status_code == 200, response.text  # acknowledged = on the broker: never lost

    async def flood() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            for start in range(0, len(posts), 50):
                await asyncio.gather(*(post(client, k, p) for k, p in enumerate(posts[start : start + 50], start)))

    async def kill() -> int:
        await eventually(lambda: at_least(stored, MESSAGES // 4), timeout=60, what="a quarter of the rows")
        victim.send_signal(signal.SIGKILL)  # mid-flood: its batches in flight are never committed
        return await stored()

    _, killed_at = await asyncio.gather(flood(), kill())
    assert killed_at < MESSAGES, f"the kill must land mid-flood (rows: {killed_at})"

    # The victim's partitions stay with it until its session timeout (6 s), then move to the other two.
    await eventually(
        lambda: at_least(stored, MESSAGES), timeout=60, what=f"{MESSAGES} rows (worker killed at {killed_at})"
    )
    # A barrier: one more message from each customer to each connector process, after every message above.
    # Its key (the phone) puts it behind them in their partition: directly, or behind them in the connector's
    # spool, which keeps the order it took them in. Once all are stored, a late duplicate would be too.
    barrier = [
        inbound_sms(f"SM{tag:06d}{MESSAGES + n:026d}", phone, "marcador")
        for n, phone in enumerate(p for p in phones for _ in connectors)
    ]
    async with httpx.AsyncClient(timeout=30) as client:  # k % 2: each phone's two markers go to both processes
        await asyncio.gather(*(post(client, k, params) for k, params in enumerate(barrier)))
    sids = [params["MessageSid"] for params in barrier]

    async def barrier_stored() -> bool:
        cur = await db.execute("SELECT count(*) FROM interactions WHERE document->>'external_id' = ANY(%s)", (sids,))
        return int((await one(cur))[0]) == len(barrier)

    await eventually(barrier_stored, timeout=60, what=f"the {len(barrier)} barrier messages")
    cur = await db.execute("SELECT count(*), count(DISTINCT interaction_id) FROM interactions")
    total = MESSAGES + len(barrier)
    assert await cur.fetchone() == (total, total)  # nothing lost, nothing doubled

    # Contacts right: one live contact per phone, and every interaction on the contact that owns its sender's phone.
    cur = await db.execute(
        """
        SELECT count(*) FILTER (WHERE o.contact_id IS NULL
                                   OR coalesce(oc.merged_into, oc.contact_id) <> coalesce(c.merged_into, c.contact_id))
          FROM interactions i JOIN contacts c ON c.contact_id = i.contact_id
          LEFT JOIN contact_identifiers o
                 ON o.kind = 'phone' AND o.value = i.document->'sender'->'identifiers'->0->>'value'
          LEFT JOIN contacts oc ON oc.contact_id = o.contact_id
        """
    )
    assert await cur.fetchone() == (0,)
    cur = await db.execute(
        "SELECT count(*) FROM contact_identifiers WHERE kind = 'phone' AND value = ANY(%s)", (phones,)
    )
    assert await cur.fetchone() == (PHONES,)
    cur = await db.execute("SELECT count(*) FROM contacts WHERE merged_into IS NULL")
    assert await cur.fetchone() == (PHONES,)
    print(f"worker killed at {killed_at} rows of {MESSAGES}; all stored once, {PHONES} contacts")
