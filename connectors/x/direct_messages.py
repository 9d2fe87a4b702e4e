"""X Account Activity API ``direct_message_events`` as interactions.

A delivery is ``{"for_user_id": <our account>, "direct_message_events": [...], "users": {id: user}}``;
each event of ``type: message_create`` has ``id``, ``created_timestamp`` (ms) and
``message_create`` with ``sender_id``, ``target.recipient_id`` and ``message_data`` (``text``,
``attachment.media``). A message whose sender is ``for_user_id`` was sent by us (outbound). The
other person is identified by their user id and ``@screen_name`` from ``users``. Other activity
(posts, likes, follows, typing, reads) is not a conversation and is skipped.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from connectors import json_payload as jp
from connectors.webhook import Normalized
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Attachment, Channel, Direction, Interaction, Party, PartyRole, Provider


def thread_key_for(account: str, customer: str) -> str:
    return "x:dm:" + hashlib.sha256(f"x|{account}|{customer}".encode()).hexdigest()[:24]


def _party(user_id: str, users: jp.Json, *, us: bool = False) -> Party:
    found = users.get(user_id)
    user: jp.Json = found if isinstance(found, dict) else {}
    identifiers = [Identifier.of(IdentifierKind.x, user_id)]
    if isinstance(user.get("screen_name"), str) and user["screen_name"]:
        identifiers.append(Identifier.of(IdentifierKind.x, "@" + user["screen_name"]))
    name = user.get("name") if isinstance(user.get("name"), str) else None
    return Party(display_name=name, identifiers=identifiers, role=PartyRole.us if us else None)


def _attachments(data: jp.Json) -> list[Attachment]:
    attachment = data.get("attachment")
    media = attachment.get("media") if isinstance(attachment, dict) else None
    if not isinstance(media, dict):
        return []
    url = media.get("media_url_https") or media.get("media_url")
    return [Attachment(location=url if isinstance(url, str) else None)]


def _event(event: jp.Json, account: str, users: jp.Json, received_at: datetime) -> list[Interaction]:
    if not isinstance(event, dict) or event.get("type") != "message_create":
        return []
    event_id = jp.text(event, "id", "direct_message_events[].")
    create = jp.obj(event, "message_create", "direct_message_events[].")
    sender_id = jp.text(create, "sender_id", "message_create.")
    recipient_id = jp.text(jp.obj(create, "target", "message_create."), "recipient_id", "message_create.target.")
    outbound = sender_id == account
    customer = recipient_id if outbound else sender_id
    found = create.get("message_data")
    data: jp.Json = found if isinstance(found, dict) else {}
    metadata: dict[str, Any] = {}
    if create.get("source_app_id"):
        metadata["source_app_id"] = str(create["source_app_id"])
    return [
        Interaction.build(
            channel=Channel.other,
            provider=Provider.x,
            account=account,
            direction=Direction.outbound if outbound else Direction.inbound,
            occurred_at=jp.epoch_ms(event.get("created_timestamp"), "direct_message_events[].created_timestamp"),
            received_at=received_at,
            external_id=event_id,
            thread_key=thread_key_for(account, customer),
            sender=_party(sender_id, users, us=outbound),
            recipients=[_party(recipient_id, users, us=not outbound)],
            text=jp.optional_text(data, "text"),
            attachments=_attachments(data),
            metadata=metadata,
            raw_ref=f"x:dm:{event_id}",
        )
    ]


def normalize(payload: jp.Json, *, received_at: datetime) -> Normalized:
    events = payload.get("direct_message_events")
    if events is None:
        return Normalized([])
    account = jp.text(payload, "for_user_id")
    if not isinstance(events, list):
        return jp.rejected(events, "direct_message_events is not a list")
    found = payload.get("users")
    users: jp.Json = found if isinstance(found, dict) else {}
    return jp.each(events, lambda e: _event(e, account, users, received_at))
