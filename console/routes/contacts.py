"""``/api/v1``: contact search, one contact, a contact's timeline (filtered, searchable).

Every route that serves contact data is audited (``console/audit.py``)."""

from __future__ import annotations

import uuid
from contextlib import suppress
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from console.audit import Audit
from pipeline.stages.suggestion_rules import closing
from schemas.contact import Contact
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind, normalize_email, normalize_phone, phone_for_people
from schemas.interaction import Channel, Direction
from sinks import inbox_queries, queries
from sinks.connection import ConnectionFactory

_HANDLE_KINDS = (
    IdentifierKind.telegram,
    IdentifierKind.messenger,
    IdentifierKind.instagram,
    IdentifierKind.livechat,
    IdentifierKind.external,
    IdentifierKind.whatsapp_user_id,
)


class ContactPage(BaseModel):
    items: list[Contact]
    next_cursor: str | None = None


class TimelinePage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = None


class ShownIdentifier(BaseModel):
    kind: IdentifierKind
    value: str
    display: str = Field(description="As people write it: phone numbers formatted for the default region")


class ChannelUse(BaseModel):
    channel: Channel
    interactions: int
    last_at: datetime


class ContactSummary(BaseModel):
    """What the console's contact sidebar shows beside the contact itself."""

    contact_id: uuid.UUID
    first_seen: datetime | None
    last_seen: datetime | None
    channels: list[ChannelUse] = Field(description="Channels used, most recently used first")
    identifiers: list[ShownIdentifier]


def shown(kind: str, value: str, default_region: str) -> str:
    """An identifier as people write it."""
    return phone_for_people(value, default_region) if kind == IdentifierKind.phone.value else value


def party_display(party: dict[str, Any] | None, default_region: str) -> str | None:
    """A party's name, else its first identifier as people write it."""
    if not party:
        return None
    if party.get("display_name"):
        return str(party["display_name"])
    for identifier in party.get("identifiers") or ():
        return shown(str(identifier.get("kind")), str(identifier.get("value")), default_region)
    return None


def candidate_keys(q: str, default_region: str) -> list[str]:
    """Every identifier a search string could be: an email, a phone in any spelling, a handle."""
    q = q.strip()
    keys = []
    for kind, normalize in ((IdentifierKind.email, normalize_email),):
        with suppress(InvalidPayload):
            keys.append(f"{kind.value}:{normalize(q)}")
    if any(c.isdigit() for c in q):
        with suppress(InvalidPayload):
            keys.append(f"phone:{normalize_phone(q, default_region)}")
    keys += [f"{kind.value}:{q}" for kind in _HANDLE_KINDS]
    # A WhatsApp username as the customer typed it, with or without its "@".
    keys += [f"{IdentifierKind.whatsapp_username.value}:{v}" for v in sorted({q, q.lstrip("@"), "@" + q.lstrip("@")})]
    with suppress(InvalidPayload):
        keys.append(Identifier.of(IdentifierKind.x, q).key)  # X screen names match in any case
    return keys


def router(connection: ConnectionFactory, audit: Audit, *, default_region: str) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["contacts"])

    @api.get("/contacts", response_model=ContactPage, dependencies=[audit.anonymous_read("contacts.search")])
    async def search(
        q: str = Query(
            min_length=1,
            max_length=200,
            pattern=r"^[^\x00]+$",  # PostgreSQL text cannot hold NUL: refuse it here (422), not with a 500
            description="Name, email, phone in any spelling, or handle",
        ),
        limit: int = Query(default=20, ge=1, le=100),
    ) -> ContactPage:
        async with connection() as conn:
            found = await queries.search_contacts(
                conn, keys=candidate_keys(q, default_region), name=q.strip() or None, limit=limit
            )
        return ContactPage(items=found)

    @api.get("/contacts/{contact_id}", response_model=Contact, dependencies=[audit.contact("contact.read")])
    async def get_contact(contact_id: uuid.UUID) -> Contact:
        async with connection() as conn:
            contact = await queries.get_contact(conn, contact_id)
        if contact is None:
            raise HTTPException(404, "no such contact")
        return contact

    @api.get(
        "/contacts/{contact_id}/timeline", response_model=TimelinePage, dependencies=[audit.contact("timeline.read")]
    )
    async def timeline(
        contact_id: uuid.UUID,
        cursor: str | None = Query(default=None, max_length=200),
        limit: int = Query(default=50, ge=1, le=500),
        order: Literal["desc", "asc"] = "desc",
        channel: Annotated[list[Channel] | None, Query(description="Only these channels (repeatable)")] = None,
        direction: Annotated[Direction | None, Query(description="Only inbound or only outbound")] = None,
        q: str | None = Query(
            default=None,
            min_length=1,
            max_length=200,
            description="Full-text search of subject and text: accents ignored (nao finds não), "
            'no stemming, web-search syntax ("a phrase", -word, or)',
        ),
    ) -> TimelinePage:
        """The contact's merged timeline, newest first by default, keyset cursor pagination."""
        where = queries.TimelineFilter(
            channels=tuple(c.value for c in channel or ()), direction=direction.value if direction else None, text=q
        )
        try:
            async with connection() as conn:
                page = await queries.timeline(conn, contact_id, limit=limit, cursor=cursor, order=order, where=where)
        except InvalidPayload as exc:
            raise HTTPException(400, exc.reason) from None
        if page is None:
            raise HTTPException(404, "no such contact")
        for item in page.items:  # added for the page's bubbles; every field of the interaction is kept
            item["sender_display"] = party_display(item.get("sender"), default_region)
            item["closing"] = item.get("direction") == "inbound" and closing(item.get("text"))
        return TimelinePage(items=page.items, next_cursor=page.next_cursor)

    @api.get(
        "/contacts/{contact_id}/summary",
        response_model=ContactSummary,
        dependencies=[audit.contact("summary.read")],
    )
    async def summary(contact_id: uuid.UUID) -> ContactSummary:
        """First and last seen, channels used, identifiers as people write them (the console's sidebar)."""
        async with connection() as conn:
            history = await inbox_queries.history(conn, contact_id)
            contact = await queries.get_contact(conn, contact_id)
        if history is None or contact is None:
            raise HTTPException(404, "no such contact")
        return ContactSummary(
            contact_id=history.contact_id,
            first_seen=history.first_seen,
            last_seen=history.last_seen,
            channels=[
                ChannelUse(channel=Channel(c.channel), interactions=c.interactions, last_at=c.last_at)
                for c in history.channels
            ],
            identifiers=[
                ShownIdentifier(kind=i.kind, value=i.value, display=shown(i.kind.value, i.value, default_region))
                for i in contact.identifiers
            ],
        )

    return api
