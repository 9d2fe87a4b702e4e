"""Which partition a keyed record goes to: Kafka's default (murmur2 of the key, as the Java client).

Every record of one key must land on one partition whatever client wrote it, so this is the
same function as the Java producer's and aiokafka's ``DefaultPartitioner`` (tests compare them
on random keys). aiokafka's murmur2 is pure Python, byte by byte, and was ~9% of a webhook
request's CPU and ~5% of the worker's (benchmarks/README.md); this one reads the key four bytes
at a time with ``struct`` and remembers the partition of recent keys, which repeat (a customer's
messages, a contact's events and snapshot).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_WORD = struct.Struct("<I")


def murmur2(data: bytes) -> int:
    """MurmurHash2, 32 bits, as ``org.apache.kafka.common.utils.Utils.murmur2`` (unsigned)."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    end = length & ~3
    for (k,) in _WORD.iter_unpack(data[:end]):
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    extra = length & 3
    if extra >= 3:
        h ^= data[end + 2] << 16
    if extra >= 2:
        h ^= data[end + 1] << 8
    if extra >= 1:
        h = ((h ^ data[end]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


class Murmur2Partitioner:
    """An aiokafka ``partitioner``: ``(key, all partitions, available partitions) -> partition``.

    ``remember`` bounds the memory (a batch's contacts come back within the batch: their event,
    their snapshot); past it the memory starts over rather than growing with the contact count."""

    def __init__(self, remember: int = 10_000) -> None:
        self.remember = remember
        self._known: dict[tuple[bytes, int], int] = {}

    def __call__(self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
        if key is None:  # no order to keep: any partition, as the default partitioner does
            return random.choice(available or all_partitions)  # noqa: S311  # spreading load, not crypto
        count = len(all_partitions)
        index = self._known.get((key, count))
        if index is None:
            if len(self._known) >= self.remember:
                self._known.clear()
            index = self._known[(key, count)] = (murmur2(key) & 0x7FFFFFFF) % count
        return all_partitions[index]
