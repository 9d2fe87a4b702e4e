"""Our partitioner puts every key where aiokafka's default (and so the Java client's) puts it."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner, murmur2

from sinks.kafka import partitioner


def test_murmur2_equals_the_kafka_clients_on_random_keys_of_every_length() -> None:
    rng = random.Random(7)
    for length in range(70):
        for _ in range(20):
            key = rng.randbytes(length)
            assert partitioner.murmur2(key) == murmur2(key), key


def test_partition_of_a_key_is_the_default_partitioners_and_stays_so_when_remembered() -> None:
    ours, theirs = partitioner.Murmur2Partitioner(remember=50), DefaultPartitioner()
    keys = [f"contact-{n}".encode() for n in range(200)]
    for partitions in ([0, 1, 2], list(range(12))):
        for _ in range(2):  # the second pass answers from memory (and past the memory's limit)
            assert [ours(k, partitions, partitions) for k in keys] == [theirs(k, partitions, partitions) for k in keys]
    assert ours(None, [0, 1, 2], [2]) == 2
