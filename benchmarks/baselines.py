"""The two reference pipelines the worker is compared with, each run as its own process.

ceiling: aiokafka consume + ``Interaction.model_validate_json`` + psycopg COPY, no logic: the
         physical limit of this stack (broker, pydantic, PostgreSQL) on this machine.
ceiling-timeline: the same into a table of the timeline's shape (its generated full-text column
         and its indexes, no keys): what storing these rows there costs, with no logic. A
         reference only; the issue's ratio is against ``ceiling``.
naive:   what a hand-rolled pipeline does: per event validate, SELECT the contact, INSERT a
         contact when new, single-row INSERT of the interaction, commit.

Run as ``python benchmarks/baselines.py ceiling|ceiling-timeline|naive BOOTSTRAP URL TOPIC COUNT``; consumes COUNT
records from the start of TOPIC (manual assignment, no group). The ceiling takes batches of 2,000, the
worker's default batch size, so first-to-last-row timing is biased alike. Each reports its own rusage
(CPU time, peak RSS) as its last line, since it exits before the parent could sample it.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import uuid
from collections.abc import Callable

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.interaction import Interaction


async def _consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_wait_ms=100,  # as the worker's: aiokafka's 500 ms stalled the ceiling's reads at random
    )
    await consumer.start()
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    await consumer.seek_to_beginning(*parts)
    return consumer


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# Each returns the CPU spent before its first record (imports, connecting): not the cost of an interaction.


async def ceiling(bootstrap: str, url: str, topic: str, count: int) -> float:
    statement = "COPY ceiling_rows (interaction_id, channel, occurred_at, received_at, document) FROM STDIN"
    return await _copy_all(bootstrap, url, topic, count, statement, _plain_row)


async def ceiling_timeline(bootstrap: str, url: str, topic: str, count: int) -> float:
    statement = (
        "COPY ceiling_timeline_rows (interaction_id, contact_id, channel, direction, kind, occurred_at,"
        " received_at, thread_key, document) FROM STDIN"
    )
    return await _copy_all(bootstrap, url, topic, count, statement, _timeline_row)


_NO_CONTACT = uuid.UUID(int=0)


def _plain_row(r: Interaction) -> tuple[object, ...]:
    return (r.interaction_id, r.channel.value, r.occurred_at, r.received_at, r.model_dump_json())


def _timeline_row(r: Interaction) -> tuple[object, ...]:
    return (
        r.interaction_id,
        _NO_CONTACT,
        r.channel.value,
        r.direction.value,
        r.kind.value,
        r.occurred_at,
        r.received_at,
        r.thread_key,
        r.model_dump_json(),
    )


async def _copy_all(
    bootstrap: str, url: str, topic: str, count: int, statement: str, row: Callable[[Interaction], tuple[object, ...]]
) -> float:
    consumer = await _consumer(bootstrap, topic)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        start_cpu_s = _cpu_s()
        seen = 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            rows = [Interaction.model_validate_json(m.value) for ms in batch.values() for m in ms]
            seen += len(rows)
            async with conn.cursor() as cur, cur.copy(statement.encode()) as copy:
                for r in rows:
                    await copy.write_row(row(r))
            await conn.commit()
    await consumer.stop()
    return start_cpu_s


async def naive(bootstrap: str, url: str, topic: str, count: int) -> float:
    consumer = await _consumer(bootstrap, topic)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        start_cpu_s = _cpu_s()
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
    return start_cpu_s


def main() -> None:
    kind, bootstrap, url, topic, count = sys.argv[1:6]
    run = {"ceiling": ceiling, "ceiling-timeline": ceiling_timeline, "naive": naive}[kind]
    start_cpu_s = asyncio.run(run(bootstrap, url, topic, int(count)))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report = {"cpu_s": _cpu_s(), "start_cpu_s": start_cpu_s, "maxrss_kb": usage.ru_maxrss}
    print(orjson.dumps(report).decode(), flush=True)


if __name__ == "__main__":
    main()
