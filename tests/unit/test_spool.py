"""The webhook spool: durable while the broker is away, drained in order when it is back.

The broker side is a small fake at the unit edge (it can hang like a frozen broker or refuse);
the spool file is the real SQLite file. The end-to-end proof against a real frozen broker is
tests/integration/test_broker_outage.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from connectors.deadletter_bodies import DeadLetterBodies
from connectors.emitter import KafkaEmitter, Record
from connectors.spool import SpoolFile, SpoolingEmitter
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.errors import RetriableError
from tests.helpers import sms_interaction


class FakeBroker:
    """``mode``: "up" acknowledges, "frozen" never answers (SIGSTOPped broker), "down" refuses."""

    def __init__(self) -> None:
        self.mode = "up"
        self.acked: list[Record] = []

    async def send_all(self, records: Sequence[Record]) -> None:
        if self.mode == "frozen":
            await asyncio.Event().wait()
        if self.mode == "down":
            raise RetriableError("broker did not acknowledge: KafkaConnectionError")
        self.acked.extend(records)

    async def reachable(self) -> bool:
        if self.mode == "frozen":
            await asyncio.Event().wait()
        return self.mode == "up"

    def check(self, records: Sequence[Record]) -> None:
        pass

    def dead_letter_record(self, letter: DeadLetter, *, aside: bool = False) -> Record:
        return Record.dead_letter(letter)

    async def dead_letter(self, letter: DeadLetter) -> None:
        await self.send_all([Record.dead_letter(letter)])


@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker()


@pytest.fixture
async def spooler(broker: FakeBroker, tmp_path: Path) -> AsyncIterator[SpoolingEmitter]:
    emitter = SpoolingEmitter(broker, SpoolFile(tmp_path / "spool.sqlite3"), ack_timeout_s=0.2, drain_batch=3)
    drainer = asyncio.create_task(emitter.run())
    yield emitter
    drainer.cancel()
    await asyncio.gather(drainer, return_exceptions=True)
    emitter.close()


def texts(records: Sequence[Record]) -> list[str]:
    return [r.value.decode() for r in records]


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_healthy_broker_is_used_directly_and_nothing_is_spooled(
    spooler: SpoolingEmitter, broker: FakeBroker, tmp_path: Path
) -> None:
    await spooler.emit(sms_interaction(1, "+351911111111"))
    assert len(broker.acked) == 1
    assert spooler.health() == {"state": "direct", "depth": 0, "broker": "ok"}
    assert SpoolFile(tmp_path / "spool.sqlite3").depth() == 0


async def test_frozen_broker_spools_durably_then_drains_in_order(
    spooler: SpoolingEmitter, broker: FakeBroker, tmp_path: Path
) -> None:
    events = [sms_interaction(n, "+351922222222", text=f"message {n}") for n in range(8)]
    broker.mode = "frozen"
    await spooler.emit(events[0])  # waits ack_timeout_s, then spools: durable, so the caller may answer 2xx
    assert spooler.health()["state"] == "spooling"
    # Behind a non-empty spool, new events are spooled at once, without waiting for the broker.
    broker.mode = "up"
    for event in events[1:]:
        await spooler.emit(event)
    # Durable = on disk: another connection to the file sees what has not been drained yet.
    on_disk = SpoolFile(tmp_path / "spool.sqlite3")
    assert on_disk.depth() == spooler.depth
    await until(lambda: spooler.depth == 0)
    assert [r.key for r in broker.acked] == [e.routing_key() for e in events]
    assert texts(broker.acked) == [e.model_dump_json() for e in events]
    assert on_disk.depth() == 0
    assert spooler.health() == {"state": "direct", "depth": 0, "broker": "ok"}
    await spooler.emit(sms_interaction(99, "+351922222222"))  # back to the direct path
    assert len(broker.acked) == 9


async def test_refusing_broker_spools_and_nothing_drains_until_it_answers(
    spooler: SpoolingEmitter, broker: FakeBroker
) -> None:
    broker.mode = "down"
    for n in range(4):
        await spooler.emit(sms_interaction(n, "+351933333333"))
    await asyncio.sleep(0.5)
    assert broker.acked == []
    assert spooler.health()["depth"] == 4
    assert "KafkaConnectionError" in str(spooler.health()["broker"])
    broker.mode = "up"
    await until(lambda: spooler.depth == 0)
    assert len(broker.acked) == 4


async def test_spool_left_by_a_previous_process_is_drained_at_start(broker: FakeBroker, tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    leftover = [Record.of(sms_interaction(n, "+351944444444")) for n in range(5)]
    SpoolFile(path).append(leftover)
    emitter = SpoolingEmitter(broker, SpoolFile(path), ack_timeout_s=0.2, drain_batch=2)
    drainer = asyncio.create_task(emitter.run())
    try:
        await until(lambda: len(broker.acked) == 5)
        assert broker.acked == leftover
        await until(lambda: emitter.depth == 0)
    finally:
        drainer.cancel()
        await asyncio.gather(drainer, return_exceptions=True)
        emitter.close()


async def test_unwritable_spool_is_a_retriable_error_so_the_webhook_answers_503(
    broker: FakeBroker, tmp_path: Path
) -> None:
    spool = SpoolFile(tmp_path / "spool.sqlite3")
    emitter = SpoolingEmitter(broker, spool, ack_timeout_s=0.2, drain_batch=2)
    spool.close()  # any SQLite failure (disk full, read-only) behaves the same way
    broker.mode = "down"
    with pytest.raises(RetriableError):
        await emitter.emit(sms_interaction(1, "+351955555555"))
    assert emitter.depth == 0


def test_spool_file_is_wal_and_fsyncs_every_commit(tmp_path: Path) -> None:
    spool = SpoolFile(tmp_path / "spool.sqlite3")
    assert spool._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert spool._db.execute("PRAGMA synchronous").fetchone() == (2,)  # 2 = FULL


class LowLimitProducer:
    """An aiokafka producer's ``send`` as a broker whose ``max.message.bytes`` is below ours answers it: a record
    over ``limit`` fails with aiokafka's MessageSizeTooLargeError; ``up`` False refuses everything."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.up = False
        self.acked: list[tuple[str, bytes]] = []
        self.client = self  # what KafkaEmitter.reachable asks

    async def fetch_all_metadata(self) -> None:
        if not self.up:
            raise KafkaConnectionError()

    async def send(self, topic: str, value: bytes, key: bytes | None, headers: Any) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.up:
            future.set_exception(KafkaConnectionError())
        elif len(value) > self.limit:
            future.set_exception(MessageSizeTooLargeError())
        else:
            self.acked.append((topic, value))
            future.set_result(None)
        return future


