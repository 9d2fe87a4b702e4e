"""The worker's batch consumer on a real broker: every record handled, each partition in offset order,
offsets committed after the handler, and a second member taking over partitions without a gap."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from omnitrail.local_stack import EmbeddedBroker
from sinks.kafka import clients
from sinks.kafka.consumer import BatchConsumer
from sinks.kafka.records import RawRecord
from sinks.kafka.settings import KafkaSettings

pytestmark = pytest.mark.integration
TOPIC, GROUP, PARTITIONS, RECORDS = "test.batch-consumer", "test-batch-consumer", 4, 4_000
FAST = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000, "rebalance_timeout_ms": 6000}


async def produce(bootstrap: str, start: int, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(TOPIC, str(n).encode(), partition=n % PARTITIONS) for n in range(start, start + count)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def committed(bootstrap: str) -> dict[int, int]:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP, enable_auto_commit=False)
    await reader.start()
    try:
        return {p: (await reader.committed(TopicPartition(TOPIC, p))) or 0 for p in range(PARTITIONS)}
    finally:
        await reader.stop()


async def test_every_record_once_in_partition_order_across_lanes_and_a_rebalance(
    private_broker: EmbeddedBroker,
) -> None:
    bootstrap = private_broker.bootstrap
    await clients.create_topics(KafkaSettings(), bootstrap, [NewTopic(TOPIC, PARTITIONS, 1)])
    seen: dict[int, list[int]] = defaultdict(list)  # partition -> values in the order handled
    in_flight: set[int] = set()
    by_member: dict[str, int] = defaultdict(int)

    def member(name: str) -> BatchConsumer:
        async def handle(records: list[RawRecord]) -> None:
            partitions = {r.partition for r in records}
            assert not partitions & in_flight, "two batches of one partition at once"
            in_flight.update(partitions)
            await asyncio.sleep(0.01)  # a database round trip: the other lanes run meanwhile
            for r in records:
                seen[r.partition].append(int(r.value or b"-1"))
            by_member[name] += len(records)
            in_flight.difference_update(partitions)

        options = {"bootstrap_servers": bootstrap, **FAST}
        # Lingering like the worker's batch window: a fetch may wait through the rebalance under the old deal.
        return BatchConsumer(TOPIC, GROUP, handle, options, batch_size=100, linger_s=0.05, lanes=2)

    first = member("first")
    first_task = asyncio.create_task(first.run())
    await produce(bootstrap, 0, RECORDS // 2)
    for _ in range(300):
        if sum(map(len, seen.values())) >= RECORDS // 4:
            break
        await asyncio.sleep(0.1)
    second = member("second")  # joins mid-stream: the group rebalances while batches are in flight
    second_task = asyncio.create_task(second.run())
    for _ in range(300):  # the rebalance: the first member's batches in flight finish and commit first
        if second.assigned():
            break
        await asyncio.sleep(0.1)
    await produce(bootstrap, RECORDS // 2, RECORDS // 2)
    for _ in range(600):
        if sum(map(len, seen.values())) >= RECORDS:
            break
        await asyncio.sleep(0.1)
    first.stop()
    second.stop()
    await asyncio.wait_for(asyncio.gather(first_task, second_task), 30)

    handled = sorted(v for values in seen.values() for v in values)
    assert set(handled) == set(range(RECORDS))  # nothing skipped
    assert by_member["first"] > 0
    assert by_member["second"] > 0  # the newcomer took partitions over
    for partition, values in seen.items():
        # In order within each partition; a rebalance may redo a tail (at least once), never reorder.
        firsts = {v: i for i, v in reversed(list(enumerate(values)))}
        assert sorted(firsts, key=firsts.__getitem__) == sorted(firsts), partition
    assert await committed(bootstrap) == {p: RECORDS // PARTITIONS for p in range(PARTITIONS)}


async def test_a_member_stopped_before_its_first_assignment_stops_at_once() -> None:
    """aiokafka's start returns only with a first assignment: a member whose broker vanished mid-join (``omnitrail
    up`` SIGKILLed with its embedded broker) must still stop when told, not wait out the process's grace."""
    broker = EmbeddedBroker()
    broker.start()
    await clients.create_topics(KafkaSettings(), broker.bootstrap, [NewTopic(TOPIC, PARTITIONS, 1)])
    joining = asyncio.Event()

    class Joining(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("Discovered coordinator"):  # the JoinGroup request goes next
                joining.set()

    coordinator_log = logging.getLogger("aiokafka.consumer.group_coordinator")
    spy, level = Joining(), coordinator_log.level
    coordinator_log.addHandler(spy)
    coordinator_log.setLevel(logging.INFO)
    options = {"bootstrap_servers": broker.bootstrap, **FAST}
    member = BatchConsumer(TOPIC, GROUP, handled_nothing, options, batch_size=10)
    running = asyncio.create_task(member.run_until_stopped())
    try:
        await asyncio.wait_for(joining.wait(), 30)
        broker.stop()  # the join can no longer complete
        assert not member.assigned()
        member.stop()
        await asyncio.wait_for(running, 5)  # before: never (the grace of `run_until_signalled` cancelled it)
    finally:
        coordinator_log.removeHandler(spy)
        coordinator_log.setLevel(level)
        running.cancel()
        broker.stop()


async def handled_nothing(records: list[RawRecord]) -> None:
    raise AssertionError("no record was produced")
