"""Poison isolation: a record that makes a stage fail for good is dead-lettered alone, the rest flows.

:meth:`~pipeline.batch.BatchProcessor.process` retries transient faults (database, broker) forever
inside, so an exception that escapes it is not going away by waiting: the same records would fail
the same way on every redelivery and the partition would never move again. One bad record must
not stop a customer's whole partition, so :class:`PoisonIsolation` bisects the batch:

    process(batch) fails -> process(left half), process(right half) -> ... -> one record fails
                                                                          -> dead letter it

A batch is one PostgreSQL transaction, so a failed half left nothing behind; halves that succeed
commit as usual. ``log2(batch)`` extra rounds per poison record, only when one is present. The
dead letter names the stage's error type (never its message, which may quote personal data), the
topic, partition and offset, and carries the raw bytes for ``omnitrail deadletter replay``.
A decode-stage dead letter of a batch that is then bisected may be published again: the
dead-letter topic is at-least-once, and replay is idempotent (deterministic interaction ids).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Protocol

import structlog

from pipeline import metrics, retry
from pipeline.batch import BatchResult
from pipeline.stages.decode import dead_letter
from schemas import topics
from sinks.kafka.records import Publish, RawRecord

log = structlog.get_logger(__name__)
SOURCE = "pipeline.stage"


class BatchProcessing(Protocol):
    async def process(self, records: list[RawRecord]) -> BatchResult: ...


class PoisonIsolation:
    """Wraps a batch processor; same interface, but a poison record cannot stall its partition."""

    def __init__(self, inner: BatchProcessing, publish: Publish) -> None:
        self.inner = inner
        self.publish = publish

    async def process(self, records: list[RawRecord]) -> BatchResult:
        try:
            return await self.inner.process(records)
        except Exception as exc:  # whatever escaped the inner retries is not transient: isolate it
            if len(records) == 1:
                return await self._dead_letter(records[0], exc)
            log.warning("pipeline.poison_bisect", size=len(records), error=type(exc).__name__)
            middle = len(records) // 2
            return _sum(await self.process(records[:middle]), await self.process(records[middle:]))

    async def _dead_letter(self, record: RawRecord, exc: Exception) -> BatchResult:
        reason = f"a pipeline stage failed on this record: {type(exc).__name__}"
        letter = dead_letter(record, reason, source=SOURCE, now=datetime.now(UTC), error_type=type(exc).__name__)
        value = letter.model_dump_json().encode()
        await retry.forever("poison dead-letter", lambda: self.publish([(topics.DEADLETTER, None, value)]))
        metrics.PROCESSED.labels("dead_lettered", metrics.UNKNOWN_CHANNEL).inc()
        log.error(
            "pipeline.poison_dead_lettered",
            error=type(exc).__name__,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        return BatchResult(received=1, inserted=0, duplicates=0, dead_lettered=1, updated=0)


def _sum(a: BatchResult, b: BatchResult) -> BatchResult:
    return BatchResult(**{f.name: getattr(a, f.name) + getattr(b, f.name) for f in fields(BatchResult)})
