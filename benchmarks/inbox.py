"""The console's home view, ``GET /api/v1/inbox``, on the real PostgreSQL: p50/p95 latency per request and
the statements (round trips) each request sends, the auth's audit row included.

corpus: ``--contacts`` contacts (nine in ten named, each with a phone), every tenth merged into another;
        ``--waiting`` inbound messages of the last 30 days; ``--suggestions`` open suggestions, a third of them
        possible duplicates (an identity review, filed on both contacts as the engine does, some naming a
        merged-away contact), the rest ``unanswered``

The request goes through the inbox router and its auth in process (ASGI), on a pool as ``omnitrail up``
opens it, so the numbers are the route's and the database's, not a network's.

Usage: python benchmarks/inbox.py [--contacts 2000] [--waiting 500] [--suggestions 300] [--reads 300]
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
from typing import Any

import httpx
import orjson
import psycopg
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from console.audit import Audit
from console.auth import TokenAuth
from console.live_feed import TimelineFeed
from console.routes import inbox
from schemas.suggestion import Suggestion, SuggestionRule, SuggestionStatus
from sinks import suggestion_store
from sinks.scratch_database import async_scratch_database

TOKEN = "bench-agent-token"  # noqa: S105 (a throw-away database's)
TEXTS = ["Olá, a encomenda não chegou.", "Where is my parcel?", "Preciso da fatura de março.", "Refund, please."]


class CountingCursor(psycopg.AsyncCursor[Any]):
    """Every statement the pool's connections send: one round trip each (autocommit, no pipeline)."""

    statements = 0

    async def execute(self, *args: Any, **kwargs: Any) -> CountingCursor:
        CountingCursor.statements += 1
        await super().execute(*args, **kwargs)
        return self


async def load(url: str, contacts: int, waiting: int, suggestions: int, seed: int) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    ids = sorted(uuid.UUID(int=rng.getrandbits(128)) for _ in range(contacts))
    merged = {cid: rng.choice(ids[: contacts // 2]) for cid in ids[contacts // 2 :: 5]}  # every tenth
    async with await psycopg.AsyncConnection.connect(url) as conn:
        async with conn.cursor().copy("COPY contacts (contact_id, display_name) FROM STDIN") as copy:
            for n, cid in enumerate(ids):
                await copy.write_row((cid, None if n % 10 == 0 else f"Customer {n}"))
        async with conn.cursor().copy("COPY contact_identifiers (kind, value, contact_id, rule) FROM STDIN") as copy:
            for n, cid in enumerate(ids):
                await copy.write_row(("phone", f"+3519{n:08d}", cid, "exact"))
        await conn.execute(
            "UPDATE contacts c SET merged_into = m.survivor FROM unnest(%s::uuid[], %s::uuid[]) AS m(loser, survivor)"
            " WHERE c.contact_id = m.loser",
            (list(merged), list(merged.values())),
        )
        async with conn.cursor().copy(
            "COPY interactions (interaction_id, contact_id, channel, direction, kind, occurred_at, received_at, "
            "document) FROM STDIN"
        ) as copy:
            for n in range(waiting):
                iid, cid, at = uuid.UUID(int=rng.getrandbits(128)), rng.choice(ids), now - timedelta(minutes=n * 7)
                doc = {
                    "interaction_id": str(iid),
                    "channel": "sms",
                    "direction": "inbound",
                    "kind": "message",
                    "occurred_at": at.isoformat(),
                    "text": rng.choice(TEXTS),
                    "sender": {"identifiers": [{"kind": "phone", "value": f"+3519{ids.index(cid):08d}"}]},
                }
                await copy.write_row((iid, cid, "sms", "inbound", "message", at, at, orjson.dumps(doc).decode()))
        filed = []
        for _ in range(suggestions // 3 // 2):  # possible duplicates: one suggestion on each contact
            a, b = sorted(rng.sample(ids, 2))
            review = uuid.UUID(int=rng.getrandbits(128))
            await conn.execute(
                "INSERT INTO identity_reviews (review_id, contact_a, contact_b, rule) VALUES (%s, %s, %s, 'same_name')",
                (review, a, b),
            )
            for side in (a, b):
                filed.append(_suggestion(rng, SuggestionRule.merge_review, merged.get(side, side), now, review))
        while len(filed) < suggestions:
            cid = rng.choice(ids)
            filed.append(_suggestion(rng, SuggestionRule.unanswered, merged.get(cid, cid), now, None))
        await suggestion_store.save(conn, filed)
        await conn.commit()
        for table in ("contacts", "contact_identifiers", "interactions", "suggestions", "identity_reviews"):
            await conn.execute(f"ANALYZE {table}")
        await conn.commit()


def _suggestion(
    rng: random.Random, rule: SuggestionRule, contact: uuid.UUID, now: datetime, review: uuid.UUID | None
) -> Suggestion:
    return Suggestion(
        suggestion_id=uuid.UUID(int=rng.getrandbits(128)),
        contact_id=contact,
        rule=rule,
        status=SuggestionStatus.open,
        title="Decide a possible duplicate contact" if review else "Reply to the customer",
        reason="benchmark",
        review_id=review,
        profiling=False,
        opened_at=now - timedelta(minutes=rng.randint(0, 60 * 24 * 14)),
    )


async def measure(url: str, reads: int) -> tuple[float, float, float, int]:
    """p50 and p95 ms, statements per request, suggestions on the page."""
    async with AsyncConnectionPool(
        url, min_size=1, max_size=8, kwargs={"autocommit": True, "cursor_factory": CountingCursor}
    ) as pool:
        connection = pool.connection
        auth = TokenAuth({TOKEN: "agent"}, connection)
        app = FastAPI()
        app.include_router(
            inbox.router(connection, Audit(connection, auth), TimelineFeed({}), auth, default_region="PT")
        )
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(20):  # warm up: the pool, prepared plans, the interpreter's caches
                (await client.get("/api/v1/inbox", headers=headers)).raise_for_status()
            latencies, before = [], CountingCursor.statements
            for _ in range(reads):
                start = time.perf_counter()
                answer = await client.get("/api/v1/inbox", headers=headers)
                latencies.append((time.perf_counter() - start) * 1000)
                answer.raise_for_status()
            statements = (CountingCursor.statements - before) / reads
    page = answer.json()["suggestions"]
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.95) - 1], statements, len(page)


async def run(contacts: int, waiting: int, suggestions: int, reads: int, seed: int) -> float:
    async with async_scratch_database("omnitrail_bench_inbox") as url:
        await load(url, contacts, waiting, suggestions, seed)
        print(f"inbox      : {contacts} contacts, {waiting} waiting messages, {suggestions} open suggestions")
        p50, p95, statements, shown = await measure(url, reads)
        print(f"  GET /api/v1/inbox   p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  {statements:.1f} statements/request")
        print(f"                      ({shown} suggestions shown, {reads} requests)")
    return p50


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--waiting", type=int, default=500)
    parser.add_argument("--suggestions", type=int, default=300)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    asyncio.run(run(args.contacts, args.waiting, args.suggestions, args.reads, args.seed))


if __name__ == "__main__":
    main()
