"""Emitters: where normalized interactions and dead letters go.

``emit`` returns only after the broker acknowledged the record (``acks=all``), so a
caller that answers a webhook 2xx or advances a checkpoint after it never loses data.

A record over the broker's size limit is :class:`~schemas.errors.RecordTooLarge`, not retriable: no retry
could ever produce it. A dead letter that large keeps its raw bytes in a local file instead
(:mod:`connectors.deadletter_bodies`), so it still reaches the topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from connectors.deadletter_bodies import DeadLetterBodies
from connectors.metrics import DEADLETTERED
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.errors import RecordTooLarge, RetriableError
from schemas.interaction import Interaction
from sinks.kafka.clients import MAX_RECORD_BYTES
from sinks.kafka.records import HEADERS

log = structlog.get_logger(__name__)
#: What a broker (or aiokafka, before sending) answers for a record over a size limit: permanent.
_TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)


class Record(NamedTuple):
    """One record as it goes on the wire: what the spool keeps while the broker is away."""

    topic: str
    key: bytes | None
    value: bytes

    @classmethod
    def of(cls, interaction: Interaction) -> Record:
        return cls(topics.INTERACTIONS, interaction.routing_key(), interaction.model_dump_json().encode())

    @classmethod
    def dead_letter(cls, record: DeadLetter) -> Record:
        return cls(topics.DEADLETTER, None, record.model_dump_json().encode())

    @property
    def size(self) -> int:
        """Its size as one batch on the wire, as the producer counts it against ``max_request_size``."""
        return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(self.key, self.value, HEADERS))


class Emitter(Protocol):
    async def emit(self, interaction: Interaction) -> None:
        """Make the interaction durable on the broker, or raise RetriableError."""

    async def emit_many(self, interactions: list[Interaction]) -> None:
        """Make all of them durable; on error none is known to be durable."""

    async def dead_letter(self, record: DeadLetter) -> None:
        """Make the dead-letter record durable, or raise RetriableError."""


async def send_dead_letter(emitter: Emitter, letter: DeadLetter) -> None:
    """A connector's dead letter made durable, then counted by source (``omnitrail_deadlettered_total``)."""
    await emitter.dead_letter(letter)
    DEADLETTERED.labels(letter.source).inc()
    log.info("connector.dead_lettered", source=letter.source, reason=letter.reason)


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class KafkaEmitter:
    """Produces to the interactions and dead-letter topics through a started aiokafka producer.

    ``bodies``: where a dead letter too large for the broker keeps its raw bytes; without it such a dead
    letter is :class:`~schemas.errors.RecordTooLarge` like any other oversized record.
    """

    def __init__(
        self,
        producer: AIOKafkaProducer,
        *,
        bodies: DeadLetterBodies | None = None,
        max_record_bytes: int = MAX_RECORD_BYTES,
    ) -> None:
        self._producer = producer
        self.bodies = bodies
        self.max_record_bytes = max_record_bytes

    async def emit(self, interaction: Interaction) -> None:
        await self.send_all([Record.of(interaction)])

    async def emit_many(self, interactions: list[Interaction]) -> None:
        await self.send_all([Record.of(i) for i in interactions])

    async def dead_letter(self, record: DeadLetter) -> None:
        try:
            await self.send_all([self.dead_letter_record(record)])
        except RecordTooLarge:  # within our limit, over the broker's (configured lower): a file all the same
            if self.bodies is None or record.raw_file is not None:
                raise
            await self.send_all([self.dead_letter_record(record, aside=True)])

    def dead_letter_record(self, letter: DeadLetter, *, aside: bool = False) -> Record:
        """The dead letter as a record the broker takes: its raw bytes set aside in a file if it is too large
        (or ``aside``: the broker refused it though it is within our limit)."""
        record = Record.dead_letter(letter)
        if self.bodies is None or letter.raw_file is not None or (record.size <= self.max_record_bytes and not aside):
            return record
        return Record.dead_letter(self.bodies.set_aside(letter))

    def check(self, records: Sequence[Record]) -> None:
        """RecordTooLarge if any record is over the size limit (nothing is sent then)."""
        for r in records:
            if r.size > self.max_record_bytes:
                raise RecordTooLarge(f"a {r.size}-byte record exceeds the broker's limit ({self.max_record_bytes})")

    async def send_all(self, records: Sequence[Record]) -> None:
        """Produce records in order and wait for every acknowledgement; RetriableError if any is missing,
        RecordTooLarge (before anything is sent, or from the broker) if one can never be produced."""
        self.check(records)
        # Queue every record first, then wait: the producer batches them into few requests.
        futures: list[asyncio.Future[Any]] = []
        try:
            for r in records:
                futures.append(await self._producer.send(r.topic, value=r.value, key=r.key, headers=HEADERS))
            for future in futures:
                await future
        except BaseException as exc:
            # Given up on (an error, the caller's deadline): the acknowledgements not waited for still end, and
            # a failed one must not be logged as "Future exception was never retrieved", once per record.
            for future in futures:
                future.add_done_callback(_retrieved)
            if isinstance(exc, _TOO_LARGE):  # a broker with a lower limit than ours
                raise RecordTooLarge(f"the broker refused a record as too large: {type(exc).__name__}") from exc
            if isinstance(exc, KafkaError):
                raise RetriableError(f"broker did not acknowledge: {type(exc).__name__}") from exc
            raise

    async def reachable(self) -> bool:
        """Whether the broker answers a metadata request (nothing is produced). Callers bound the wait."""
        try:
            await self._producer.client.fetch_all_metadata()
        except Exception:  # any failure (connection refused, auth, protocol) means "not now"
            return False
        return True
