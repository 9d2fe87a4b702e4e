"""What a sending system does in these tests: put our outbound message on the interactions topic.

Twilio and the WhatsApp Cloud API report only the status of what we send, never the message
itself; the system that sent it (or ``/webhooks/events``) produces the v1 interaction, with the id
the provider's status callbacks target (channel + our number + the provider's message id).
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from connectors.emitter import KafkaEmitter
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Channel, Direction, Interaction, Party, PartyRole, Provider


def outbound_message(
    channel: Channel, provider: Provider, account: str, external_id: str, customer: str
) -> Interaction:
    now = datetime.now(UTC)
    return Interaction.build(
        channel=channel,
        provider=provider,
        account=account,
        direction=Direction.outbound,
        occurred_at=now,
        received_at=now,
        external_id=external_id,
        sender=Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=account)], role=PartyRole.us),
        recipients=[Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=customer)])],
        text="A sua encomenda segue amanhã.",
    )


async def produce(bootstrap: str, *interactions: Interaction) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await KafkaEmitter(producer).emit_many(list(interactions))
    finally:
        await producer.stop()
