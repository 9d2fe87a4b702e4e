"""Timeline events for tests of downstream consumers, and producing them onto the real broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from schemas import topics
from schemas.contact import Contact
from schemas.interaction import Channel
from schemas.timeline import TimelineEvent, TimelineEventType
from tests.helpers import sms_interaction


def customer_events(n: int) -> list[TimelineEvent]:
    """A new customer: created, one SMS, one WhatsApp message (three events of one contact)."""
    contact_id = uuid.uuid4()
    now = datetime.now(UTC)
    sms = sms_interaction(n, f"+3519{n % 10**8:08d}", text="a minha encomenda")
    whatsapp = sms_interaction(n + 1, f"+3519{n % 10**8:08d}").model_copy(update={"channel": Channel.whatsapp})

    def event(kind: TimelineEventType, **extra: object) -> TimelineEvent:
        return TimelineEvent(event_id=uuid.uuid4(), type=kind, contact_id=contact_id, occurred_at=now, **extra)

    return [
        event(
            TimelineEventType.contact_created,
            contact=Contact(contact_id=contact_id, created_at=now, updated_at=now, identifiers=[]),
        ),
        event(TimelineEventType.interaction_added, interaction=sms),
        event(TimelineEventType.interaction_added, interaction=whatsapp),
    ]


async def produce(bootstrap: str, events: list[TimelineEvent], *, topic: str = topics.TIMELINE) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(topic, e.model_dump_json().encode(), key=str(e.contact_id).encode())
    finally:
        await producer.stop()
