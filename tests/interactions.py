"""The one way tests make v1 interactions (as a connector would) and put them on the interactions topic.

``interaction(Channel.sms, "+351912345678")`` is an inbound SMS from that number to our number
(an address with ``@`` is an email identifier, anything else a phone number);
``direction=Direction.outbound`` swaps the parties; any other field of the
schema (``text``, ``subject``, ``thread_key``, ``attachments``, even ``sender``/``recipients``) is
passed through. Ours is marked ``role=us`` when it sends. Ids are fresh unless ``external_id`` is
given, times are now unless ``at`` is.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from schemas import topics
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Channel, Direction, Interaction, Party, PartyRole, Provider

OUR_NUMBER = "+351210000000"
OUR_MAILBOX = "support@omnitrail.example"
_PROVIDERS = {
    Channel.email: Provider.imap,
    Channel.livechat: Provider.livechat,
    Channel.telegram: Provider.telegram,
    Channel.messenger: Provider.meta,
    Channel.instagram: Provider.meta,
}


def _ours(channel: Channel) -> str:
    return OUR_MAILBOX if channel is Channel.email else OUR_NUMBER


def _identifier(value: str | Identifier) -> Identifier:
    """An email address or a phone number (E.164) as it is written."""
    if isinstance(value, Identifier):
        return value
    return Identifier(kind=IdentifierKind.email if "@" in value else IdentifierKind.phone, value=value)


def interaction(
    channel: Channel,
    customer: str | Identifier | list[Identifier],
    *,
    direction: Direction = Direction.inbound,
    account: str | None = None,
    external_id: str | None = None,
    at: datetime | None = None,
    received_at: datetime | None = None,
    name: str | None = None,
    **fields: Any,
) -> Interaction:
    """An interaction with ``customer`` (a phone, an email, or identifiers) on ``channel``, to or from us."""
    account = account or _ours(channel)
    when = at or datetime.now(UTC)
    them = Party(display_name=name, identifiers=customer if isinstance(customer, list) else [_identifier(customer)])
    inbound = direction is Direction.inbound
    # Our party is made only where it is used: a live-chat site's account is no identifier.
    if "sender" not in fields:
        fields["sender"] = them if inbound else Party(identifiers=[_identifier(account)], role=PartyRole.us)
    if "recipients" not in fields:
        fields["recipients"] = [Party(identifiers=[_identifier(account)]) if inbound else them]
    return Interaction.build(
        channel=channel,
        provider=fields.pop("provider", _PROVIDERS.get(channel, Provider.twilio)),
        account=account,
        direction=direction,
        occurred_at=when,
        received_at=received_at or when,
        external_id=external_id or f"{channel.value}-{uuid.uuid4().hex}",
        **fields,
    )


def outbound_message(
    channel: Channel, provider: Provider, account: str, external_id: str, customer: str
) -> Interaction:
    """Our message as the system that sent it produces it: Twilio and the WhatsApp Cloud API report only
    the status of what we send, with the id the status callbacks target (channel + our number + their id)."""
    return interaction(
        channel,
        customer,
        direction=Direction.outbound,
        provider=provider,
        account=account,
        external_id=external_id,
        text="A sua encomenda segue amanhã.",
    )


async def produce(bootstrap: str, interactions: Iterable[Interaction], *, partitions: int | None = None) -> None:
    """Produce as connectors do (acks=all, keyed by routing key), or on random partitions out of ``partitions``."""
    await produce_keyed(
        bootstrap,
        [(i.routing_key(), i) for i in interactions],
        partition=(lambda: random.randrange(partitions)) if partitions else None,
    )


async def produce_keyed(
    bootstrap: str,
    keyed: Iterable[tuple[bytes, Interaction]],
    *,
    partition: Callable[[], int] | None = None,
) -> None:
    """Produce each interaction under the Kafka key it is paired with (acks=all), in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(
                topics.INTERACTIONS,
                i.model_dump_json().encode(),
                key=key,
                partition=partition() if partition else None,
            )
            for key, i in keyed
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()
