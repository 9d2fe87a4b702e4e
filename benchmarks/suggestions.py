"""Suggestions engine throughput on the real PostgreSQL: timeline events handled per second, and
the periodic ticks over every due contact.

handle: batches of ``interaction.added`` events (the worker's batch size) for contacts that each
        write on several channels, half of them answered, exactly as the agent receives them
ticks:  the clock moves two days on; ticks run until nothing changes

Usage: python benchmarks/suggestions.py [--events 20000] [--contacts 5000] [--batch 2000] [--seed 42]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust); no broker (publishing is counted, not sent).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Sequence

from psycopg_pool import AsyncConnectionPool

from connectors.testing import FakeClock
from pipeline.suggestion_engine import SuggestionEngine
from pipeline.suggestion_settings import SuggestionSettings
from schemas.identifiers import Identifier, IdentifierKind
from schemas.ids import event_id_for
from schemas.interaction import Channel, Direction, Interaction, Party, Provider
from schemas.timeline import TimelineEvent, TimelineEventType
from sinks import suggestion_store
from sinks.kafka.records import Record
from sinks.scratch_database import scratch_database

CHANNELS = [Channel.sms, Channel.whatsapp, Channel.email, Channel.telegram]


def corpus(events: int, contacts: int, seed: int, clock: FakeClock) -> list[TimelineEvent]:
    rng = random.Random(seed)
    ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(contacts)]
    party = Party(identifiers=[Identifier(kind=IdentifierKind.phone, value="+351210000000")])
    out = []
    for n in range(events):
        clock.advance(seconds=1)
        direction = Direction.inbound if rng.random() < 0.7 else Direction.outbound
        interaction = Interaction.build(
            channel=rng.choice(CHANNELS),
            provider=Provider.twilio,
            account="+351210000000",
            direction=direction,
            occurred_at=clock(),
            received_at=clock(),
            external_id=f"BENCH{seed}-{n}",
            sender=party,
            recipients=[party],
        )
        kind = TimelineEventType.interaction_added
        out.append(
            TimelineEvent(
                event_id=event_id_for(kind.value, str(interaction.interaction_id)),
                type=kind,
                contact_id=rng.choice(ids),
                occurred_at=clock(),
                interaction=interaction,
            )
        )
    return out


async def run(url: str, events: Sequence[TimelineEvent], batch: int, clock: FakeClock) -> None:
    published = 0

    async def publish(records: Sequence[Record]) -> None:
        nonlocal published
        published += len(records)

    async with AsyncConnectionPool(url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=False) as pool:
        engine = SuggestionEngine(pool, publish, SuggestionSettings().policy(), clock=clock)
        started = time.perf_counter()
        for start in range(0, len(events), batch):
            await engine.handle(events[start : start + batch])
        handled = time.perf_counter() - started
        print(f"handle     : {len(events) / handled:8.0f} events/s  ({len(events)} events in {handled:.1f} s)")
        clock.advance(days=2)
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT count(*) FROM suggestion_schedule")).fetchone()
        scheduled = row[0] if row else 0
        started, ticks, changed = time.perf_counter(), 0, 0
        while True:  # each tick takes at most due_batch contacts, as the worker's timer would
            async with pool.connection() as conn:
                if not await suggestion_store.due(conn, clock(), limit=1):
                    break
            ticks += 1
            changed += len(await engine.tick())
        ticked = time.perf_counter() - started
        print(f"ticks      : {scheduled / ticked:8.0f} due contacts/s  ({scheduled} due, {ticks} ticks, {ticked:.1f}s)")
        print(f"             {changed} suggestions opened or closed by time alone")
        print(f"published  : {published} suggestion records")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    clock = FakeClock()
    events = corpus(args.events, args.contacts, args.seed, clock)
    with scratch_database("omnitrail_bench_sugg") as url:
        print(f"corpus     : {args.events} events, {args.contacts} contacts, batches of {args.batch}")
        asyncio.run(run(url, events, args.batch, clock))


if __name__ == "__main__":
    main()
