"""Emitters: where normalized interactions and dead letters go.

``emit`` returns only after the broker acknowledged the record (``acks=all``), so a
caller that answers a webhook 2xx or advances a checkpoint after it never loses data.
"""

from __future__ import annotations

from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.errors import RetriableError
from schemas.interaction import Interaction

_HEADERS = [("content-type", b"application/json"), ("schema-version", b"1")]


class Emitter(Protocol):
    async def emit(self, interaction: Interaction) -> None:
        """Make the interaction durable on the broker, or raise RetriableError."""

    async def emit_many(self, interactions: list[Interaction]) -> None:
        """Make all of them durable; on error none is known to be durable."""

    async def dead_letter(self, record: DeadLetter) -> None:
        """Make the dead-letter record durable, or raise RetriableError."""


class KafkaEmitter:
    """Produces to the interactions and dead-letter topics through a started aiokafka producer."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def emit(self, interaction: Interaction) -> None:
        await self._send(topics.INTERACTIONS, interaction.routing_key(), interaction.model_dump_json().encode())

    async def emit_many(self, interactions: list[Interaction]) -> None:
        # Queue every record first, then wait: the producer batches them into few requests.
        try:
            futures = [
                await self._producer.send(
                    topics.INTERACTIONS,
                    value=i.model_dump_json().encode(),
                    key=i.routing_key(),
                    headers=_HEADERS,
                )
                for i in interactions
            ]
            for future in futures:
                await future
        except KafkaError as exc:
            raise RetriableError(f"broker did not acknowledge: {type(exc).__name__}") from exc

    async def dead_letter(self, record: DeadLetter) -> None:
        await self._send(topics.DEADLETTER, None, record.model_dump_json().encode())

    async def _send(self, topic: str, key: bytes | None, value: bytes) -> None:
        try:
            await self._producer.send_and_wait(topic, value=value, key=key, headers=_HEADERS)
        except KafkaError as exc:
            raise RetriableError(f"broker did not acknowledge: {type(exc).__name__}") from exc
