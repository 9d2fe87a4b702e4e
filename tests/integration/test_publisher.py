"""The timeline publisher on a real broker: more than a record batch holds for one key, in order, each
key on the partition the Kafka clients' default partitioner gives it."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from sinks.kafka import clients, reader
from sinks.kafka.publisher import TopicPublisher
from sinks.kafka.settings import KafkaSettings
from tests.conftest import TEST_PARTITIONS

pytestmark = pytest.mark.integration


async def test_records_past_one_batch_arrive_in_order_on_the_keys_partition(private_broker: EmbeddedBroker) -> None:
    settings = KafkaSettings(idempotence=False)
    producer = clients.producer(settings, private_broker.bootstrap)
    await producer.start()
    keys = [b"contact-a", b"contact-b", b"contact-c"]
    # 3 x 900 records of 2 KB: 1.8 MB per key, more than one 1 MiB record batch holds.
    records = [(topics.TIMELINE, keys[n % 3], b"%06d" % n + b"x" * 2000) for n in range(2700)]
    try:
        await TopicPublisher(producer).publish(records)
    finally:
        await producer.stop()
    read = [m async for m in reader.messages(settings, private_broker.bootstrap, topics.TIMELINE)]
    partitions = list(range(TEST_PARTITIONS))
    for key in keys:
        mine = [m for m in read if m.key == key]
        assert [m.value for m in mine] == [v for _, k, v in records if k == key]  # all, in publish order
        assert {m.partition for m in mine} == {DefaultPartitioner()(key, partitions, partitions)}
