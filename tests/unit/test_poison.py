"""Poison isolation around the batch processor: the bad record alone is dead-lettered, every other
record of its batch is processed. The inner processor is a fake at the unit edge; the end-to-end
proof with a record PostgreSQL refuses is tests/integration/test_poison_message.py."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from pipeline.batch import BatchResult
from pipeline.poison import PoisonIsolation
from schemas import topics
from sinks.kafka.records import RawRecord, Record


class FlakyProcessor:
    """Commits a batch only if none of its records is poison, like one PostgreSQL transaction."""

    def __init__(self) -> None:
        self.committed: list[int] = []

    async def process(self, records: list[RawRecord]) -> BatchResult:
        if any(r.value == b"poison" for r in records):
            raise ValueError("stage failed: value quoted here must not leak")
        self.committed += [r.offset for r in records]
        return BatchResult(received=len(records), inserted=len(records), duplicates=0, dead_lettered=0, updated=0)


@pytest.fixture
def published() -> list[Record]:
    return []


def batch(n: int, poison_at: set[int]) -> list[RawRecord]:
    return [RawRecord(b"poison" if o in poison_at else b"{}", topics.INTERACTIONS, 1, o) for o in range(n)]


async def test_one_poison_record_is_dead_lettered_with_its_offset_and_the_rest_commits(published: list[Record]) -> None:
    inner = FlakyProcessor()

    async def publish(records: Sequence[Record]) -> None:
        published.extend(records)

    result = await PoisonIsolation(inner, publish).process(batch(37, {23}))
    assert sorted(inner.committed) == [o for o in range(37) if o != 23]
    assert (result.received, result.inserted, result.dead_lettered) == (37, 36, 1)
    [(topic, key, value)] = published
    assert topic == topics.DEADLETTER
    assert key is None
    letter = json.loads(value or b"")
    assert (letter["topic"], letter["partition"], letter["offset"]) == (topics.INTERACTIONS, 1, 23)
    assert letter["source"] == "pipeline.stage"
    assert letter["error_type"] == "ValueError"
    assert "leak" not in letter["reason"]  # the exception's message may quote personal data


async def test_several_poison_records_and_a_clean_batch(published: list[Record]) -> None:
    inner = FlakyProcessor()

    async def publish(records: Sequence[Record]) -> None:
        published.extend(records)

    guard = PoisonIsolation(inner, publish)
    result = await guard.process(batch(10, {0, 9, 4}))
    assert sorted(inner.committed) == [1, 2, 3, 5, 6, 7, 8]
    assert sorted(json.loads(v or b"")["offset"] for _, _, v in published) == [0, 4, 9]
    assert result.dead_lettered == 3
    inner.committed.clear()
    clean = await guard.process(batch(5, set()))
    assert clean.inserted == 5
    assert len(published) == 3
