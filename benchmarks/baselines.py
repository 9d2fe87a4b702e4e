"""The two reference pipelines the worker is compared with, each run as its own process.

ceiling: aiokafka consume + ``Interaction.model_validate_json`` + psycopg COPY, no logic: the
         physical limit of this stack (broker, pydantic, PostgreSQL) on this machine.
naive:   what a hand-rolled pipeline does: per event validate, SELECT the contact, INSERT a
         contact when new, single-row INSERT of the interaction, commit.

Run as ``python benchmarks/baselines.py ceiling|naive BOOTSTRAP URL TOPIC COUNT``; consumes COUNT
records from the start of TOPIC (manual assignment, no group). The ceiling takes batches of 2,000, the
worker's default batch size, so first-to-last-row timing is biased alike. Each reports its own rusage
(CPU time, peak RSS) as its last line, since it exits before the parent could sample it.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import uuid

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.interaction import Interaction


async def _consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=8 << 20
    )
    await consumer.start()
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    await consumer.seek_to_beginning(*parts)
    return consumer


async def ceiling(bootstrap: str, url: str, topic: str, count: int) -> None:
    consumer = await _consumer(bootstrap, topic)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        seen = 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            rows = [Interaction.model_validate_json(m.value) for ms in batch.values() for m in ms]
            seen += len(rows)
            async with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY ceiling_rows (interaction_id, channel, occurred_at, received_at, document) FROM STDIN"
                ) as copy,
            ):
                for r in rows:
                    await copy.write_row(
                        (r.interaction_id, r.channel.value, r.occurred_at, r.received_at, r.model_dump_json())
                    )
            await conn.commit()
    await consumer.stop()


async def naive(bootstrap: str, url: str, topic: str, count: int) -> None:
    consumer = await _consumer(bootstrap, topic)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        seen = 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            for message in [m for ms in batch.values() for m in ms][: count - seen]:
                seen += 1
                i = Interaction.model_validate_json(message.value)
                phone = i.customer_identifiers()[0]
                row = await (
                    await conn.execute(
                        "SELECT contact_id FROM contact_identifiers WHERE kind = %s AND value = %s",
                        (phone.kind.value, phone.value),
                    )
                ).fetchone()
                if row is None:
                    contact_id = uuid.uuid4()
                    await conn.execute("INSERT INTO contacts (contact_id) VALUES (%s)", (contact_id,))
                    await conn.execute(
                        "INSERT INTO contact_identifiers (kind, value, contact_id, rule) VALUES (%s, %s, %s, 'exact')",
                        (phone.kind.value, phone.value, contact_id),
                    )
                else:
                    contact_id = row[0]
                await conn.execute(
                    "INSERT INTO interactions (interaction_id, contact_id, channel, direction, kind, occurred_at,"
                    " received_at, thread_key, document) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
                    " ON CONFLICT (interaction_id) DO NOTHING",
                    (
                        i.interaction_id,
                        contact_id,
                        i.channel.value,
                        i.direction.value,
                        i.kind.value,
                        i.occurred_at,
                        i.received_at,
                        i.thread_key,
                        i.model_dump_json(),
                    ),
                )
                await conn.commit()
    await consumer.stop()


def main() -> None:
    kind, bootstrap, url, topic, count = sys.argv[1:6]
    run = ceiling if kind == "ceiling" else naive
    asyncio.run(run(bootstrap, url, topic, int(count)))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(orjson.dumps({"cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}).decode(), flush=True)


if __name__ == "__main__":
    main()
