"""The live-chat event format (``/webhooks/livechat``, documented in docs/livechat.md) and its normalization.

A chat widget posts one event, or a JSON array of them, per request: ``session.started`` (with
what the visitor typed in the pre-chat form), ``message`` (from the visitor or an agent) and
``session.ended``. Every event carries the visitor, so the first one to arrive is enough to
attach the chat to a contact whatever the order. A session is one thread.

The visitor becomes one party holding the widget's visitor id (a ``livechat`` identifier scoped
by the widget, so two widgets' ids never collide). What the visitor typed in the pre-chat form is
*unverified*: anyone can type anyone's email and phone, so those identifiers never attach the chat
to a contact or merge contacts. They travel in ``metadata.unverified_identifiers`` and the pipeline
turns a match with an existing contact into an identity review item (a merge suggestion staff
decide on). The site can vouch for a signed-in visitor's email as other live-chat products do
(Intercom's and Crisp's identity verification): ``visitor.identity_hash`` is the hex HMAC-SHA256 of
``visitor.email``, exactly as sent, keyed with ``OMNITRAIL_LIVECHAT_IDENTITY_SECRET`` and computed
on the site's server; a matching hash makes the email an identifier like any other channel's. A
pre-chat value that is not an email or phone (a typo in a form) is dropped, never the chat message.

Adapters for other chat products (:mod:`connectors.livechat.chatwoot`) map their payloads to
:class:`ChatEvent` and reuse :func:`to_interaction`.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connectors import signing
from connectors.json_batch import normalize_json_batch
from connectors.webhook import Normalized
from schemas.errors import InvalidPayload
from schemas.identifiers import UNVERIFIED, Identifier, IdentifierKind
from schemas.interaction import (
    Attachment,
    Channel,
    Direction,
    Interaction,
    InteractionKind,
    Party,
    PartyRole,
    Provider,
    UtcDatetime,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventType(StrEnum):
    session_started = "session.started"
    message = "message"
    session_ended = "session.ended"


class Author(StrEnum):
    visitor = "visitor"
    agent = "agent"


class Visitor(_Model):
    id: str = Field(min_length=1, description="The widget's stable id for this visitor.")
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    identity_hash: str | None = Field(
        default=None,
        max_length=128,
        description="Hex HMAC-SHA256 of email (as sent) with the identity secret: the site vouches for the email.",
    )


class Agent(_Model):
    id: str | None = None
    name: str | None = None


class ChatEvent(_Model):
    id: str = Field(min_length=1, description="Unique per event and the same on every redelivery.")
    type: EventType
    session_id: str = Field(min_length=1)
    occurred_at: UtcDatetime
    widget: str | None = Field(default=None, min_length=1, description="Our side; default: the configured account.")
    visitor: Visitor
    author: Author = Author.visitor
    agent: Agent | None = None
    text: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    page_url: str | None = None


def vouched(visitor: Visitor, identity_secret: bytes | None) -> bool:
    """Did the site sign the visitor's email (``identity_hash``) with the identity secret?"""
    if identity_secret is None or not visitor.email or not visitor.identity_hash:
        return False
    expected = hmac.new(identity_secret, visitor.email.encode(), hashlib.sha256).hexdigest()
    return signing.equal(expected, visitor.identity_hash.strip().lower())  # bytes: any text compares


def _visitor_party(
    visitor: Visitor, account: str, default_region: str, identity_secret: bytes | None
) -> tuple[Party, list[Identifier], list[str]]:
    """The visitor's party (widget id, plus the email when the site vouched for it), the unverified
    pre-chat identifiers, and the names of pre-chat fields that were not valid."""
    identifiers = [Identifier.of(IdentifierKind.livechat, f"{account}:{visitor.id}")]
    unverified: list[Identifier] = []
    dropped: list[str] = []
    email_vouched = vouched(visitor, identity_secret)
    for kind, raw in ((IdentifierKind.email, visitor.email), (IdentifierKind.phone, visitor.phone)):
        if raw and raw.strip():
            try:
                identifier = Identifier.of(kind, raw, default_region=default_region)
            except InvalidPayload:
                dropped.append(kind.value)
                continue
            (identifiers if kind is IdentifierKind.email and email_vouched else unverified).append(identifier)
    return Party(display_name=visitor.name or None, identifiers=identifiers), unverified, dropped


def to_interaction(
    event: ChatEvent,
    *,
    account: str,
    provider: Provider,
    received_at: datetime,
    default_region: str,
    metadata: dict[str, Any] | None = None,
    identity_secret: bytes | None = None,
) -> Interaction:
    """One chat event -> one interaction: messages are messages, session start and end are notes."""
    account = event.widget or account
    visitor, unverified, dropped = _visitor_party(event.visitor, account, default_region, identity_secret)
    agent = Party(display_name=event.agent.name if event.agent else None, role=PartyRole.us)
    outbound = event.type is EventType.message and event.author is Author.agent
    extra: dict[str, Any] = {"livechat_event": event.type.value, **(metadata or {})}
    if event.page_url:
        extra["page_url"] = event.page_url
    if dropped:
        extra["invalid_prechat_fields"] = dropped
    if unverified:
        extra[UNVERIFIED] = [i.model_dump(mode="json") for i in unverified]
    return Interaction.build(
        channel=Channel.livechat,
        provider=provider,
        account=account,
        direction=Direction.outbound if outbound else Direction.inbound,
        kind=InteractionKind.message if event.type is EventType.message else InteractionKind.note,
        occurred_at=event.occurred_at,
        received_at=received_at,
        external_id=event.id,
        thread_key=f"livechat:{account}:{event.session_id}",
        sender=agent if outbound else visitor,
        recipients=[visitor] if outbound else ([agent] if event.agent else []),
        text=event.text,
        attachments=event.attachments,
        metadata=extra,
    )


def normalize_body(
    body: bytes, *, account: str, received_at: datetime, default_region: str, identity_secret: bytes | None = None
) -> Normalized:
    """A request body: one event or a JSON array of events; each bad one is rejected alone."""

    def parse(item: Any) -> Interaction:
        return to_interaction(
            ChatEvent.model_validate(item),
            account=account,
            provider=Provider.livechat,
            received_at=received_at,
            default_region=default_region,
            identity_secret=identity_secret,
        )

    return normalize_json_batch(body, parse, what="live-chat event")
