"""Messenger (``object: page``) and Instagram (``object: instagram``) message events.

Both use the Messenger Platform format: ``entry[].messaging[]`` events with ``sender.id``,
``recipient.id``, ``timestamp`` (ms) and ``message`` (``mid``, ``text``, ``attachments[]`` of
``{type, payload: {url}}``, ``reply_to.mid``, and ``is_echo`` on copies of what the page sent,
whose sender is the page).

- A ``reaction`` event (``reaction.mid`` of the message reacted to, ``action`` ``react``/``unreact``,
  ``emoji``) becomes a ``reaction`` on that message, no row of its own.
- An Instagram message with ``is_unsupported`` (content the API cannot deliver) is stored, marked
  ``metadata.unsupported`` ("content not supported by the provider" in the console).
- ``entry[].standby[]`` events (handover protocol: another app holds the thread) are the same
  customer messages, delivered to the app that does not own the thread: stored like
  ``messaging[]`` ones, marked ``metadata.standby``.
- Deliveries, reads, postbacks and referrals carry no new interaction and are skipped; a deleted
  (unsent) Instagram message too; page feed ``changes`` are not messages.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from connectors import json_payload as jp
from connectors.webhook import Normalized
from schemas.identifiers import Identifier, IdentifierKind
from schemas.ids import interaction_id_for
from schemas.interaction import (
    Attachment,
    Channel,
    Direction,
    Interaction,
    InteractionKind,
    Party,
    PartyRole,
    Provider,
    StatusUpdate,
)

_CHANNEL = {
    "page": (Channel.messenger, IdentifierKind.messenger),
    "instagram": (Channel.instagram, IdentifierKind.instagram),
}


def thread_key_for(channel: Channel, account: str, customer: str) -> str:
    """One conversation per (page or account, person); hashed so no id sits in the key."""
    return f"meta:{channel.value}:" + hashlib.sha256(f"{channel.value}|{account}|{customer}".encode()).hexdigest()[:24]


def _attachments(message: jp.Json) -> list[Attachment]:
    found = []
    for item in message.get("attachments") or []:
        payload = item.get("payload") if isinstance(item, dict) else None
        url = payload.get("url") if isinstance(payload, dict) else None
        found.append(Attachment(location=url if isinstance(url, str) else None))
    return found


def _reaction(obj: str, event: jp.Json, reaction: jp.Json, received_at: datetime) -> list[Interaction]:
    channel, kind = _CHANNEL[obj]
    customer = jp.text(jp.obj(event, "sender", "messaging[]."), "id", "messaging[].sender.")
    account = jp.text(jp.obj(event, "recipient", "messaging[]."), "id", "messaging[].recipient.")
    target = jp.text(reaction, "mid", "messaging[].reaction.")
    occurred_at = jp.epoch_ms(event.get("timestamp"), "messaging[].timestamp")
    removed = reaction.get("action") == "unreact"
    emoji = None if removed else jp.optional_text(reaction, "emoji") or jp.optional_text(reaction, "reaction")
    return [
        Interaction.build(
            channel=channel,
            provider=Provider.meta,
            account=account,
            direction=Direction.inbound,
            kind=InteractionKind.reaction,
            occurred_at=occurred_at,
            received_at=received_at,
            # A reaction has no id of its own: the message, the side and the moment name it.
            external_id=f"{target}#reaction:{customer}:{event.get('timestamp')}",
            thread_key=thread_key_for(channel, account, customer),
            sender=Party(identifiers=[Identifier.of(kind, customer)]),
            recipients=[Party(identifiers=[Identifier.of(kind, account)], role=PartyRole.us)],
            text=emoji,
            status=StatusUpdate(
                target_interaction_id=interaction_id_for(channel.value, account, target),
                status="unreacted" if removed else "reacted",
            ),
            metadata={"reaction": jp.optional_text(reaction, "reaction")} if reaction.get("reaction") else {},
        )
    ]


def normalize_event(obj: str, event: jp.Json, *, received_at: datetime, standby: bool = False) -> list[Interaction]:
    """One ``messaging[]`` (or ``standby[]``) event -> zero or one interaction."""
    channel, kind = _CHANNEL[obj]
    reaction = event.get("reaction") if isinstance(event, dict) else None
    if isinstance(reaction, dict):
        return _reaction(obj, event, reaction, received_at)
    message = event.get("message") if isinstance(event, dict) else None
    if not isinstance(message, dict) or message.get("is_deleted"):
        return []
    sender_id = jp.text(jp.obj(event, "sender", "messaging[]."), "id", "messaging[].sender.")
    recipient_id = jp.text(jp.obj(event, "recipient", "messaging[]."), "id", "messaging[].recipient.")
    mid = jp.text(message, "mid", "messaging[].message.")
    echo = bool(message.get("is_echo"))
    account, customer = (sender_id, recipient_id) if echo else (recipient_id, sender_id)
    ours = Party(identifiers=[Identifier.of(kind, account)], role=PartyRole.us)
    theirs = Party(identifiers=[Identifier.of(kind, customer)])
    reply_to = message.get("reply_to")
    reply_mid = reply_to.get("mid") if isinstance(reply_to, dict) else None
    metadata: dict[str, Any] = {}
    types = [a.get("type") for a in message.get("attachments") or [] if isinstance(a, dict)]
    if types:
        metadata["attachment_types"] = types
    if echo and message.get("app_id") is not None:
        metadata["app_id"] = str(message["app_id"])
    if isinstance(message.get("quick_reply"), dict):
        metadata["quick_reply_payload"] = message["quick_reply"].get("payload")
    if message.get("is_unsupported"):
        metadata["unsupported"] = True
    if standby:
        metadata["standby"] = True
    return [
        Interaction.build(
            channel=channel,
            provider=Provider.meta,
            account=account,
            direction=Direction.outbound if echo else Direction.inbound,
            occurred_at=jp.epoch_ms(event.get("timestamp"), "messaging[].timestamp"),
            received_at=received_at,
            external_id=mid,
            thread_key=thread_key_for(channel, account, customer),
            in_reply_to=interaction_id_for(channel.value, account, reply_mid) if isinstance(reply_mid, str) else None,
            sender=ours if echo else theirs,
            recipients=[theirs if echo else ours],
            text=jp.optional_text(message, "text"),
            attachments=_attachments(message),
            metadata=metadata,
            raw_ref=f"meta:{channel.value}:{mid}",
        )
    ]


def normalize_entry(obj: str, entry: jp.Json, *, received_at: datetime) -> Normalized:
    """Each messaging (or standby) event of an entry on its own: one bad event is rejected alone."""
    if isinstance(entry, dict) and "messaging" not in entry and "standby" not in entry and "changes" in entry:
        return Normalized([])  # page feed changes are not messages
    if isinstance(entry, dict) and "messaging" not in entry and "standby" in entry:
        events = jp.items(entry, "standby", "entry[].")
        return jp.each(events, lambda e: normalize_event(obj, e, received_at=received_at, standby=True))
    events = jp.items(entry, "messaging", "entry[].")
    return jp.each(events, lambda e: normalize_event(obj, e, received_at=received_at))
