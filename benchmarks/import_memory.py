"""Memory and speed of `omnitrail import interactions` on a large generated file: it must stream.

Generates a CSV (or JSON Lines) file of --rows rows (default 1,000,000; 2% of them invalid),
then runs the real importer (row reader, row -> v1 interaction, batches) and reports rows/s and
the process's peak RSS next to its RSS before the import. The emitter counts and drops what it
is given unless --broker is passed, which starts the embedded broker and produces for real
(acks and all), so the reader's own footprint is measured apart from the broker's.

Usage: python benchmarks/import_memory.py [--rows 1000000] [--format csv|jsonl] [--broker]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import tempfile
import time
from pathlib import Path

from connectors.emitter import KafkaEmitter
from connectors.testing import InMemoryEmitter
from omnitrail.imports.interaction_import import import_interactions
from omnitrail.imports.rows import RowReader, detect_format
from schemas.interaction import Interaction
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings

HEADER = "channel,direction,occurred_at,external_id,account,name,email,phone,subject,text,order_ref\r\n"


class CountingEmitter(InMemoryEmitter):
    """Acknowledges at once and keeps nothing: the importer's own memory, not a list of a million rows."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def emit_many(self, interactions: list[Interaction]) -> None:
        self.count += len(interactions)


def generate(path: Path, rows: int, fmt: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        if fmt == "csv":
            out.write(HEADER)
        for n in range(rows):
            email = f"customer{n % 200_000}@example.pt" if n % 50 else "not-an-email"  # 2% invalid
            phone = f"+3519{n % 100_000_000:08d}"
            when = f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z"
            text = f"Order {n}: the parcel has not arrived yet, could you check please?"
            if fmt == "csv":
                cells = ["email", "inbound", when, f"bench-{n}", "shop", f"Customer {n}", email, phone, f"Order {n}"]
                writer.writerow([*cells, text, f"A-{n}"])
            else:
                party = {"display_name": f"Customer {n}", "identifiers": [{"kind": "phone", "value": phone}]}
                if n % 50 == 0:
                    party["identifiers"] = [{"kind": "email", "value": email}]
                record = {
                    "channel": "email",
                    "account": "shop",
                    "direction": "inbound",
                    "occurred_at": when,
                    "external_id": f"bench-{n}",
                    "sender": party,
                    "subject": f"Order {n}",
                    "text": text,
                }
                out.write(json.dumps(record) + "\n")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(path: Path, fmt: str, broker: bool) -> None:
    reader = RowReader(path, detect_format(path, fmt))
    before = rss_mb()
    started = time.perf_counter()
    if broker:
        from omnitrail.local_stack import EmbeddedBroker

        embedded = EmbeddedBroker()
        embedded.start()
        settings = KafkaSettings(partitions=4, idempotence=False)
        await clients.create_topics(settings, embedded.bootstrap)
        producer = clients.producer(settings, embedded.bootstrap)
        await producer.start()
        started = time.perf_counter()
        try:
            summary = await import_interactions(reader, KafkaEmitter(producer), default_region="PT")
        finally:
            await producer.stop()
            embedded.stop()
    else:
        summary = await import_interactions(reader, CountingEmitter(), default_region="PT")
    elapsed = time.perf_counter() - started
    size_mb = reader.bytes_total / 1e6
    print(f"file       : {summary.accepted + summary.rejected} rows, {size_mb:.0f} MB {fmt}")
    print(f"emitter    : {'embedded broker (acks)' if broker else 'counting, no broker'}")
    print(f"result     : accepted {summary.accepted}, rejected {summary.rejected}")
    print(f"speed      : {(summary.accepted + summary.rejected) / elapsed:,.0f} rows/s ({elapsed:.1f} s)")
    print(f"memory     : peak RSS {rss_mb():.0f} MB (before the import {before:.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    parser.add_argument("--broker", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"interactions.{args.format}"
        generate(path, args.rows, args.format)
        asyncio.run(run(path, args.format, args.broker))


if __name__ == "__main__":
    main()
