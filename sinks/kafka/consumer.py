"""One consumer-group member that hands whole batches to a handler and commits only after it returned.

Why not a faust agent: faust turns every record into an event object that travels through its
stream machinery one at a time (and fetches in a second thread), which measured ~250 µs of CPU
per interaction in the worker, more than dedupe, identity and the timeline write together
(benchmarks/README.md). The pipeline's stages already work on batches, so this takes what the
fetcher has buffered, up to ``batch_size`` records across the assigned partitions, in one call.

Guarantees:

- Records of a partition are handled in offset order, one batch at a time. With ``lanes`` > 1 the
  assigned partitions are dealt out to that many loops, each with a batch of its own partitions
  in flight, so one lane's database round trips overlap another's decoding. Each assignment deals
  a partition to one lane, and only that lane keeps records of it: a fetch asks for the lane's
  partitions of the moment, but it may wait through a rebalance and come back under a new deal,
  so whatever it got of a partition now dealt elsewhere is sought back before any other task
  runs (aiokafka hands the records out and returns in one step), leaving the position exactly
  as it was for the partition's owner.
- An offset is committed only after the handler returned for every record before it (the
  handler commits to PostgreSQL first), so a crash or a lost partition reprocesses, never skips.
- On a rebalance the revocation waits for the batch in flight, which then commits, so the next
  owner of a partition starts where this member stopped; what the lanes had fetched but not
  handled is dropped (sought back), never handled after the rebalance: aiokafka returns nothing
  while the group rebalances, and the new assignment starts from the committed offsets. If the
  commit fails (this member was already evicted) the records are reprocessed by the next owner;
  the idempotent write makes that harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from sinks.kafka.backoff import Backoff
from sinks.kafka.lag import LagGauge
from sinks.kafka.records import RawRecord

log = structlog.get_logger(__name__)


Handler = Callable[[list[RawRecord]], Awaitable[None]]


class _WaitForBatch(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no types
    def __init__(self, owner: BatchConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with contextlib.AsyncExitStack() as held:
            for lane in self.owner._busy:  # every batch in flight finishes and commits first
                await held.enter_async_context(lane)
            self.owner._give_back_taken()  # the rest was fetched under the old assignment: not handled
            self.owner.lag.clear()
            self.owner.on_assignment([])

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        partitions = sorted(tp.partition for tp in assigned)
        log.info("consumer.assigned", group=self.owner.group, partitions=partitions)
        self.owner.on_assignment(partitions)


class BatchConsumer:
    """Consume ``topic`` in group ``group``; ``handler`` gets each batch, raw bytes and positions.

    ``options`` go to the aiokafka consumer (connection, group timeouts, ``auto_offset_reset``:
    ``earliest`` unless given)."""

    def __init__(
        self,
        topic: str,
        group: str,
        handler: Handler,
        options: dict[str, Any],
        *,
        batch_size: int,
        linger_s: float = 0.0,
        lanes: int = 1,
        idle_wait_s: float = 1.0,
        lag_every_s: float = 2.0,
        on_assignment: Callable[[list[int]], None] = lambda partitions: None,
    ) -> None:
        self.topic = topic
        self.group = group
        self.handler = handler
        self.options = options
        self.batch_size = batch_size
        self.linger_s = linger_s
        self.idle_wait_s = idle_wait_s
        self.lag_every_s = lag_every_s
        #: Told the partitions held after every rebalance (none while one is under way).
        self.on_assignment = on_assignment
        self.lag = LagGauge(group)
        #: One lock per lane, held while its batch is handled and committed.
        self._busy = [asyncio.Lock() for _ in range(max(1, lanes))]
        #: Per lane, what it fetched of its partitions and has not handled yet (its next batch).
        self._taken: list[dict[TopicPartition, list[Any]]] = [{} for _ in self._busy]
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        #: Partition -> next offset to handle (after the last committed batch), for the lag gauge.
        self._done: dict[TopicPartition, int] = {}

    def assigned(self) -> list[int]:
        """Partitions of ``topic`` this member holds now."""
        consumer = self._consumer
        return sorted(tp.partition for tp in consumer.assignment() if tp.topic == self.topic) if consumer else []

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Finish the batch in flight, commit it, leave the group."""
        self._stopping.set()

    async def run_until_stopped(self) -> None:
        """:meth:`run` again after a capped pause whenever it fails (the broker unreachable at start, a
        handler's error): what was not committed is handled again. Until :meth:`stop`."""
        backoff = Backoff(1.0, 30.0)
        while not self.stopping:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                cause = exc.exceptions[0] if isinstance(exc, ExceptionGroup) else exc  # from a failed lane
                log.error("consumer.failed", group=self.group, error=type(cause).__name__)
                await backoff.wait()

    async def run(self) -> None:
        options: dict[str, Any] = {"auto_offset_reset": "earliest", **self.options}
        consumer = AIOKafkaConsumer(
            group_id=self.group,
            enable_auto_commit=False,
            max_poll_records=self.batch_size,
            key_deserializer=None,
            value_deserializer=None,
            **options,
        )
        consumer.subscribe([self.topic], listener=_WaitForBatch(self))
        try:
            if not await self._started(consumer):
                return
            self._consumer = consumer
            self._taken = [{} for _ in self._busy]  # a new consumer starts from the committed offsets
            # A task group: a lane that fails takes its siblings down with it, before the consumer stops.
            async with asyncio.TaskGroup() as lanes:
                for n in range(len(self._busy)):
                    lanes.create_task(self._lane(consumer, n))
        finally:
            self._consumer = None
            self.lag.clear()
            await consumer.stop()  # leaves the group: the others take the partitions at once

    async def _started(self, consumer: AIOKafkaConsumer) -> bool:
        """Start ``consumer``; False if :meth:`stop` came first.

        aiokafka's ``start`` returns only once the group gave this member its first assignment, and
        waits for that without end: while the broker is unreachable, or a join never completes, a
        stopping process would otherwise wait out its whole grace (``omnitrail up`` SIGKILLed with its
        embedded broker left the media stage running 10 s)."""
        starting = asyncio.ensure_future(consumer.start())
        stopped = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
        if starting.cancelled():
            return False
        starting.result()  # raises what the start raised
        return True

    async def _lane(self, consumer: AIOKafkaConsumer, lane: int) -> None:
        reported = 0.0
        while not self._stopping.is_set():
            if not self._dealt(consumer, lane):  # fewer partitions than lanes, or a rebalance under way
                await asyncio.sleep(min(self.idle_wait_s, 0.1))
                continue
            with contextlib.suppress(IllegalStateError):  # a partition was revoked meanwhile: deal again
                await self._take(consumer, lane)
            if self._taken[lane]:
                async with self._busy[lane]:  # a revocation may have dropped the batch while this waited
                    batch, self._taken[lane] = self._taken[lane], {}
                    if batch:
                        await self._handle(consumer, batch)
            if lane == 0 and time.monotonic() - reported >= self.lag_every_s:
                await self._report_lag(consumer)
                reported = time.monotonic()

    def _dealt(self, consumer: AIOKafkaConsumer, lane: int) -> list[TopicPartition]:
        """The partitions of the current assignment dealt to ``lane``."""
        lanes = len(self._busy)
        return [tp for n, tp in enumerate(sorted(consumer.assignment())) if n % lanes == lane]

    async def _take(self, consumer: AIOKafkaConsumer, lane: int) -> None:
        """What the fetcher holds of the lane's partitions, up to ``batch_size``; if less, more for up to
        ``linger_s``. Into ``_taken[lane]``."""
        await self._fetch(consumer, lane, self.idle_wait_s)
        if not self._taken[lane] or self.linger_s <= 0:
            return
        deadline = time.monotonic() + self.linger_s
        while (left := deadline - time.monotonic()) > 0:
            if not await self._fetch(consumer, lane, left):
                return

    async def _fetch(self, consumer: AIOKafkaConsumer, lane: int, wait_s: float) -> bool:
        """One ``getmany`` of the lane's partitions into ``_taken[lane]``, up to ``batch_size`` in all;
        False if the batch is full or the lane has no partitions."""
        room = self.batch_size - sum(map(len, self._taken[lane].values()))
        mine = self._dealt(consumer, lane)
        if room <= 0 or not mine:
            return False
        fetched: dict[TopicPartition, list[Any]] = await consumer.getmany(
            *mine, timeout_ms=max(1, int(wait_s * 1000)), max_records=room
        )
        # No other task ran since the fetcher handed these out, but the call may have waited through a
        # rebalance: what it got of a partition dealt to another lane now goes back to where it was.
        if fetched:
            now = set(self._dealt(consumer, lane))
            taken = self._taken[lane]
            for tp, records in fetched.items():
                if tp in now:
                    taken.setdefault(tp, []).extend(records)
                else:
                    _give_back(consumer, tp, records)
        return True

    def _give_back_taken(self) -> None:
        """Drop what the lanes fetched and did not handle, seeking back to it (a revocation)."""
        consumer = self._consumer
        for lane, taken in enumerate(self._taken):
            if consumer is not None:
                for tp, records in taken.items():
                    _give_back(consumer, tp, records)
            self._taken[lane] = {}

    async def _handle(self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[Any]]) -> None:
        records = [
            RawRecord(r.value, r.topic, r.partition, r.offset, r.key)
            for tp in sorted(batch, key=lambda tp: tp.partition)
            for r in batch[tp]
        ]
        await self.handler(records)
        offsets = {tp: rs[-1].offset + 1 for tp, rs in batch.items() if rs}
        self._done.update(offsets)
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # Evicted or revoked meanwhile: the next owner reprocesses these records (idempotent write).
            log.warning("consumer.commit_skipped", group=self.group, error=type(exc).__name__)
        except KafkaError as exc:
            # The rows are committed; a later batch's commit covers these offsets too.
            log.warning("consumer.commit_failed", group=self.group, error=type(exc).__name__)

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        """High watermarks the fetcher already knows against what this member handled (or its position)."""
        assigned = consumer.assignment()
        for tp in set(self._done) - assigned:
            del self._done[tp]  # lost in a rebalance: the new owner reports it
        ends: dict[tuple[str, int], int] = {}
        positions: dict[tuple[str, int], int] = {}
        for tp in assigned:
            end = consumer.highwater(tp)
            if end is None:  # nothing fetched yet
                continue
            ends[(tp.topic, tp.partition)] = end
            position = self._done.get(tp)
            if position is None:
                try:
                    position = await consumer.position(tp)
                except IllegalStateError:  # revoked meanwhile
                    continue
            positions[(tp.topic, tp.partition)] = position
        self.lag.report(ends, positions)


def _give_back(consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[Any]) -> None:
    if records:
        with contextlib.suppress(IllegalStateError):  # not ours any more: its owner starts from the commit
            consumer.seek(tp, records[0].offset)
