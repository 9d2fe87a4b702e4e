"""Console timeline reads on the real PostgreSQL: a page of a long timeline, unfiltered, by
channel, and with full-text search (migration 0010), as p50/p95 latency per request.

corpus: ``--contacts`` contacts with ``--per-contact`` interactions each (SMS, WhatsApp, email),
        Portuguese and English texts, some with accents; one "heavy" contact with ``--heavy``
        interactions (a long-standing customer: the worst case for a filtered page)

Usage: python benchmarks/timeline_search.py [--contacts 2000] [--per-contact 20] [--heavy 20000] [--reads 200]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust); makes and drops its own database.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import psycopg

from sinks import queries
from sinks.scratch_database import async_scratch_database

WORDS = [
    "olá",
    "encomenda",
    "não",
    "chegou",
    "fatura",
    "obrigada",
    "ajuda",
    "entrega",
    "atrasada",
    "pagamento",
    "recebido",
    "devolução",
    "hello",
    "parcel",
    "arrived",
    "damaged",
    "invoice",
    "thanks",
    "refund",
    "delivery",
    "late",
    "payment",
    "received",
    "return",
]
CHANNELS = ["sms", "whatsapp", "email"]


def document(rng: random.Random, contact: int, n: int, at: datetime) -> tuple[uuid.UUID, str, dict[str, object]]:
    channel = rng.choice(CHANNELS)
    iid = uuid.UUID(int=rng.getrandbits(128))
    return (
        iid,
        channel,
        {
            "interaction_id": str(iid),
            "channel": channel,
            "direction": rng.choice(["inbound", "outbound"]),
            "kind": "message",
            "occurred_at": at.isoformat(),
            "subject": f"Pedido {contact}-{n}" if channel == "email" else None,
            "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40))),
        },
    )


async def load(url: str, contacts: int, per_contact: int, heavy: int, seed: int, *, old_links: bool) -> uuid.UUID:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(contacts)]
    async with await psycopg.AsyncConnection.connect(url) as conn:
        async with conn.cursor().copy("COPY contacts (contact_id) FROM STDIN") as copy:
            for cid in ids:
                await copy.write_row((cid,))
        async with conn.cursor().copy(
            "COPY interactions (interaction_id, contact_id, channel, direction, kind, occurred_at, received_at, "
            "document) FROM STDIN"
        ) as copy:
            for index, cid in enumerate(ids):
                for n in range(heavy if index == 0 else per_contact):
                    at = now - timedelta(minutes=rng.randint(0, 60 * 24 * 365 * 3))
                    iid, channel, doc = document(rng, index, n, at)
                    await copy.write_row(
                        (iid, cid, channel, doc["direction"], "message", at, at, orjson.dumps(doc).decode())
                    )
        if old_links:  # a database written before migration 0015: the first customer linked too
            await conn.execute(
                "INSERT INTO interaction_contacts SELECT interaction_id, contact_id, occurred_at FROM interactions"
            )
        await conn.commit()
        await conn.execute("ANALYZE interactions")
        await conn.execute("ANALYZE interaction_contacts")
        await conn.commit()
    return ids[0]


async def measure(url: str, contact: uuid.UUID, reads: int, where: queries.TimelineFilter) -> tuple[float, float, int]:
    latencies = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for _ in range(reads):
            start = time.perf_counter()
            page = await queries.timeline(conn, contact, limit=30, cursor=None, order="desc", where=where)
            latencies.append((time.perf_counter() - start) * 1000)
    assert page is not None
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.95) - 1], len(page.items)


CASES = {
    "unfiltered": queries.TimelineFilter(),
    "channel=whatsapp": queries.TimelineFilter(channels=("whatsapp",)),
    "q=nao chegou": queries.TimelineFilter(text="nao chegou"),
    'q="parcel damaged"': queries.TimelineFilter(text='"parcel damaged"'),
    "q=devolucao,inbound": queries.TimelineFilter(text="devolucao", direction="inbound"),
}


async def run(
    contacts: int = 2000,
    per_contact: int = 20,
    heavy: int = 20000,
    reads: int = 200,
    seed: int = 42,
    **load_options: bool,
) -> dict[str, float]:
    """Load a throw-away database, print each case's line; p50 ms per case."""
    medians = {}
    async with async_scratch_database("omnitrail_bench") as url:
        start = time.perf_counter()
        worst = await load(url, contacts, per_contact, heavy, seed, old_links=load_options.get("old_links", False))
        rows = contacts * per_contact - per_contact + heavy
        print(f"console    : {rows} interactions, {contacts} contacts, the worst-case contact has {heavy}")
        print(f"load       : {rows / (time.perf_counter() - start):.0f} rows/s (COPY, tsvector generated)")
        for label, where in CASES.items():
            p50, p95, found = await measure(url, worst, reads, where)
            print(f"  {label:<22} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  ({found} items, first page of 30)")
            if found < 30:  # the heavy contact has hundreds of matches for every case: a page short is a bug
                raise SystemExit(f"{label}: {found} items instead of a full page")
            medians[label] = p50
    return medians


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--per-contact", type=int, default=20)
    parser.add_argument("--heavy", type=int, default=20000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--old-links", action="store_true", help="also link each first customer, as before migration 0015"
    )
    args = parser.parse_args()
    await run(args.contacts, args.per_contact, args.heavy, args.reads, args.seed, old_links=args.old_links)


if __name__ == "__main__":
    asyncio.run(main())
