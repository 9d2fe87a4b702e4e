"""Chatwoot's ``message_created`` webhook, mapped onto the live-chat event and normalized like any chat.

Payload fields are the ones Chatwoot documents for ``message_created`` (chatwoot/docs,
"Webhook Events"): ``id``, ``content``, ``created_at``, ``message_type`` (``incoming`` from the
contact, ``outgoing`` from an agent; ``activity`` and ``template`` are Chatwoot's own lines),
``private`` (an agent-only note), ``sender`` (``type`` ``contact`` or ``user``),
``conversation`` (``id``, ``meta.sender`` = the contact with ``email``/``phone_number``),
``inbox`` and ``account``.

Chatwoot signs webhooks that have a secret: ``X-Chatwoot-Timestamp`` and
``X-Chatwoot-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{raw body}">``
(:data:`CHATWOOT_SCHEME`, verified by the shared :mod:`connectors.timestamped_signature`).

Other events, private notes, activity and template messages carry no customer conversation:
they are acknowledged and not ingested.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from connectors import json_payload
from connectors.livechat.events import Agent, Author, ChatEvent, EventType, Visitor, to_interaction
from connectors.timestamped_signature import SignatureScheme
from schemas.errors import InvalidPayload
from schemas.interaction import Interaction, Provider
from schemas.interaction_input import field_errors

CHATWOOT_SCHEME = SignatureScheme(
    timestamp_header="X-Chatwoot-Timestamp",
    signature_header="X-Chatwoot-Signature",
    prefix="sha256=",
    template="{timestamp}.",
)
#: Chatwoot's numeric message types (in nested ``messages``) next to the names the webhook uses.
_AUTHORS = {"incoming": Author.visitor, 0: Author.visitor, "outgoing": Author.agent, 1: Author.agent}


def _object(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise InvalidPayload(f"message_created without {name}")
    return value


def _created_at(value: Any) -> datetime:
    """Chatwoot sends ISO 8601 (``2021-07-23T18:02:48.000Z``), older installs ``2020-03-03 13:05:57 UTC``."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        text = value.strip().removesuffix(" UTC")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise InvalidPayload("created_at is not a timestamp")


def _id(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise InvalidPayload(f"{name} is missing")
    return str(value).strip()


def normalize_chatwoot(body: bytes, *, received_at: datetime, default_region: str) -> list[Interaction]:
    payload = json_payload.parse(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise InvalidPayload("not a Chatwoot webhook event")
    message_type = payload.get("message_type")
    author = _AUTHORS.get(message_type) if isinstance(message_type, str | int) else None
    if payload["event"] != "message_created" or payload.get("private") is True or author is None:
        return []
    conversation = _object(payload, "conversation")
    account_id = _id(_object(payload, "account").get("id"), "account.id")
    sender = _object(payload, "sender")
    meta = conversation.get("meta")
    contact = meta.get("sender") if isinstance(meta, dict) else None
    if not isinstance(contact, dict) and author is Author.visitor:
        contact = sender  # the contact wrote it: the sender is the visitor
    if not isinstance(contact, dict):
        raise InvalidPayload("message_created without the conversation's contact")
    inbox = payload.get("inbox")
    inbox_id = inbox.get("id") if isinstance(inbox, dict) else None
    try:
        event = ChatEvent(
            id=f"message:{_id(payload.get('id'), 'id')}",
            type=EventType.message,
            session_id=_id(conversation.get("id"), "conversation.id"),
            occurred_at=_created_at(payload.get("created_at")),
            widget=f"chatwoot:{account_id}",
            visitor=Visitor(
                id=_id(contact.get("id"), "conversation.meta.sender.id"),
                name=contact.get("name") or None,
                email=contact.get("email") or None,
                phone=contact.get("phone_number") or None,
            ),
            author=author,
            agent=Agent(id=str(sender.get("id")), name=sender.get("name")) if author is Author.agent else None,
            text=payload.get("content"),
        )
    except ValidationError as exc:
        raise InvalidPayload(f"invalid Chatwoot message: {field_errors(exc)}") from None
    metadata = {"chatwoot_inbox_id": inbox_id, "chatwoot_content_type": payload.get("content_type")}
    return [
        to_interaction(
            event,
            account=event.widget or "",
            provider=Provider.livechat,
            received_at=received_at,
            default_region=default_region,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )
    ]
