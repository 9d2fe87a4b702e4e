"""The faust app: wires the interactions topic to :class:`~pipeline.batch.BatchProcessor`.

One actor per partition (``isolated_partitions``) takes batches; each Kafka message is
held (an extra reference) until its batch committed to PostgreSQL and its events were
published, so faust commits an offset only after the database commit. If the actor is
cancelled mid-batch (shutdown, rebalance) the held messages are never acknowledged and
the next owner of the partition reprocesses them; the idempotent write makes that safe.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
import structlog

from pipeline import metrics, suggestion_agent
from pipeline.poison import BatchProcessing
from pipeline.stages.decode import RawRecord
from pipeline.suggestion_engine import SuggestionEngine
from schemas import topics
from sinks.consumer_lag import LagGauge

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    bootstrap: str
    batch_size: int
    batch_window_s: float
    session_timeout_s: float
    heartbeat_interval_s: float
    rebalance_timeout_s: float
    request_timeout_s: float
    idempotence: bool
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    worker_id: str | None = None
    group_id: str = "omnitrail-pipeline"


def _credentials(config: WorkerConfig) -> Any:
    context = ssl.create_default_context(cafile=config.ssl_cafile) if "SSL" in config.security_protocol else None
    if config.sasl_mechanism:
        return faust.SASLCredentials(
            username=config.sasl_username,
            password=config.sasl_password,
            mechanism=config.sasl_mechanism,
            ssl_context=context,
        )
    return faust.SSLCredentials(context) if context else None


def create_app(
    config: WorkerConfig,
    processor_factory: Callable[[], Awaitable[BatchProcessing]],
    heartbeat: Callable[[str, str], Awaitable[None]],
    *,
    suggestions: Callable[[], Awaitable[SuggestionEngine]] | None = None,
    suggestions_tick_s: float = 30.0,
) -> faust.App:
    app = faust.App(
        config.group_id,
        broker=[f"kafka://{b.strip()}" for b in config.bootstrap.split(",")],
        broker_credentials=_credentials(config),
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=config.heartbeat_interval_s,
        broker_rebalance_timeout=config.rebalance_timeout_s,
        broker_request_timeout=max(config.request_timeout_s, config.session_timeout_s + 5),
        broker_commit_interval=0.5,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Not asked of the embedded broker: it answers InitProducerId with an error.
        producer_enable_idempotence=config.idempotence,
        topic_disable_leader=True,
        topic_allow_declare=False,
        web_enabled=False,
        store="memory://",
        table_cleanup_interval=3600,
    )
    worker_id = config.worker_id or f"{socket.gethostname()}-{os.getpid()}"
    source = app.topic(
        topics.INTERACTIONS, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    shared: dict[str, BatchProcessing] = {}
    #: Partition -> next offset to process (after the last committed batch), for the lag gauge.
    done: dict[int, int] = {}
    lag = LagGauge(config.group_id)
    lock = asyncio.Lock()

    async def processor() -> BatchProcessing:
        async with lock:
            if "p" not in shared:
                shared["p"] = await processor_factory()
            return shared["p"]

    @app.agent(source, isolated_partitions=True, name="interactions")
    async def interactions(stream: faust.StreamT[bytes]) -> None:
        batches = await processor()
        # take_events exists in faust-streaming but is missing from its StreamT protocol.
        batches_of_events = stream.take_events(config.batch_size, within=config.batch_window_s)  # type: ignore[attr-defined]
        async for events in batches_of_events:
            for event in events:
                event.message.incref()  # hold: not committable until the batch committed
            with metrics.BATCH_SECONDS.time():
                result = await batches.process(
                    [RawRecord(e.message.value, e.message.topic, e.message.partition, e.message.offset) for e in events]
                )
            for event in events:
                event.ack()  # release the hold; take_events' own ack makes it final
                done[event.message.partition] = max(done.get(event.message.partition, 0), event.message.offset + 1)
            log.debug("pipeline.batch", **result.__dict__)

    @app.timer(interval=2.0)  # type: ignore[untyped-decorator]  # faust ships no types for it
    async def beat() -> None:
        assigned = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topics.INTERACTIONS)
        metrics.ASSIGNED.set(len(assigned))
        try:
            await heartbeat(worker_id, ",".join(map(str, assigned)))
        except Exception as exc:  # a missed heartbeat must not stop the worker
            log.warning("pipeline.heartbeat_failed", error=type(exc).__name__)
        try:
            await _report_lag(app, lag, done)
        except Exception as exc:  # metrics must never stop the worker either
            log.warning("pipeline.lag_failed", error=type(exc).__name__)

    if suggestions is not None:
        suggestion_agent.attach(
            app,
            suggestions,
            batch_size=config.batch_size,
            batch_window_s=config.batch_window_s,
            tick_interval_s=suggestions_tick_s,
        )
    return app


async def _report_lag(app: faust.App, lag: LagGauge, done: dict[int, int]) -> None:
    """High watermarks of the held partitions against what this worker processed (or its fetch position)."""
    tps = [tp for tp in app.consumer.assignment() if tp.topic == topics.INTERACTIONS]
    for partition in set(done) - {tp.partition for tp in tps}:
        del done[partition]  # lost in a rebalance: the new owner reports it
    ends = await app.consumer.highwaters(*tps) if tps else {}
    positions: dict[tuple[str, int], int] = {}
    for tp in tps:
        position = done.get(tp.partition)
        if position is None:
            position = await app.consumer.position(tp)
        positions[(tp.topic, tp.partition)] = position or 0
    lag.report({(tp.topic, tp.partition): end for tp, end in ends.items()}, positions)
