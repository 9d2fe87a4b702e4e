"""The live-chat event format (``/webhooks/livechat``, documented in docs/livechat.md) and its normalization.

A chat widget posts one event, or a JSON array of them, per request: ``session.started`` (with
what the visitor typed in the pre-chat form), ``message`` (from the visitor or an agent) and
``session.ended``. Every event carries the visitor, so the first one to arrive is enough to
attach the chat to a contact whatever the order. A session is one thread.

The visitor becomes one party holding the widget's visitor id (a ``livechat`` identifier scoped
by the widget, so two widgets' ids never collide) plus the pre-chat email and phone: identity then
links the chat to the contact that already has that email or phone. A pre-chat value that is not
an email or phone (a typo in a form) is dropped, never the chat message itself.

Adapters for other chat products (:mod:`connectors.livechat.chatwoot`) map their payloads to
:class:`ChatEvent` and reuse :func:`to_interaction`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connectors.json_batch import normalize_json_batch
from connectors.webhook import Normalized
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind
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


def _visitor_party(visitor: Visitor, account: str, default_region: str) -> tuple[Party, list[str]]:
    identifiers = [Identifier.of(IdentifierKind.livechat, f"{account}:{visitor.id}")]
    dropped = []
    for kind, raw in ((IdentifierKind.email, visitor.email), (IdentifierKind.phone, visitor.phone)):
        if raw and raw.strip():
            try:
                identifiers.append(Identifier.of(kind, raw, default_region=default_region))
            except InvalidPayload:
                dropped.append(kind.value)
    return Party(display_name=visitor.name or None, identifiers=identifiers), dropped


def to_interaction(
    event: ChatEvent,
    *,
    account: str,
    provider: Provider,
    received_at: datetime,
    default_region: str,
    metadata: dict[str, Any] | None = None,
) -> Interaction:
    """One chat event -> one interaction: messages are messages, session start and end are notes."""
    account = event.widget or account
    visitor, dropped = _visitor_party(event.visitor, account, default_region)
    agent = Party(display_name=event.agent.name if event.agent else None, role=PartyRole.us)
    outbound = event.type is EventType.message and event.author is Author.agent
    extra: dict[str, Any] = {"livechat_event": event.type.value, **(metadata or {})}
    if event.page_url:
        extra["page_url"] = event.page_url
    if dropped:
        extra["invalid_prechat_fields"] = dropped
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


def normalize_body(body: bytes, *, account: str, received_at: datetime, default_region: str) -> Normalized:
    """A request body: one event or a JSON array of events; each bad one is rejected alone."""

    def parse(item: Any) -> Interaction:
        return to_interaction(
            ChatEvent.model_validate(item),
            account=account,
            provider=Provider.livechat,
            received_at=received_at,
            default_region=default_region,
        )

    return normalize_json_batch(body, parse, what="live-chat event")
