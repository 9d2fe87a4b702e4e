"""Faust wiring of the suggestions agent: the timeline topic in, a periodic tick, nothing else.

It runs in the normal worker's app (same consumer group, so ``omnitrail up`` and every
``omnitrail worker`` run it with no extra process): the timeline topic is keyed by contact
id, so each worker evaluates the contacts of its own partitions. Like the interactions
agent, each record is held until its batch committed to PostgreSQL and its suggestions were
published, so an offset is committed only after that. The timer runs in every worker;
concurrent ticks are safe (per-contact locks, idempotent reconciliation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import faust
import structlog

from pipeline.stages.decode import RawRecord
from pipeline.suggestion_engine import SuggestionEngine
from schemas import topics

log = structlog.get_logger(__name__)


def attach(
    app: faust.App,
    engine_factory: Callable[[], Awaitable[SuggestionEngine]],
    *,
    batch_size: int,
    batch_window_s: float,
    tick_interval_s: float,
) -> None:
    source = app.topic(topics.TIMELINE, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    shared: dict[str, SuggestionEngine] = {}
    lock = asyncio.Lock()

    async def engine() -> SuggestionEngine:
        async with lock:
            if "e" not in shared:
                shared["e"] = await engine_factory()
            return shared["e"]

    @app.agent(source, name="suggestions")
    async def suggestions(stream: faust.StreamT[bytes]) -> None:
        worker = await engine()
        # take_events exists in faust-streaming but is missing from its StreamT protocol.
        batches = stream.take_events(batch_size, within=batch_window_s)  # type: ignore[attr-defined]
        async for events in batches:
            for event in events:
                event.message.incref()  # hold: not committable until the suggestions committed
            await worker.handle_records(
                [RawRecord(e.message.value, e.message.topic, e.message.partition, e.message.offset) for e in events]
            )
            for event in events:
                event.ack()

    @app.timer(interval=tick_interval_s)  # type: ignore[untyped-decorator]  # faust ships no types for it
    async def suggestions_tick() -> None:
        try:
            await (await engine()).tick()
        except Exception as exc:  # a failed tick is retried at the next one; the worker keeps running
            log.warning("suggestions.tick_failed", error=type(exc).__name__)