async def test_a_spooled_record_the_broker_refuses_within_our_limit_is_set_aside_and_the_rest_drains(
    tmp_path: Path,
) -> None:
    producer = LowLimitProducer(limit=600_000)  # a broker configured below our 1 MiB
    inner = KafkaEmitter(cast(AIOKafkaProducer, producer), bodies=DeadLetterBodies(tmp_path / "bodies"))
    spooler = SpoolingEmitter(inner, SpoolFile(tmp_path / "spool.sqlite3"), ack_timeout_s=0.2, drain_batch=3)
    big = sms_interaction(1, "+351966666666", text="a" * 700_000)  # within our limit, over the broker's
    small = sms_interaction(2, "+351966666666")
    await spooler.emit(big)  # the broker is down: both spooled
    await spooler.emit(small)
    producer.up = True
    drainer = asyncio.create_task(spooler.run())
    try:
        # Before: the dead letter of the refused record (base64, still within our limit) was refused too, and
        # the drainer retried that row forever: nothing behind it reached the broker.
        await until(lambda: spooler.depth == 0)
    finally:
        drainer.cancel()
        await asyncio.gather(drainer, return_exceptions=True)
        spooler.close()
    # At least once: the small record may go out again with the retried batch (the worker drops duplicates).
    assert {value for topic, value in producer.acked if topic == topics.INTERACTIONS} == {
        small.model_dump_json().encode()
    }
    [letter] = [value for topic, value in producer.acked if topic == topics.DEADLETTER]
    kept = DeadLetter.model_validate_json(letter)
    assert kept.raw_file is not None
    assert kept.raw_sha256 is not None
    assert (tmp_path / "bodies" / kept.raw_sha256).read_bytes() == big.model_dump_json().encode()
