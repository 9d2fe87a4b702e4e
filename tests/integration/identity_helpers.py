"""Helpers for identity tests: the interactions they produce, contacts and timelines read back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from pipeline import resolver
from pipeline.stages.identity import Claim, Person
from pipeline.stages.policy import Policy
from schemas.identifiers import Identifier
from schemas.interaction import Channel, Interaction
from tests.integration.stack import AGENT
from tests.interactions import interaction

US_EMAIL = Identifier(kind="email", value="support@shop.example")


def new_email(name: str = "c") -> str:
    return f"{name}.{uuid.uuid4().hex[:10]}@example.org"


def email_from(*identifiers: Identifier, name: str | None = None, at: datetime | None = None) -> Interaction:
    """An inbound email as the IMAP connector writes it (v1 schema), with the given customer identifiers."""
    external_id = f"<{uuid.uuid4().hex}@mail.example.org>"
    return interaction(
        Channel.email,
        list(identifiers),
        account=US_EMAIL.value,
        external_id=external_id,
        name=name,
        at=at,
        subject="Encomenda",
        text="Olá",
    )


def sms_from(phone: str, at: datetime | None = None, n: int | None = None) -> Interaction:
    external_id = f"SM{uuid.uuid4().hex}" if n is None else f"SM{n:032d}"
    return interaction(Channel.sms, phone, external_id=external_id, at=at, text="Olá")


def minutes_ago(n: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=n)


async def find_contact(client: httpx.AsyncClient, q: str) -> dict[str, Any] | None:
    response = await client.get("/api/v1/contacts", params={"q": q}, headers=AGENT)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return items[0] if items else None


async def found_contact(client: httpx.AsyncClient, q: str) -> dict[str, Any]:
    """The contact the search finds for ``q``, which the test expects to exist by now."""
    contact = await find_contact(client, q)
    assert contact is not None, "no contact found"
    return contact


async def timeline_ids(client: httpx.AsyncClient, contact_id: str) -> list[str]:
    response = await client.get(
        f"/api/v1/contacts/{contact_id}/timeline", params={"limit": 500, "order": "asc"}, headers=AGENT
    )
    assert response.status_code == 200, response.text
    return [item["interaction_id"] for item in response.json()["items"]]


async def reviews_naming(client: httpx.AsyncClient, contact_id: str) -> list[dict[str, Any]]:
    """Open review items naming the contact, through the API's contact filter: however many items other
    tests have opened in the shared database, none crowds these out of the page."""
    response = await client.get("/api/v1/identity/reviews", params={"contact_id": contact_id}, headers=AGENT)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    assert all(contact_id in (r["contact_a"], r["contact_b"]) for r in items)
    return items


async def review_between(client: httpx.AsyncClient, a: str, b: str) -> dict[str, Any] | None:
    """The open review item of the pair, if any (for :func:`~tests.integration.stack.eventually`)."""
    return next((r for r in await reviews_naming(client, a) if {r["contact_a"], r["contact_b"]} == {a, b}), None)


def cause(person: Person) -> str:
    """The merge cause of contacts these helpers resolve directly (no interaction behind them)."""
    del person
    return "test"


async def born(db: psycopg.AsyncConnection[Any], identifier: Identifier) -> uuid.UUID:
    """The contact a claim of this identifier alone makes, in a transaction of its own (older than the next),
    as the worker would make it for a first message."""
    async with db.transaction():
        made = await resolver.resolve(db, [Claim(0, (identifier,))], Policy(), source="test", cause=cause)
    [contact] = made.created
    return contact
