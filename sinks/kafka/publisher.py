"""Publishes timeline events and contact snapshots, waiting for the broker's acknowledgement.

Records are appended straight into one record batch per partition and each batch is handed to
the producer whole (``create_batch``/``send_batch``): ``send`` per record costs aiokafka ~15 µs
of Python each (a future, a partitioner call through its metadata, an accumulator append),
more than the worker spends deciding who the interaction belongs to. Partitions are chosen by
:class:`sinks.kafka.partitioner.Murmur2Partitioner` (murmur2 of the key, as the Java client and
aiokafka's default), so a contact's events land where ``send`` would have put them, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.errors import RetriableError
from sinks.kafka.partitioner import Murmur2Partitioner
from sinks.kafka.records import HEADERS, Record


class TopicPublisher:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._partitioner = Murmur2Partitioner()

    async def publish(self, records: Sequence[Record]) -> None:
        """Send all, then wait for all: a few batches per partition instead of a round trip per event."""
        try:
            await asyncio.gather(*await self._send(records))
        except KafkaError as exc:
            raise RetriableError(f"broker did not acknowledge: {type(exc).__name__}") from exc

    async def _send(self, records: Sequence[Record]) -> list[Any]:
        partitions: dict[str, list[int]] = {}
        open_batches: dict[tuple[str, int], Any] = {}
        sent: list[Any] = []
        for topic, key, value in records:
            if topic not in partitions:
                partitions[topic] = sorted(await self._producer.partitions_for(topic))
            every = partitions[topic]
            partition = self._partitioner(key, every, every)
            batch = open_batches.get((topic, partition))
            if batch is None:
                batch = self._producer.create_batch()
            while batch.append(key=key, value=value, timestamp=None, headers=HEADERS) is None:
                if not batch.record_count():
                    raise RetriableError("a record is larger than the producer's batch size")
                # Full: it goes now, in order before the records that follow it on this partition.
                batch.close()
                sent.append(await self._producer.send_batch(batch, topic, partition=partition))
                batch = self._producer.create_batch()
            open_batches[(topic, partition)] = batch
        for (topic, partition), batch in open_batches.items():
            if batch.record_count():
                batch.close()  # ours alone: nothing from ``send`` joins it
                sent.append(await self._producer.send_batch(batch, topic, partition=partition))
        return sent
