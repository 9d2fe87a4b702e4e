"""The batch consumer's lanes across a rebalance that deals a partition to another lane.

A lane's ``getmany`` may wait through a rebalance and return records of a partition that is now
another lane's. The lane must put them back at once: else the new owner fetches the records after
them, writes and commits those first, and the ones before are left behind the committed offset (lost
in a crash, written out of order otherwise). The interleaving is scripted (tests/fake_fetcher.py):
a real broker produces it only by chance."""

from __future__ import annotations

import asyncio

from sinks.kafka.consumer import BatchConsumer, _WaitForBatch
from sinks.kafka.records import RawRecord
from tests.fake_fetcher import ScriptedConsumer

TOPIC = "test.lanes"


def lanes_over(partitions: int) -> tuple[ScriptedConsumer, BatchConsumer, list[tuple[int, int]]]:
    """Two lanes, batches of 20, and the (partition, offset) pairs handled. A long linger and idle wait:
    only the script decides when a fetch returns."""
    handled: list[tuple[int, int]] = []

    async def handle(records: list[RawRecord]) -> None:
        handled.extend((r.partition, r.offset) for r in records)

    member = BatchConsumer(TOPIC, "g", handle, {}, batch_size=20, linger_s=3600, lanes=2, idle_wait_s=3600)
    return ScriptedConsumer(TOPIC, partitions), member, handled


async def test_a_partition_dealt_to_another_lane_mid_fetch_is_handled_from_its_commit_in_order() -> None:
    consumer, member, handled = lanes_over(partitions=4)
    lanes = [asyncio.create_task(member._lane(consumer, lane)) for lane in range(2)]
    try:
        await consumer.settled(waiting=2)  # lane 0 waits for partitions 0 and 2, lane 1 for 1 and 3
        # Partition 0 leaves this member: 1, 2, 3 are dealt to lanes 0, 1, 0, so partition 1 moves to lane 0.
        await consumer.rebalance(_WaitForBatch(member), {1, 2, 3})
        consumer.append(1, 8)
        consumer.wake()  # lane 1's fetch, begun under the old deal, gets them
        await consumer.settled(waiting=2)
        consumer.append(1, 25)  # a backlog arrives, and lane 0 fetches before lane 1 is woken
        consumer.time_out(0, 2)  # lane 0's fetch under the old deal ends: it fetches partition 1 now
        await consumer.settled(waiting=2)

        assert handled == [(1, offset) for offset in range(20)]  # before: offsets 8..27, 0..7 left behind
        assert consumer.committed == {1: 20}  # before: 28, past records nobody had written
    finally:
        member.stop()
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)


async def test_what_a_lane_was_lingering_on_when_the_group_rebalanced_is_not_handled_after_it() -> None:
    consumer, member, handled = lanes_over(partitions=4)
    lanes = [asyncio.create_task(member._lane(consumer, lane)) for lane in range(2)]
    try:
        await consumer.settled(waiting=2)
        consumer.append(1, 8)
        consumer.wake()  # lane 1 takes them and lingers for more
        await consumer.settled(waiting=2)
        await consumer.rebalance(_WaitForBatch(member), {1, 2, 3})  # partition 1 to lane 0, 2 to lane 1
        await consumer.settled(waiting=2)
        consumer.append(2, 20)
        consumer.wake()
        await consumer.settled(waiting=2)

        # Lane 1's batch is its new partition's, without the records of partition 1 it took before.
        assert handled == [(2, offset) for offset in range(20)]
        assert consumer.committed == {2: 20}
    finally:
        member.stop()
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
