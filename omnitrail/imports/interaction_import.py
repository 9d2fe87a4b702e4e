"""``omnitrail import interactions FILE``: stream a file's rows to ``omnitrail.interactions.v1``.

Rows are converted one by one and produced in batches through the normal emitter, which
returns only after the broker acknowledged them (one batch in flight while the next is read); the
pipeline then writes them like any other interaction. A bad row is counted and listed with its
line number, never fatal. A broker that stops acknowledging ends the run with RetriableError:
re-running is safe because ids are deterministic, so rows already taken are not duplicated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from connectors.emitter import Emitter
from omnitrail.imports import interaction_rows
from omnitrail.imports.rows import RowReader
from schemas.errors import InvalidPayload
from schemas.interaction import Interaction

log = structlog.get_logger(__name__)

#: Rejections listed one by one in the summary; beyond that they are only counted (a broken
#: million-row file must not fill memory with reasons).
MAX_LISTED = 1000
#: Rows converted between two turns of the event loop (the producer sends and takes acks in those turns).
_YIELD_EVERY = 100


@dataclass
class ImportSummary:
    accepted: int = 0
    rejected: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_LISTED:
            self.rejections.append((line, reason))

    def render(self) -> str:
        lines = [f"accepted {self.accepted}, rejected {self.rejected}"]
        lines += [f"  line {line}: {reason}" for line, reason in self.rejections]
        if self.rejected > len(self.rejections):
            lines.append(f"  ... and {self.rejected - len(self.rejections)} more")
        return "\n".join(lines)


class _Pipelined:
    """At most one batch awaiting the broker's ack while the next one is read and converted.

    Rows are counted as accepted only once their batch is acknowledged. Converting yields to the
    event loop every few rows so the producer can send and take acks meanwhile.
    """

    def __init__(self, emitter: Emitter, summary: ImportSummary) -> None:
        self._emitter = emitter
        self._summary = summary
        self._in_flight: asyncio.Task[None] | None = None
        self._in_flight_size = 0

    async def settle(self) -> None:
        if self._in_flight is not None:
            task, self._in_flight = self._in_flight, None
            await task
            self._summary.accepted += self._in_flight_size

    async def send(self, batch: list[Interaction]) -> None:
        await self.settle()
        if batch:
            self._in_flight = asyncio.create_task(self._emitter.emit_many(batch))
            self._in_flight_size = len(batch)

    async def abandon(self) -> None:
        if self._in_flight is not None:
            self._in_flight.cancel()
            await asyncio.gather(self._in_flight, return_exceptions=True)


async def import_interactions(
    reader: RowReader,
    emitter: Emitter,
    *,
    default_region: str,
    batch_size: int = 1000,
    progress: Callable[[int], None] = lambda _: None,
) -> ImportSummary:
    """Import every row; ``progress`` gets the bytes read since its last call."""
    summary = ImportSummary()
    sender = _Pipelined(emitter, summary)
    batch: list[Interaction] = []
    received_at = datetime.now(UTC)
    reported = 0
    try:
        for count, row in enumerate(reader, start=1):
            if count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if row.error is not None:
                summary.reject(row.line, row.error)
                continue
            try:
                if reader.format == "csv":
                    interaction = interaction_rows.from_csv(
                        row.values, default_region=default_region, received_at=received_at
                    )
                else:
                    interaction = interaction_rows.from_json(row.values, received_at=received_at)
            except InvalidPayload as exc:
                summary.reject(row.line, exc.reason)
                continue
            batch.append(interaction)
            if len(batch) >= batch_size:
                await sender.send(batch)
                batch = []
                progress(reader.bytes_read - reported)
                reported = reader.bytes_read
        await sender.send(batch)
        await sender.settle()
    except BaseException:
        await sender.abandon()
        raise
    progress(reader.bytes_read - reported)
    log.info("import.finished", kind="interactions", accepted=summary.accepted, rejected=summary.rejected)
    return summary
