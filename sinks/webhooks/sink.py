"""The webhook sink: one consumer group per subscriber on ``omnitrail.timeline.v1``.

Each subscriber reads the timeline in partition order (events of one contact stay in order,
the topic is keyed by contact id), POSTs the events it subscribed to, and commits an offset
only once every event before it was delivered or dead-lettered: at-least-once, so receivers
drop repeats by ``Omnitrail-Event-Id``. A receiver that is down holds back only its own
group; the others go on. The body is the record's bytes untouched, so what a receiver gets is
exactly the documented timeline event, whatever fields newer producers add.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import httpx
import orjson
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from schemas import topics
from sinks.consumer_lag import LagGauge
from sinks.webhooks import deadletters
from sinks.webhooks.delivery import DELIVERIES, Deliverer, Delivery
from sinks.webhooks.settings import Subscriber, WebhookSinkSettings

log = structlog.get_logger(__name__)
#: Records taken per poll (all partitions): small, so offsets are committed soon after a receiver comes back.
_BATCH = 50
#: The lag gauge costs a broker round trip: refresh it at most this often.
_LAG_EVERY_S = 1.0


class Connections(Protocol):
    """A pool's ``connection`` method: where dead letters are written."""

    def __call__(self) -> AbstractAsyncContextManager[deadletters.Conn]: ...


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


class SubscriberLoop:
    def __init__(
        self,
        subscriber: Subscriber,
        settings: WebhookSinkSettings,
        kafka_options: Mapping[str, Any],
        deliverer: Deliverer,
        connection: Connections,
    ) -> None:
        self.subscriber = subscriber
        self.settings = settings
        self.kafka_options = kafka_options
        self.deliverer = deliverer
        self.connection = connection
        self.lag = LagGauge(group_id(subscriber))

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            topics.TIMELINE,
            group_id=group_id(self.subscriber),
            enable_auto_commit=False,
            auto_offset_reset=self.settings.start_from,
            # Retries happen between polls: a batch whose receiver is down must not get this member
            # evicted from its group (which would redeliver the batch), so allow the worst case.
            max_poll_interval_ms=int((self.deliverer.longest_delivery_s() * _BATCH + 60) * 1000),
            **self.kafka_options,
        )
        await consumer.start()
        log.info("webhook.subscriber_started", subscriber=self.subscriber.name)
        reported = 0.0
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=_BATCH)
                if batch:
                    # Partitions side by side (a slow receiver then waits once, not once per partition);
                    # within a partition strictly in order, so one contact's events arrive in order.
                    await asyncio.gather(*(self._in_order(records) for records in batch.values()))
                    await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
                if time.monotonic() - reported >= _LAG_EVERY_S:
                    await self._report_lag(consumer)
                    reported = time.monotonic()
        finally:
            self.lag.clear()
            await consumer.stop()

    async def _in_order(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            await self.handle(record)

    async def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
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
        source = deadletters.Source(record.topic, record.partition, record.offset, contact_id, event_id, event_type)
        failure = result or Delivery(False, 0, None, "not a timeline event")
        async with self.connection() as conn:
            await deadletters.add(conn, name, source, body, failure)
        DELIVERIES.labels(name, "dead_lettered").inc()
        log.warning(
            "webhook.dead_lettered",
            subscriber=name,
            event_id=event_id,
            attempts=failure.attempts,
            error=failure.last_error,
            partition=record.partition,
            offset=record.offset,
        )

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        assigned: list[TopicPartition] = sorted(consumer.assignment())
        if not assigned:
            self.lag.clear()
            return
        ends = await consumer.end_offsets(assigned)
        positions = {(tp.topic, tp.partition): await consumer.position(tp) for tp in assigned}
        self.lag.report({(tp.topic, tp.partition): end for tp, end in ends.items()}, positions)


class WebhookSink:
    """Every subscriber's loop; one failing loop is restarted after a pause, the others go on."""

    def __init__(
        self, settings: WebhookSinkSettings, kafka_options: Mapping[str, Any], connection: Connections
    ) -> None:
        self.settings = settings
        self.kafka_options = kafka_options
        self.connection = connection

    async def run(self) -> None:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            deliverer = Deliverer(client, self.settings)
            loops = [
                SubscriberLoop(s, self.settings, self.kafka_options, deliverer, self.connection)
                for s in self.settings.subscribers
            ]
            await asyncio.gather(*(self._keep_running(loop) for loop in loops))

    @staticmethod
    async def _keep_running(loop: SubscriberLoop) -> None:
        delay = 1.0
        while True:
            try:
                await loop.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database trouble: uncommitted events are redone after the pause
                log.error("webhook.subscriber_failed", subscriber=loop.subscriber.name, error=type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
