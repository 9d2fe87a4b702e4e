"""Helpers for identity tests: v1 interactions produced to the real topic, contacts and timelines read back."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import AIOKafkaProducer

from schemas import topics
from schemas.identifiers import Identifier
from schemas.interaction import Channel, Direction, Interaction, Party, Provider
from tests.integration.stack import AGENT

US_EMAIL = Identifier(kind="email", value="support@shop.example")


def new_phone() -> str:
    return f"+3519{random.randint(10_000_000, 99_999_999)}"


def new_email(name: str = "c") -> str:
    return f"{name}.{uuid.uuid4().hex[:10]}@example.org"


def email_from(*identifiers: Identifier, name: str | None = None, at: datetime | None = None) -> Interaction:
    """An inbound email as the IMAP connector writes it (v1 schema), with the given customer identifiers."""
    when = at or datetime.now(UTC)
    return Interaction.build(
        channel=Channel.email,
        provider=Provider.imap,
        account="support@shop.example",
        direction=Direction.inbound,
        occurred_at=when,
        received_at=when,
        external_id=f"<{uuid.uuid4().hex}@mail.example.org>",
        sender=Party(display_name=name, identifiers=list(identifiers)),
        recipients=[Party(identifiers=[US_EMAIL])],
        subject="Encomenda",
        text="Olá",
    )


def sms_from(phone: str, at: datetime | None = None, n: int | None = None) -> Interaction:
    when = at or datetime.now(UTC)
    return Interaction.build(
        channel=Channel.sms,
        provider=Provider.twilio,
        account="+351210000000",
        direction=Direction.inbound,
        occurred_at=when,
        received_at=when,
        external_id=f"SM{uuid.uuid4().hex}" if n is None else f"SM{n:032d}",
        sender=Party(identifiers=[Identifier(kind="phone", value=phone)]),
        recipients=[Party(identifiers=[Identifier(kind="phone", value="+351210000000")])],
        text="Olá",
    )


def minutes_ago(n: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=n)


async def produce(bootstrap: str, interactions: list[Interaction], *, partitions: int | None = None) -> None:
    """Produce as connectors do (acks=all, keyed by routing key), or on random partitions."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = []
        for interaction in interactions:
            partition = random.randrange(partitions) if partitions else None
            futures.append(
                await producer.send(
                    topics.INTERACTIONS,
                    interaction.model_dump_json().encode(),
                    key=interaction.routing_key(),
                    partition=partition,
                )
            )
        for future in futures:
            await future
    finally:
        await producer.stop()


async def find_contact(client: httpx.AsyncClient, q: str) -> dict | None:
    response = await client.get("/api/v1/contacts", params={"q": q}, headers=AGENT)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return items[0] if items else None


async def timeline_ids(client: httpx.AsyncClient, contact_id: str) -> list[str]:
    response = await client.get(
        f"/api/v1/contacts/{contact_id}/timeline", params={"limit": 500, "order": "asc"}, headers=AGENT
    )
    assert response.status_code == 200, response.text
    return [item["interaction_id"] for item in response.json()["items"]]
