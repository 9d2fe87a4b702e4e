"""The media stage: for each interaction the timeline adds with attachments, keep their content.

Consumes ``omnitrail.timeline.v1`` in a group of its own (``omnitrail-media``), so it is scaled like
the worker (more ``omnitrail media`` processes, up to the partition count) and never holds the
timeline up. For each attachment of an ``interaction.added`` that has no media state yet:

- fetch it (:mod:`pipeline.media.sources`), a provider that is unavailable tried again with backoff
  up to ``attempts`` times;
- check the type the bytes are against the one claimed: an image, audio or video whose bytes are
  something else is not kept;
- keep it in the object store under its SHA-256 (the same bytes are kept once);
- record the media state on the attachment and publish ``interaction.updated`` (:mod:`sinks.media.state`).

A file that cannot be kept (over the cap, 401/404 from the provider, an expired link, a type that
lies, a provider down through every try) is recorded ``failed`` with the reason and dead-lettered
(source ``media.fetch``, the timeline event as raw bytes); the interaction itself is never touched
otherwise, and the stage carries on: no crash loop. Database and broker faults are waited out.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import structlog
from psycopg_pool import AsyncConnectionPool

from pipeline import retry
from pipeline.media import metrics, sources
from pipeline.media.fetch import SNIFF_BYTES, Fetched, Fetcher, Refused, Unavailable, sniff
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.interaction import Attachment, Channel, Interaction, Media, MediaState
from sinks import outbox
from sinks.connection import Conn
from sinks.kafka.backoff import Backoff
from sinks.kafka.records import Publish, RawRecord
from sinks.media import deletions, state
from sinks.media.store import MediaStore

log = structlog.get_logger(__name__)

SOURCE = "media.fetch"
#: Claimed families whose bytes are checked: a disguised HTML page never passes for a photo.
_CHECKED = ("image/", "audio/", "video/")


@dataclass(frozen=True)
class Policy:
    attempts: int = 5
    retry_first_s: float = 1.0
    retry_cap_s: float = 60.0
    concurrency: int = 4


class MediaStage:
    def __init__(
        self,
        pool: AsyncConnectionPool[Conn],
        publish: Publish,
        store: MediaStore,
        fetcher: Fetcher,
        credentials: sources.Credentials,
        policy: Policy | None = None,
    ) -> None:
        self.pool = pool
        self.publish = publish
        self.store = store
        self.fetcher = fetcher
        self.credentials = credentials
        self.policy = policy or Policy()
        self._slots = asyncio.Semaphore(self.policy.concurrency)
        self._draining = asyncio.Lock()

    async def handle_records(self, records: list[RawRecord]) -> None:
        wanted: dict[uuid.UUID, RawRecord] = {}
        for record in records:
            interaction_id = _added_with_attachments(record.value)
            if interaction_id is not None:
                wanted.setdefault(interaction_id, record)
        await asyncio.gather(*(self._guarded(i, r) for i, r in wanted.items()))
        async with self._draining:
            await retry.forever("outbox drain", lambda: outbox.drain(self.pool, self.publish))

    async def _guarded(self, interaction_id: uuid.UUID, record: RawRecord) -> None:
        """One interaction; what nobody foresaw is dead-lettered with its event, the batch commits (no crash loop)."""
        try:
            await self._interaction(interaction_id, record)
        except Exception as exc:
            log.error("media.unexpected", interaction_id=str(interaction_id), error=type(exc).__name__)
            metrics.failed(None, "error")
            await self._dead_letter(record, f"media stage error: {type(exc).__name__}", type(exc).__name__)

    async def _interaction(self, interaction_id: uuid.UUID, record: RawRecord) -> None:
        interaction = await retry.forever("media load", lambda: self._load(interaction_id))
        if interaction is None:
            return  # erased or purged since it was added
        for index, attachment in enumerate(interaction.attachments):
            if attachment.media is not None:
                continue  # done before (fetched once)
            if sources.carried(interaction, attachment):
                found = await retry.forever(
                    "media carried",
                    lambda a=attachment: self._carried(interaction.channel, a),  # type: ignore[misc]
                )
                if found is None:
                    continue  # the connector kept no bytes (media off when it read the mail)
                media = found
            elif not sources.fetchable(attachment):
                continue
            else:
                async with self._slots:
                    media = await self._keep(interaction, attachment)
            if media.state is MediaState.failed:
                log.warning("media.failed", interaction_id=str(interaction_id), attachment=index, reason=media.reason)
                await self._dead_letter(record, f"attachment {index}: {media.reason}")
            else:
                log.info("media.stored", interaction_id=str(interaction_id), attachment=index, size=media.size)
            await retry.forever(
                "media record",
                lambda index=index, media=media: self._record(interaction_id, index, media),  # type: ignore[misc]
            )

    async def _keep(self, interaction: Interaction, attachment: Attachment) -> Media:
        channel = interaction.channel
        backoff = Backoff(self.policy.retry_first_s, self.policy.retry_cap_s)
        for attempt in range(1, self.policy.attempts + 1):
            try:
                fetched = await sources.fetch(self.fetcher, self.credentials, interaction, attachment)
            except Refused as exc:
                return _failed(channel, "refused", str(exc))
            except Unavailable as exc:
                if attempt == self.policy.attempts:
                    return _failed(channel, "unavailable", f"{exc} ({attempt} tries)")
                log.info("media.retrying", interaction_id=str(interaction.interaction_id), attempt=attempt, error=exc)
                await backoff.wait()
                continue
            try:
                lie = _type_lie(attachment.content_type, fetched.content_type)
                if lie is not None:
                    return _failed(channel, "type_mismatch", lie)
                await retry.forever("media store", lambda f=fetched: self.store.put(f.sha256, f.path))  # type: ignore[misc]
                metrics.kept(channel, "fetched", fetched.size)
                return _stored(fetched)
            finally:
                fetched.discard()
        raise AssertionError("unreachable")  # the last attempt returns

    async def sweep_every(self, interval_s: float) -> None:
        """Delete the files erasures and purges left unreferenced (:mod:`sinks.media.deletions`), until cancelled."""
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # the next round tries again; the stage keeps running
                log.warning("media.sweep_failed", error=type(exc).__name__)
            await asyncio.sleep(interval_s)

    async def sweep(self) -> int:
        """One round of :meth:`sweep_every`: how many files left the store (counted, logged)."""
        if removed := await deletions.sweep(self.pool.connection, self.store):
            metrics.SWEPT.inc(removed)
            log.info("media.deleted", files=removed)
        return removed

    async def _carried(self, channel: Channel, attachment: Attachment) -> Media | None:
        """An email attachment the connector kept before producing: its type sniffed, the claim checked."""
        assert attachment.sha256 is not None
        if not await self.store.has(attachment.sha256):
            return None
        found = sniff(await self.store.head(attachment.sha256, SNIFF_BYTES))
        if (lie := _type_lie(attachment.content_type, found)) is not None:
            return _failed(channel, "type_mismatch", lie)
        size = await self.store.size(attachment.sha256)
        metrics.kept(channel, "carried", size)
        return Media(
            state=MediaState.stored, sha256=attachment.sha256, content_type=found, size=size, at=datetime.now(UTC)
        )

    async def _load(self, interaction_id: uuid.UUID) -> Interaction | None:
        async with self.pool.connection() as conn:
            return await state.load(conn, interaction_id)

    async def _record(self, interaction_id: uuid.UUID, index: int, media: Media) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await state.record(conn, interaction_id, index, media)

    async def _dead_letter(self, record: RawRecord, reason: str, error_type: str = "InvalidPayload") -> None:
        """The timeline event as it was fetched, with why (source ``media.fetch``)."""
        letter = DeadLetter.of(
            record.value or b"",
            reason,
            source=SOURCE,
            content_type="application/json",
            error_type=error_type,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        value = letter.model_dump_json().encode()
        await retry.forever("media dead-letter", lambda: self.publish([(topics.DEADLETTER, None, value)]))


def _added_with_attachments(value: bytes | None) -> uuid.UUID | None:
    """The id of an ``interaction.added`` whose interaction has attachments (cheap: no model built)."""
    try:
        event = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict) or event.get("type") != "interaction.added":
        return None
    interaction = event.get("interaction")
    if not isinstance(interaction, dict) or not interaction.get("attachments"):
        return None
    try:
        return uuid.UUID(str(interaction.get("interaction_id")))
    except ValueError:
        return None


def _type_lie(claimed: str | None, found: str) -> str | None:
    claimed = (claimed or "").split(";")[0].strip().lower()
    family = next((f for f in _CHECKED if claimed.startswith(f)), None)
    if family is None or found.startswith(family):
        return None
    return f"the content is not the type claimed: claimed {claimed}, the bytes are {found}"


def _failed(channel: Channel, cause: metrics.Cause, reason: str) -> Media:
    """A failure recorded with its reason, and counted by its class."""
    metrics.failed(channel, cause)
    return Media(state=MediaState.failed, reason=reason, at=datetime.now(UTC))


def _stored(fetched: Fetched) -> Media:
    return Media(
        state=MediaState.stored,
        sha256=fetched.sha256,
        content_type=fetched.content_type,
        size=fetched.size,
        at=datetime.now(UTC),
    )
