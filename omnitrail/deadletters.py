"""``omnitrail deadletter list|replay``: inspect the dead-letter topic and re-drive it after a fix.

Two kinds of dead letters, re-driven differently:

* ``pipeline.*`` (decode stage, poison isolation): the raw bytes are an interaction record that
  the pipeline refused; replay produces them back to the interactions topic unchanged.
* a connector's source (``twilio.messages``, ``meta``, ``telegram.polling``, ``email.imap``, ...):
  the raw bytes are what the provider sent (a request body, an update, a message). A webhook's
  signature was verified on receipt (unsigned requests are never dead-lettered), so replay hands
  them to the normalizer the connector declared for that source (:meth:`Connector.replayers`,
  derived from its routes) and produces what it now makes of them. Whatever is still invalid is
  reported and left where it is.
* ``media.fetch`` (the media stage could not keep an attachment): the raw bytes are the timeline
  event it was handling; replay clears the interaction's failed media states and produces the
  event back to the timeline topic, so the stage tries those attachments again (after new
  credentials, say). Other timeline consumers see the event again with its own ``event_id``.

Replaying twice is harmless: interaction ids are deterministic, the timeline holds each once.
Listing prints the reason, source and position, never the raw bytes unless asked: they are the
customer's message.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaProducer
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from connectors.base import AnyConnector
from connectors.emitter import KafkaEmitter, Record
from connectors.webhook import Normalized, RawRequest, unnormalizable
from omnitrail import registry
from pipeline.media.stage import SOURCE as MEDIA_SOURCE
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.errors import InvalidPayload
from schemas.interaction import Interaction
from schemas.timeline import TimelineEvent
from sinks.kafka import clients, reader
from sinks.kafka.settings import KafkaSettings
from sinks.media import state

PIPELINE_PREFIX = "pipeline."


@dataclass(frozen=True)
class Letter:
    partition: int
    offset: int
    record: DeadLetter


@dataclass(frozen=True)
class Filter:
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    reason: str | None = None

    def __call__(self, letter: DeadLetter) -> bool:
        return (
            (self.source is None or letter.source == self.source)
            and (self.since is None or letter.received_at >= self.since)
            and (self.until is None or letter.received_at < self.until)
            and (self.reason is None or self.reason.lower() in letter.reason.lower())
        )


@dataclass
class ReplayReport:
    produced: int = 0
    still_invalid: int = 0
    no_connector: int = 0


async def read(settings: KafkaSettings, bootstrap: str, keep: Filter) -> list[Letter]:
    """Every dead letter on the topic now that ``keep`` accepts, oldest first."""
    letters: list[Letter] = []
    async for m in reader.messages(settings, bootstrap, topics.DEADLETTER):
        if m.value is None:
            continue
        try:
            record = DeadLetter.model_validate_json(m.value)
        except ValidationError:
            continue  # not ours (another producer wrote to the topic): nothing to replay
        if keep(record):
            letters.append(Letter(m.partition, m.offset, record))
    return sorted(letters, key=lambda letter: (letter.record.received_at, letter.partition, letter.offset))


def describe(letter: Letter, *, with_raw: bool = False) -> str:
    """One line per dead letter, free of personal data unless ``with_raw``."""
    r = letter.record
    where = f" from {r.topic}[{r.partition}]@{r.offset}" if r.topic is not None else ""
    line = (
        f"{r.received_at.isoformat()}  deadletter[{letter.partition}]@{letter.offset}  {r.source}  "
        f"{r.error_type}: {r.reason}{where}  "
        + (
            f"({len(r.raw)} bytes)"
            if r.raw_file is None
            else f"({r.raw_size} bytes in {r.raw_file}, sha256 {r.raw_sha256})"
        )
    )
    if not with_raw:
        return line
    # The payload under its line, every line of it indented, and a blank line before the next letter.
    return f"{line}\n{textwrap.indent(r.raw.decode('utf-8', errors='replace'), '    | ', lambda _: True)}\n"


async def _redrive(letter: DeadLetter, connectors: Iterable[AnyConnector]) -> list[Record] | str | None:
    """The records to produce for one dead letter; None: no connector for it; str: still invalid."""
    if letter.raw_file is not None:  # too large for the topic: its bytes are a file where they were received
        return f"its bytes are in {letter.raw_file} on the host that received them: post them again by hand"
    if letter.source == MEDIA_SOURCE:
        try:
            event = TimelineEvent.model_validate_json(letter.raw)
        except ValidationError:
            return "not a timeline event"
        return [Record(topics.TIMELINE, str(event.contact_id).encode(), letter.raw)]
    if letter.source.startswith(PIPELINE_PREFIX):
        try:
            key = Interaction.model_validate_json(letter.raw).routing_key()
        except ValidationError:
            key = None  # produce it anyway: the pipeline's decode stage says why, again
        return [Record(topics.INTERACTIONS, key, letter.raw)]
    for connector in connectors:
        replay = connector.replayers().get(letter.source)
        if replay is None:
            continue
        raw = RawRequest(
            body=letter.raw, headers={}, public_url="", received_at=letter.received_at, content_type=letter.content_type
        )
        try:
            result = await replay(raw)
        except InvalidPayload as exc:
            return exc.reason
        except Exception as exc:  # as on receipt: a normalizer that raises refuses this one letter, not the replay
            return unnormalizable(exc)
        interactions = result.interactions if isinstance(result, Normalized) else result
        return [Record.of(i) for i in interactions] or "nothing in it could be normalized"
    return None


async def replay(
    settings: KafkaSettings,
    bootstrap: str,
    database_url: str,
    letters: list[Letter],
    connectors: list[AnyConnector],
    *,
    dry_run: bool,
) -> tuple[ReplayReport, list[str]]:
    """Re-drive ``letters``; connectors read theirs with the memory they share (email threads in PostgreSQL)."""
    pool = AsyncConnectionPool(database_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True})
    async with pool:
        registry.share_memory(connectors, pool)
        outcomes = [await _redrive(letter.record, connectors) for letter in letters]
        media = [
            event.interaction.interaction_id
            for letter, outcome in zip(letters, outcomes, strict=True)
            if letter.record.source == MEDIA_SOURCE and isinstance(outcome, list)
            and (event := TimelineEvent.model_validate_json(letter.record.raw)).interaction is not None
        ]  # fmt: skip
        if media and not dry_run:
            async with pool.connection() as conn:
                await state.forget_failures(conn, media)
    report, problems = ReplayReport(), []
    batches: list[list[Record]] = []
    for letter, outcome in zip(letters, outcomes, strict=True):
        if outcome is None:
            report.no_connector += 1
            problems.append(f"deadletter[{letter.partition}]@{letter.offset}: no configured connector for source")
        elif isinstance(outcome, str):
            report.still_invalid += 1
            problems.append(f"deadletter[{letter.partition}]@{letter.offset}: still invalid: {outcome}")
        else:
            batches.append(outcome)
            report.produced += len(outcome)
    if dry_run or not batches:
        return report, problems
    producer: AIOKafkaProducer = clients.producer(settings, bootstrap)
    await producer.start()
    try:
        await KafkaEmitter(producer).send_all([r for batch in batches for r in batch])
    finally:
        await producer.stop()
    return report, problems
