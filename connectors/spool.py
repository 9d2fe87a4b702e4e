"""A durable local outbox in front of the broker, so webhooks are answered 2xx through a broker outage.

Webhook providers retry for a while, but not forever, and some (Twilio: 15 s) give up on a slow
answer. So :class:`SpoolingEmitter` wraps the :class:`~connectors.emitter.KafkaEmitter` that
:class:`~connectors.webhook.WebhookIngest` uses:

* broker healthy and spool empty: produce and wait for the ack, as before;
* no ack within ``ack_timeout_s`` (or an error): the records are appended to a SQLite file in WAL
  mode with ``synchronous=FULL`` (the commit is fsync'd), and only then the webhook gets its 2xx;
* while the spool holds anything, new records are appended behind it, never produced directly,
  so a customer's events reach the topic in the order they were received;
* a background drainer sends the oldest records in order once the broker answers again and
  deletes them only after the ack. A record produced twice (a timed-out send the producer still
  delivers, a crash between ack and delete) is harmless: its ``interaction_id`` is deterministic
  and the pipeline writes each id once.

If the spool itself cannot be written (disk full) the error stays :class:`RetriableError`, so the
webhook answers 503 and the provider retries: nothing is ever acknowledged that is not durable.

A record the broker can never take (:class:`~schemas.errors.RecordTooLarge`) is never spooled: the
caller gets the error at once. One already in the file (written by an earlier release, or refused by a
broker whose limit is lower than ours) is moved aside when the drainer reaches it: dead-lettered with the
reason (a dead letter as itself, its raw bytes in a file when too large; an interaction as the raw bytes
of a dead letter from source ``spool``), then deleted, so it never blocks the records behind it.

The drainer survives its own failures (the spool file failing to read, say): the error's type is
logged (``spool.drain_failed``) and shown on /readyz (``drainer``),
and draining goes on after a backoff.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar

import structlog
from prometheus_client import Gauge

from connectors.deadlines import Deadlines
from connectors.emitter import Record
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.errors import RecordTooLarge, RetriableError
from schemas.interaction import Interaction
from sinks.kafka.backoff import Backoff

log = structlog.get_logger(__name__)
T = TypeVar("T")
SPOOL_DEPTH = Gauge("omnitrail_spool_depth", "Webhook events held in the local spool, waiting for the broker")
#: The source of the dead letter of a spooled interaction the broker can never take.
SOURCE = "spool"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS spool"
    " (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key BLOB, value BLOB NOT NULL)"
)


class RecordSender(Protocol):
    """What the spool needs of the broker side (:class:`~connectors.emitter.KafkaEmitter` is one)."""

    async def send_all(self, records: Sequence[Record]) -> None: ...

    async def reachable(self) -> bool: ...

    def check(self, records: Sequence[Record]) -> None:
        """Raise RecordTooLarge if the broker can never take one of them."""

    def dead_letter_record(self, letter: DeadLetter, *, aside: bool = False) -> Record:
        """The dead letter as a record the broker takes (its raw bytes set aside when too large, or ``aside``)."""

    async def dead_letter(self, letter: DeadLetter) -> None:
        """Produce the dead letter, its raw bytes set aside if the broker refuses it as too large."""


class SpoolFile:
    """The SQLite file. Blocking calls: :class:`SpoolingEmitter` runs them on its one thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: every commit is fsync'd before it returns, so a 2xx survives a power cut.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def append(self, records: Sequence[Record]) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO spool (topic, key, value) VALUES (?, ?, ?)", [tuple(r) for r in records])

    def oldest(self, limit: int) -> list[tuple[int, Record]]:
        rows = self._db.execute("SELECT seq, topic, key, value FROM spool ORDER BY seq LIMIT ?", (limit,))
        return [(seq, Record(topic, key, value)) for seq, topic, key, value in rows]

    def delete_through(self, seq: int) -> None:
        self._db.execute("DELETE FROM spool WHERE seq <= ?", (seq,))

    def depth(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM spool").fetchone()
        return int(count)

    def close(self) -> None:
        self._db.close()


class SpoolingEmitter:
    """An :class:`~connectors.emitter.Emitter` that spools instead of failing while the broker is away."""

    def __init__(self, inner: RecordSender, spool: SpoolFile, *, ack_timeout_s: float, drain_batch: int) -> None:
        self.inner = inner
        self.spool = spool
        self.ack_timeout_s = ack_timeout_s
        self._ack_deadlines = Deadlines(ack_timeout_s)  # one timer for every request's wait
        self.drain_batch = drain_batch
        self.depth = 0
        self.broker_error: str | None = None
        self.drain_error: str | None = None
        self._batch = drain_batch  # 1 while looking for the record the broker refused as too large
        self._single_through = 0  # the last row of the batch refused: one at a time up to it
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._wake = asyncio.Event()

    async def emit(self, interaction: Interaction) -> None:
        await self.deliver([Record.of(interaction)])

    async def emit_many(self, interactions: list[Interaction]) -> None:
        await self.deliver([Record.of(i) for i in interactions])

    async def dead_letter(self, record: DeadLetter) -> None:
        try:
            await self.deliver([self.inner.dead_letter_record(record)])
        except RecordTooLarge:  # within our limit, over the broker's: its bytes go to a file all the same
            await self.deliver([self.inner.dead_letter_record(record, aside=True)])

    @property
    def spooling(self) -> bool:
        return self.depth > 0

    def health(self) -> dict[str, object]:
        """What /readyz shows: the mode, how much waits, and why (and the drainer's last error, while it has one)."""
        health: dict[str, object] = {
            "state": "spooling" if self.spooling else "direct",
            "depth": self.depth,
            "broker": self.broker_error or "ok",
        }
        if self.drain_error is not None:
            health["drainer"] = self.drain_error
        return health

    async def deliver(self, records: Sequence[Record]) -> None:
        """Durable on the broker or in the spool when this returns; RetriableError if neither, RecordTooLarge
        (nothing sent or spooled) if the broker can never take one of them."""
        self.inner.check(records)
        if not self.spooling:
            # Waited for here, not in a task of its own behind a shield (a task, a shield and a done-callback per
            # request were ~8 µs of a webhook's CPU): the timeout cancels the producer's acknowledgement futures,
            # and aiokafka sends a record whose future was cancelled all the same (AIOKafkaProducer.send: only
            # cancelling send() itself, still queueing, stops it). So a record that outlives the timeout may arrive
            # twice, once from the producer and once from the spool, which the pipeline absorbs.
            try:
                async with self._ack_deadlines():
                    await self.inner.send_all(records)
                return
            except (RetriableError, TimeoutError) as exc:
                self._broker_down(exc)
        try:
            await self._io(self.spool.append, records)
        except sqlite3.Error as exc:
            log.error("spool.write_failed", error=type(exc).__name__)
            raise RetriableError("broker unavailable and the spool cannot be written") from exc
        if not self.spooling:
            log.warning("spool.started", path=str(self.spool.path))
        self._set_depth(self.depth + len(records))
        self._wake.set()

    async def run(self) -> None:
        """Drain forever: oldest first, delete after the ack, back off while the broker is away; an
        unexpected error is logged and shown on /readyz, and draining resumes after a backoff."""
        backoff = Backoff(0.5, 5.0)
        loaded = False
        while True:
            try:
                if not loaded:
                    self._set_depth(await self._io(self.spool.depth))
                    loaded = True
                await self._drain_step(backoff)
            except Exception as exc:  # the drainer must outlive anything: the spool would never empty
                name = type(exc).__name__
                log.error("spool.drain_failed", error=name)
                self.drain_error = name
                await backoff.wait()

    async def _drain_step(self, backoff: Backoff) -> None:
        if not self.spooling:
            self._wake.clear()
            await self._wake.wait()
            return
        # Probe first: sending into a broker that does not answer would only pile up copies.
        if self.broker_error is not None and not await self._reachable():
            await backoff.wait()
            return
        rows = await self._io(self.spool.oldest, self._batch)
        if not rows:  # fewer in the file than counted: recount
            self._set_depth(await self._io(self.spool.depth))
            return
        try:
            try:
                await self.inner.send_all([record for _, record in rows])
            except RecordTooLarge:
                if len(rows) > 1:
                    # One at a time through the rows of the refused batch: each is sent or set aside alone.
                    self._batch, self._single_through = 1, rows[-1][0]
                    return
                await self._set_aside(rows[0][1])
        except RetriableError as exc:
            self._broker_down(exc)
            await backoff.wait()
            return
        await self._io(self.spool.delete_through, rows[-1][0])
        if rows[-1][0] >= self._single_through:  # past the refused batch (or never in one): whole batches again
            self._batch = self.drain_batch
        self._set_depth(self.depth - len(rows))
        self.broker_error = None
        self.drain_error = None
        backoff.reset()
        if not self.spooling:
            log.info("spool.drained")

    async def _set_aside(self, record: Record) -> None:
        """Dead-letter a spooled record the broker can never take, with the reason (RetriableError if the
        dead letter cannot be produced now: the record stays)."""
        if record.topic == topics.DEADLETTER:
            letter = DeadLetter.model_validate_json(record.value)
        else:
            letter = DeadLetter.of(
                record.value,
                "a record too large for the broker, left in the spool",
                source=SOURCE,
                content_type="application/json",
                error_type=RecordTooLarge.__name__,
                topic=record.topic,
            )
        await self.inner.dead_letter(letter)  # its bytes in a file if the broker refuses it as it is
        log.warning("spool.record_set_aside", topic=record.topic, size=len(record.value), source=letter.source)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.spool.close()

    async def _reachable(self) -> bool:
        try:
            async with asyncio.timeout(self.ack_timeout_s):
                return await self.inner.reachable()
        except TimeoutError:
            return False

    def _broker_down(self, exc: BaseException) -> None:
        reason = str(exc) if isinstance(exc, RetriableError) else f"no acknowledgement in {self.ack_timeout_s:g}s"
        if self.broker_error is None:
            log.warning("spool.broker_unavailable", error=reason)
        self.broker_error = reason

    def _set_depth(self, depth: int) -> None:
        self.depth = depth
        SPOOL_DEPTH.set(depth)

    async def _io(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)
