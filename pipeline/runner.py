"""The pipeline runner: the interactions pipeline and the suggestions agent as batch consumers, and timers,
in one ``omnitrail worker`` process (:mod:`omnitrail.worker` builds it).

::

    omnitrail.interactions.v1 --BatchConsumer(group omnitrail-pipeline)--> PoisonIsolation(BatchProcessor)
    omnitrail.timeline.v1 --BatchConsumer(group omnitrail-pipeline-suggestions)--> SuggestionEngine
    every 2 s: heartbeat row (worker id, partitions held), checkpoint ages
    every tick: SuggestionEngine.tick (time-based suggestions)

Each consumer commits its offsets only after its handler returned, i.e. after the batch is
committed to PostgreSQL and its events were published (see :mod:`sinks.kafka.consumer`). A
consumer that fails (broker unreachable at start, say) is restarted after a capped pause; the
others keep running. :meth:`PipelineRunner.stop` lets each batch in flight finish and commit, then
leaves the groups so the partitions move to the other workers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from pipeline import metrics
from pipeline.poison import BatchProcessing
from pipeline.suggestion_engine import SuggestionEngine
from schemas import topics
from sinks.kafka.consumer import BatchConsumer
from sinks.kafka.records import RawRecord

log = structlog.get_logger(__name__)
Cleanup = Callable[[], Awaitable[None]]
#: How long :func:`run_until_signalled` lets batches in flight finish before cancelling them (they are redone).
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class RunnerConfig:
    #: Connection options of every Kafka client (bootstrap, security, request timeout).
    kafka_options: Mapping[str, Any]
    batch_size: int
    #: How long a batch that is not full may wait for more records (0: take what is there).
    batch_window_s: float
    #: Batches of the interactions topic in flight at once, each over its own partitions.
    lanes: int
    session_timeout_s: float
    heartbeat_interval_s: float
    rebalance_timeout_s: float
    worker_id: str | None = None
    group_id: str = "omnitrail-pipeline"
    #: How long a fetch may wait at the broker for records (Kafka's ``fetch.max.wait.ms``).
    fetch_max_wait_s: float = 0.1
    #: How long a member waits for records before it looks at its timers again.
    idle_wait_s: float = 1.0

    @property
    def suggestions_group_id(self) -> str:
        """A group of its own: another topic, another pace."""
        return f"{self.group_id}-suggestions"

    def consumer_options(self) -> dict[str, Any]:
        options = dict(self.kafka_options)
        options["request_timeout_ms"] = int(
            max(options.get("request_timeout_ms", 30_000) / 1000, self.session_timeout_s + 5) * 1000
        )
        options.update(
            session_timeout_ms=int(self.session_timeout_s * 1000),
            heartbeat_interval_ms=int(self.heartbeat_interval_s * 1000),
            rebalance_timeout_ms=int(self.rebalance_timeout_s * 1000),
            # A batch waiting out a database outage must not get the member evicted meanwhile.
            max_poll_interval_ms=max(300_000, int(self.rebalance_timeout_s * 1000)),
            # aiokafka's default (500 ms) is what a record arriving on an idle partition may wait before
            # the worker even sees it: measured as p50 end-to-end latency 210 ms -> 61 ms at 2,000/s.
            fetch_max_wait_ms=int(self.fetch_max_wait_s * 1000),
        )
        return options


class PipelineRunner:
    def __init__(
        self,
        config: RunnerConfig,
        processor_factory: Callable[[], Awaitable[BatchProcessing]],
        heartbeat: Callable[[str, str], Awaitable[None]],
        *,
        suggestions: Callable[[], Awaitable[SuggestionEngine]] | None = None,
        suggestions_tick_s: float = 30.0,
        cleanup: Cleanup | None = None,
    ) -> None:
        self.config = config
        self.worker_id = config.worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self._processor_factory = processor_factory
        self._heartbeat = heartbeat
        self._suggestions_factory = suggestions
        self._suggestions_tick_s = suggestions_tick_s
        self._cleanup = cleanup
        self._processor: BatchProcessing | None = None
        self._engine: SuggestionEngine | None = None
        #: The processor and the engine are made on first use, inside the loop (their producers need it).
        self._lock = asyncio.Lock()
        self._reports: set[asyncio.Task[None]] = set()
        options = config.consumer_options()
        self.consumers = {
            "interactions": BatchConsumer(
                topics.INTERACTIONS,
                config.group_id,
                self._interactions,
                options,
                batch_size=config.batch_size,
                linger_s=config.batch_window_s,
                lanes=config.lanes,
                idle_wait_s=config.idle_wait_s,
                on_assignment=self._assigned,
            )
        }
        if suggestions is not None:
            self.consumers["suggestions"] = BatchConsumer(
                topics.TIMELINE,
                config.suggestions_group_id,
                self._suggestions,
                options,
                batch_size=config.batch_size,
                linger_s=config.batch_window_s,
                idle_wait_s=config.idle_wait_s,
            )

    def _assigned(self, partitions: list[int]) -> None:
        """Report a new assignment at once, not at the next heartbeat: readiness waits for it."""
        metrics.ASSIGNED.set(len(partitions))
        self._reports.add(task := asyncio.get_running_loop().create_task(self._beat()))
        task.add_done_callback(self._reports.discard)

    @property
    def agents(self) -> list[str]:
        return list(self.consumers)

    async def _processor_once(self) -> BatchProcessing:
        async with self._lock:
            if self._processor is None:
                self._processor = await self._processor_factory()
            return self._processor

    async def _engine_once(self) -> SuggestionEngine:
        async with self._lock:
            if self._engine is None:
                assert self._suggestions_factory is not None
                self._engine = await self._suggestions_factory()
            return self._engine

    async def _interactions(self, records: list[RawRecord]) -> None:
        processor = await self._processor_once()
        with metrics.BATCH_SECONDS.time():
            result = await processor.process(records)
        log.debug("pipeline.batch", **result.__dict__)

    async def _suggestions(self, records: list[RawRecord]) -> None:
        await (await self._engine_once()).handle_records(records)

    async def run(self) -> None:
        """Until :meth:`stop`: the consumers and the timers."""
        tasks = [asyncio.create_task(c.run_until_stopped()) for c in self.consumers.values()]
        timers = [asyncio.create_task(_every(2.0, self._beat))]
        if self._suggestions_factory is not None:
            timers.append(asyncio.create_task(_every(self._suggestions_tick_s, self._tick, first=True)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for timer in timers:
                timer.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*timers, *tasks, return_exceptions=True)
            if self._cleanup is not None:
                await self._cleanup()

    async def run_until_stopped(self) -> None:
        """:meth:`run`: its consumers restart themselves after a failure."""
        await self.run()

    @property
    def stopping(self) -> bool:
        return any(c.stopping for c in self.consumers.values())

    def stop(self) -> None:
        """Let the batches in flight finish and commit, then leave the groups."""
        for consumer in self.consumers.values():
            consumer.stop()

    async def _beat(self) -> None:
        assigned = self.consumers["interactions"].assigned()
        try:
            await self._heartbeat(self.worker_id, ",".join(map(str, assigned)))
        except Exception as exc:  # a missed heartbeat must not stop the worker
            log.warning("pipeline.heartbeat_failed", error=type(exc).__name__)

    async def _tick(self) -> None:
        try:
            await (await self._engine_once()).tick()
        except Exception as exc:  # a failed tick is retried at the next one; the worker keeps running
            log.warning("suggestions.tick_failed", error=type(exc).__name__)


async def _every(interval_s: float, call: Callable[[], Awaitable[None]], *, first: bool = False) -> None:
    if first:
        await asyncio.sleep(interval_s)
    while True:
        await call()
        await asyncio.sleep(interval_s)


class Stoppable(Protocol):
    """A worker role's loop: the pipeline runner, the media stage's consumer."""

    @property
    def stopping(self) -> bool: ...

    def stop(self) -> None: ...

    def run_until_stopped(self) -> Coroutine[Any, Any, None]: ...


async def run_until_signalled(runner: Stoppable) -> None:
    """SIGTERM/SIGINT stop the runner gracefully; a second signal, or the grace running out, cancels."""
    loop = asyncio.get_running_loop()
    main = asyncio.create_task(runner.run_until_stopped())

    def on_signal() -> None:
        if runner.stopping:
            main.cancel()
            return
        log.info("pipeline.stopping")
        runner.stop()
        loop.call_later(STOP_GRACE_S, main.cancel)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    with contextlib.suppress(asyncio.CancelledError):
        await main
