"""A scripted model of what a :class:`~sinks.kafka.consumer.BatchConsumer` lane sees of aiokafka's consumer.

``getmany`` drains buffered records of the partitions it is asked for, from each one's position, and
returns nothing while the group rebalances; a new assignment starts from the committed offsets. The
test decides when a waiting ``getmany`` wakes (in the order the calls began waiting, like aiokafka's
fetch waiters) or times out, so an interleaving a real broker produces only by chance happens every
run. Only for the lanes' own logic: behaviour on a broker is tested in tests/integration."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError


@dataclass
class _Call:
    partitions: tuple[int, ...]
    woken: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class ScriptedConsumer:
    def __init__(self, topic: str, partitions: int) -> None:
        self.topic = topic
        self.log: dict[int, list[Any]] = {p: [] for p in range(partitions)}
        self.committed: dict[int, int] = {}
        self._assigned = {TopicPartition(topic, p) for p in range(partitions)}
        self._position = dict.fromkeys(self._assigned, 0)
        self._rebalancing = False
        self._waiting: list[_Call] = []

    def append(self, partition: int, count: int) -> None:
        """Records arrive in the fetch buffer; nobody is woken (see :meth:`wake`)."""
        start = len(self.log[partition])
        self.log[partition] += [
            SimpleNamespace(value=b"{}", topic=self.topic, partition=partition, offset=offset, key=None)
            for offset in range(start, start + count)
        ]

    def wake(self) -> None:
        """Every waiting ``getmany`` looks at the buffer again, in the order they began waiting."""
        waiting, self._waiting = self._waiting, []
        for call in waiting:
            call.woken.set_result(True)

    def time_out(self, *partitions: int) -> None:
        """The ``getmany`` waiting for exactly ``partitions`` returns empty-handed."""
        call = next(c for c in self._waiting if c.partitions == partitions)
        self._waiting.remove(call)
        call.woken.set_result(False)

    async def settled(self, waiting: int) -> None:
        """Until ``waiting`` calls wait: with one call per lane at a time, the lanes ran as far as they can
        (no clock involved)."""
        for _ in range(10_000):
            if len(self._waiting) == waiting:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"{waiting} getmany calls never waited: {self._waiting}")

    async def rebalance(self, listener: ConsumerRebalanceListener, partitions: set[int]) -> None:
        """aiokafka's eager rebalance: no records meanwhile, positions from the commits after it."""
        self._rebalancing = True
        await listener.on_partitions_revoked(set(self._assigned))
        self._assigned = {TopicPartition(self.topic, p) for p in partitions}
        self._position = {tp: self.committed.get(tp.partition, 0) for tp in self._assigned}
        self._rebalancing = False
        self.wake()
        await listener.on_partitions_assigned(set(self._assigned))

    # What BatchConsumer calls.

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def highwater(self, tp: TopicPartition) -> int:
        return len(self.log[tp.partition])

    async def position(self, tp: TopicPartition) -> int:
        return self._position[tp]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self._assigned:
            raise IllegalStateError(f"{tp} is not assigned")
        self._position[tp] = offset

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update({tp.partition: offset for tp, offset in offsets.items()})

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Any]]:
        while True:
            if not self._rebalancing:
                drained: dict[TopicPartition, list[Any]] = {}
                for tp in partitions:
                    if tp in self._assigned and max_records:
                        records = self.log[tp.partition][self._position[tp] :][:max_records]
                        if records:
                            drained[tp] = records
                            self._position[tp] += len(records)
                            max_records -= len(records)
                if drained:
                    return drained
            call = _Call(tuple(sorted(tp.partition for tp in partitions)))
            self._waiting.append(call)
            if not await call.woken:
                return {}
