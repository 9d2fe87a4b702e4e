"""Publishes timeline events and contact snapshots, waiting for the broker's acknowledgement."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.errors import RetriableError

_HEADERS = [("content-type", b"application/json"), ("schema-version", b"1")]


class TopicPublisher:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def publish(self, records: Sequence[tuple[str, bytes | None, bytes | None]]) -> None:
        """Send all, then wait for all: one batch of requests instead of one round trip per event."""
        try:
            futures = [
                await self._producer.send(topic, value=value, key=key, headers=_HEADERS)
                for topic, key, value in records
            ]
            for future in futures:
                await future
        except KafkaError as exc:
            raise RetriableError(f"broker did not acknowledge: {type(exc).__name__}") from exc
