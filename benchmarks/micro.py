"""Micro-benchmarks of the worker's hot spots, each printed as a ratio to the way the code did it.

JSON: pydantic ``model_validate_json`` / ``model_dump_json`` next to orjson on the same records.
Rows: one batch of 2,000 interactions into PostgreSQL by COPY, by ``unnest`` arrays with text
parameters (psycopg's default: every element escaped by a regex) and with binary parameters,
and by ``executemany``. Producer: 2,000 records with ``send_and_wait`` each vs queue-then-wait.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import corpus
import orjson
import psycopg
from aiokafka import AIOKafkaProducer

from schemas.interaction import Interaction


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def report(title: str, baseline: tuple[str, float], *others: tuple[str, float], unit: int = 1) -> None:
    name, base = baseline
    print(f"  {title}")
    for label, seconds in (baseline, *others):
        print(f"    {label:<34}{seconds * 1e6 / unit:9.1f} µs/item  x{base / seconds:5.2f} vs {name}")


def json_costs(values: list[bytes]) -> None:
    models = [Interaction.model_validate_json(v) for v in values]
    n = len(values)
    report(
        "decode (bytes -> interaction)",
        ("pydantic model_validate_json", best_of(lambda: [Interaction.model_validate_json(v) for v in values])),
        ("orjson.loads (no validation)", best_of(lambda: [orjson.loads(v) for v in values])),
        (
            "orjson.loads + model_validate",
            best_of(lambda: [Interaction.model_validate(orjson.loads(v)) for v in values]),
        ),
        unit=n,
    )
    report(
        "encode (interaction -> JSON)",
        ("pydantic model_dump_json", best_of(lambda: [m.model_dump_json() for m in models])),
        ("orjson.dumps(model_dump())", best_of(lambda: [orjson.dumps(m.model_dump(mode="json")) for m in models])),
        ("reuse the received bytes", best_of(lambda: [bytes(v) for v in values])),
        unit=n,
    )


async def row_costs(url: str, values: list[bytes]) -> None:
    models = [Interaction.model_validate_json(v) for v in values]
    docs = [m.model_dump_json() for m in models]
    cols = "interaction_id, contact_id, channel, direction, kind, occurred_at, received_at, thread_key, document"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        contact = uuid.uuid4()
        await conn.execute("INSERT INTO contacts (contact_id) VALUES (%s)", (contact,))

        def rows() -> list[tuple[Any, ...]]:
            # Fresh ids each time, so every variant inserts (none is a no-op conflict).
            return [
                (
                    uuid.uuid4(),
                    contact,
                    m.channel.value,
                    m.direction.value,
                    m.kind.value,
                    m.occurred_at,
                    m.received_at,
                    m.thread_key,
                    d,
                )
                for m, d in zip(models, docs, strict=True)
            ]

        async def copy() -> None:
            async with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY interactions ({cols}) FROM STDIN") as cp,
            ):
                for r in rows():
                    await cp.write_row(r)

        async def unnest(binary: bool) -> None:
            rs = rows()
            async with conn.transaction():
                await conn.cursor(binary=binary).execute(
                    f"INSERT INTO interactions ({cols}) SELECT i, c, ch, d, k, o, r, t, doc::jsonb"
                    " FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[],"
                    " %s::timestamptz[], %s::timestamptz[], %s::text[], %s::text[]) AS x(i, c, ch, d, k, o, r, t, doc)"
                    " ON CONFLICT (interaction_id) DO NOTHING",
                    [list(col) for col in zip(*rs, strict=True)],
                    binary=binary,
                )

        async def executemany() -> None:
            async with conn.transaction(), conn.cursor() as cur:
                await cur.executemany(
                    f"INSERT INTO interactions ({cols}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
                    " ON CONFLICT (interaction_id) DO NOTHING",
                    rows(),
                )

        async def timed(fn: Callable[[], Any]) -> tuple[float, float]:
            wall = cpu = float("inf")
            for _ in range(3):
                started, cpu_started = time.perf_counter(), time.process_time()
                await fn()
                wall = min(wall, time.perf_counter() - started)
                cpu = min(cpu, time.process_time() - cpu_started)
            return wall, cpu

        n = len(values)
        variants = [
            ("unnest, text parameters", await timed(lambda: unnest(False))),
            ("unnest, binary parameters", await timed(lambda: unnest(True))),
            ("COPY", await timed(copy)),
            ("executemany (pipelined)", await timed(executemany)),
        ]
        report(
            f"timeline insert, one transaction of {n} rows: wall time, PostgreSQL included",
            *[(label, wall) for label, (wall, _) in variants],
            unit=n,
        )
        report(
            f"timeline insert, one transaction of {n} rows: client CPU only (the worker's share)",
            *[(label, cpu) for label, (_, cpu) in variants],
            unit=n,
        )


async def producer_costs(bootstrap: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1_048_576)
    await producer.start()
    try:

        async def each() -> None:
            for v in values[:500]:
                await producer.send_and_wait("bench.micro", v)

        async def batched() -> None:
            futures = [await producer.send("bench.micro", v) for v in values[:500]]
            await asyncio.gather(*futures)

        async def timed(fn: Callable[[], Any]) -> float:
            started = time.perf_counter()
            await fn()
            return time.perf_counter() - started

        report(
            "produce 500 records, acks=all, linger 5 ms (wall time)",
            ("send_and_wait per record", await timed(each)),
            ("send all, then wait for all", await timed(batched)),
            unit=500,
        )
    finally:
        await producer.stop()


def main(data: corpus.Corpus, url: str) -> None:
    values = [corpus.stamp(v) for _, v in data.records[:2000]]
    print("micro      : (best of 3 unless noted; ratios > 1 are faster than the first line)")
    json_costs(values)
    asyncio.run(row_costs(url, values))
    with corpus.broker() as bootstrap:
        asyncio.run(corpus.create_topic(bootstrap, "bench.micro", 1))
        asyncio.run(producer_costs(bootstrap, values))
