"""Worker throughput next to the raw ceiling of this stack, measured in one run.

ceiling:   plain aiokafka consume + model_validate_json + psycopg COPY of the same rows, no logic
omnitrail: the real `omnitrail worker` process (dedupe, identity, timeline write, timeline topic)

Usage: python benchmarks/throughput.py [--records 20000] [--seed 42]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust); starts its own broker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime

import psutil
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from omnitrail import kafka
from omnitrail.local_stack import EmbeddedBroker
from omnitrail.settings import KafkaSettings
from schemas import topics
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Channel, Direction, Interaction, Party, Provider
from sinks import migrate

ADMIN_PG = os.environ.get("OMNITRAIL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
WORDS = [
    "olá",
    "encomenda",
    "entrega",
    "fatura",
    "obrigado",
    "pedido",
    "ajuda",
    "reembolso",
    "morada",
    "cliente",
    "produto",
]


def corpus(n: int, seed: int) -> list[Interaction]:
    rng = random.Random(seed)
    phones = [f"+3519{rng.randint(10**7, 10**8 - 1)}" for _ in range(10_000)]
    channels = [Channel.sms, Channel.whatsapp, Channel.mms]
    unique = int(n * 0.9)
    now = time.time()
    items = []
    for k in range(unique):
        at = datetime.fromtimestamp(now, UTC)
        items.append(
            Interaction.build(
                channel=rng.choice(channels),
                provider=Provider.twilio,
                account="+351210000000",
                direction=Direction.inbound,
                occurred_at=at,
                received_at=at,
                external_id=f"SMB{seed}-{k:08d}",
                sender=Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=rng.choice(phones))]),
                recipients=[Party(identifiers=[Identifier(kind=IdentifierKind.phone, value="+351210000000")])],
                text=" ".join(rng.choice(WORDS) for _ in range(90)),
            )
        )
    items += [rng.choice(items[:unique]) for _ in range(n - unique)]  # exact redeliveries
    rng.shuffle(items)
    return items


async def produce(bootstrap: str, items: list[Interaction]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1_048_576)
    await producer.start()
    try:
        for i in items:
            await producer.send(topics.INTERACTIONS, i.model_dump_json().encode(), key=i.routing_key())
        await producer.flush()
    finally:
        await producer.stop()


async def ceiling(bootstrap: str, url: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=8 << 20
    )
    await consumer.start()
    parts = [TopicPartition(topics.INTERACTIONS, p) for p in consumer.partitions_for_topic(topics.INTERACTIONS) or []]
    consumer.assign(parts)
    await consumer.seek_to_beginning(*parts)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute("CREATE TABLE ceiling_rows (id uuid, channel text, occurred_at timestamptz, doc jsonb)")
        await conn.commit()
        started, seen = time.perf_counter(), 0
        while seen < n:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            rows = [Interaction.model_validate_json(m.value) for ms in batch.values() for m in ms]
            seen += len(rows)
            async with conn.cursor() as cur, cur.copy("COPY ceiling_rows FROM STDIN") as copy:
                for r in rows:
                    await copy.write_row((r.interaction_id, r.channel.value, r.occurred_at, r.model_dump_json()))
            await conn.commit()
        elapsed = time.perf_counter() - started
    await consumer.stop()
    return n / elapsed


def run_worker(bootstrap: str, url: str, expected: int) -> tuple[float, float, float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRAIL_")}
    env.update(
        OMNITRAIL_KAFKA_BOOTSTRAP=bootstrap,
        OMNITRAIL_DATABASE_URL=url,
        OMNITRAIL_KAFKA_IDEMPOTENCE="false",
        OMNITRAIL_KAFKA_SESSION_TIMEOUT_S="6",
        OMNITRAIL_KAFKA_HEARTBEAT_INTERVAL_S="1",
        OMNITRAIL_KAFKA_REBALANCE_TIMEOUT_S="6",
        OMNITRAIL_LOG_LEVEL="warning",
        OMNITRAIL_DATA_DIR=tempfile.mkdtemp(),
    )
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "omnitrail", "worker"], env=env, stderr=subprocess.DEVNULL)
    ps, peak, first, count = psutil.Process(proc.pid), 0, None, 0
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            while count < expected and time.perf_counter() - started < 150:
                count = conn.execute("SELECT count(*) FROM interactions").fetchone()[0]  # type: ignore[index]
                if count and first is None:
                    first = time.perf_counter()
                peak = max(peak, ps.memory_info().rss)
                time.sleep(0.05)
        done = time.perf_counter()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    first = first or done
    return expected / (done - started), expected / max(done - first, 1e-9), first - started, peak


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    items = corpus(args.records, args.seed)
    unique = len({i.interaction_id for i in items})
    avg = sum(len(i.model_dump_json()) for i in items[:500]) / 500
    broker = EmbeddedBroker()
    broker.start()
    name = f"omnitrail_bench_{uuid.uuid4().hex[:8]}"
    url = ADMIN_PG.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        asyncio.run(kafka.create_topics(KafkaSettings(partitions=4), broker.bootstrap))
        asyncio.run(migrate.migrate(url))
        asyncio.run(produce(broker.bootstrap, items))
        ceil = asyncio.run(ceiling(broker.bootstrap, url, len(items)))
        total, steady, join, peak = run_worker(broker.bootstrap, url, unique)
        with psycopg.connect(url) as conn:
            rows, distinct = conn.execute(
                "SELECT count(*), count(DISTINCT interaction_id) FROM interactions"
            ).fetchone()  # type: ignore[misc]
    finally:
        broker.stop()
        with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
    print(
        f"corpus     : {len(items)} records ({unique} unique, 10% redeliveries), {avg / 1024:.1f} KB avg, 4 partitions"
    )
    print(f"ceiling    : {ceil:8.0f} interactions/s  (aiokafka consume + model_validate_json + COPY)")
    print(f"omnitrail  : {steady:8.0f} interactions/s  first..last row;  {total:.0f}/s incl. {join:.1f}s group join")
    print(f"ratio      : omnitrail/ceiling = {steady / ceil:.2f} (steady), {total / ceil:.2f} (incl. join)")
    print(f"worker RSS : peak {peak / 2**20:.0f} MB")
    print(f"correctness: rows {rows} (expected {unique}), duplicates {rows - distinct}, missing {unique - distinct}")
    return 0 if rows == distinct == unique else 1


if __name__ == "__main__":
    sys.exit(main())
