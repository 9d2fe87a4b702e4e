"""The subscription sink: one consumer group per subscriber on ``omnitrail.timeline.v1``.

Each subscriber reads the timeline in partition order (events of one contact stay in order,
the topic is keyed by contact id), POSTs the events it subscribed to, and commits an offset
only once every event before it was delivered or recorded undelivered: at-least-once, so receivers
drop repeats by ``Omnitrail-Event-Id``. A receiver that is down holds back only its own
group; the others go on. The body is the record's bytes untouched, so what a receiver gets is
exactly the documented timeline event, whatever fields newer producers add.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
import structlog

from schemas import topics
from sinks.connection import ConnectionFactory
from sinks.kafka.consumer import BatchConsumer
from sinks.kafka.records import RawRecord
from sinks.subscriptions import undelivered
from sinks.subscriptions.delivery import DELIVERIES, Deliverer, Delivery
from sinks.subscriptions.settings import Subscriber, SubscriptionSettings

log = structlog.get_logger(__name__)
#: Records taken per poll (all partitions): small, so offsets are committed soon after a receiver comes back.
_BATCH = 50


def group_id(subscriber: Subscriber) -> str:
    return f"omnitrail-webhooks-{subscriber.name}"


def describe(value: bytes | None) -> tuple[str | None, str | None, str | None]:
    """(event_id, type, interaction channel) of a timeline record, read leniently: None where absent."""
    try:
        event: Any = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None, None, None
    if not isinstance(event, dict):
        return None, None, None
    interaction = event.get("interaction")
    channel = interaction.get("channel") if isinstance(interaction, dict) else None
    event_id, event_type = event.get("event_id"), event.get("type")
    return (
        str(event_id) if event_id is not None else None,
        str(event_type) if event_type is not None else None,
        str(channel) if channel is not None else None,
    )


class Subscription:
    """One subscriber's consumer group on the timeline, this its batch handler."""

    def __init__(
        self,
        subscriber: Subscriber,
        settings: SubscriptionSettings,
        kafka_options: Mapping[str, Any],
        deliverer: Deliverer,
        connection: ConnectionFactory,
    ) -> None:
        self.subscriber = subscriber
        self.deliverer = deliverer
        self.connection = connection
        options = {
            **kafka_options,
            "auto_offset_reset": settings.start_from,
            # Retries happen inside the handler: a batch whose receiver is down must not get this member
            # evicted from its group (which would redeliver the batch), so allow the worst case.
            "max_poll_interval_ms": int((deliverer.longest_delivery_s() * _BATCH + 60) * 1000),
        }
        self.consumer = BatchConsumer(
            topics.TIMELINE, group_id(subscriber), self.handle_batch, options, batch_size=_BATCH, lag_every_s=1.0
        )

    async def handle_batch(self, records: list[RawRecord]) -> None:
        # Partitions side by side (a slow receiver then waits once, not once per partition);
        # within a partition strictly in order, so one contact's events arrive in order.
        partitions: dict[int, list[RawRecord]] = {}
        for record in records:
            partitions.setdefault(record.partition, []).append(record)
        await asyncio.gather(*(self._in_order(batch) for batch in partitions.values()))

    async def _in_order(self, records: list[RawRecord]) -> None:
        for record in records:
            await self.handle(record)

    async def handle(self, record: RawRecord) -> None:
        name = self.subscriber.name
        event_id, event_type, channel = describe(record.value)
        if event_id is not None and not self.subscriber.wants(event_type, channel):
            DELIVERIES.labels(name, "filtered").inc()
            return
        body = record.value or b""
        if event_id is None:
            # Not a timeline event at all: nothing a receiver could use, kept for the operator.
            result = None
        else:
            result = await self.deliverer.deliver(self.subscriber, body, event_id=event_id, event_type=event_type or "")
            if result.delivered:
                DELIVERIES.labels(name, "delivered").inc()
                return
        contact_id = record.key.decode(errors="replace") if record.key else None
        origin = undelivered.Origin(record.topic, record.partition, record.offset, contact_id, event_id, event_type)
        failure = result or Delivery(False, 0, None, "not a timeline event")
        async with self.connection() as conn:
            await undelivered.add(conn, name, origin, body, failure)
        DELIVERIES.labels(name, "dead_lettered").inc()
        log.warning(
            "subscription.undelivered",
            subscriber=name,
            event_id=event_id,
            attempts=failure.attempts,
            error=failure.last_error,
            partition=record.partition,
            offset=record.offset,
        )


class SubscriptionSink:
    """Every subscriber's consumer; one that fails is restarted after a pause, the others go on."""

    def __init__(
        self, settings: SubscriptionSettings, kafka_options: Mapping[str, Any], connection: ConnectionFactory
    ) -> None:
        self.settings = settings
        self.kafka_options = kafka_options
        self.connection = connection

    async def run(self) -> None:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            deliverer = Deliverer(client, self.settings)
            subscriptions = [
                Subscription(s, self.settings, self.kafka_options, deliverer, self.connection)
                for s in self.settings.subscribers
            ]
            for subscription in subscriptions:
                log.info("subscription.started", subscriber=subscription.subscriber.name)
            await asyncio.gather(*(s.consumer.run_until_stopped() for s in subscriptions))
