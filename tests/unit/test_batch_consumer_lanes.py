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


async def test_a_partition_dealt_to_another_lane_mid_fetch_is_handled_from_its_commit_in_order() -> None:
    consumer = ScriptedConsumer(TOPIC, partitions=4)
    handled: list[tuple[int, int]] = []

    async def handle(records: list[RawRecord]) -> None:
        handled.extend((r.partition, r.offset) for r in records)

    # A long linger and idle wait: only the script decides when a fetch returns.
    member = BatchConsumer(TOPIC, "g", handle, {}, batch_size=20, linger_s=3600, lanes=2, idle_wait_s=3600)
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
