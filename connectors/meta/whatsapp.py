"""WhatsApp Cloud API webhooks (``object: whatsapp_business_account``).

Each ``entry[].changes[]`` with ``field: messages`` has a ``value`` holding ``metadata``
(``display_phone_number``: our number, ``phone_number_id``), and ``contacts[]`` (``wa_id``,
``profile.name``) with ``messages[]`` (``from``, ``id``, ``timestamp`` in seconds, ``type`` and a
body per type: ``text.body``; ``image``/``video``/``audio``/``document``/``sticker`` with ``id``,
``mime_type``, ``sha256``, ``caption``, ``filename``; ``context.id`` of the message replied to),
and/or ``statuses[]`` (``id`` of our message, ``status``, ``timestamp``, ``recipient_id``,
``errors[]``) about what we sent.

``wa_id`` is a phone number without ``+``: it becomes the same E.164 phone identifier as the
customer's SMS and Twilio WhatsApp messages, so all three land on one contact.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from connectors import json_payload as jp
from connectors.webhook import Normalized
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind, normalize_phone
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

_MEDIA = ("image", "video", "audio", "document", "sticker")
_HEX64 = frozenset("0123456789abcdef")


def _phone(digits: str) -> str:
    return normalize_phone(digits if digits.startswith("+") else "+" + digits)


def thread_key_for(account: str, customer: str) -> str:
    return "meta:whatsapp:" + hashlib.sha256(f"whatsapp|{account}|{customer}".encode()).hexdigest()[:24]


def _media(message: jp.Json, kind: str) -> list[Attachment]:
    media = message.get(kind)
    if kind not in _MEDIA or not isinstance(media, dict):
        return []
    digest = media.get("sha256")
    return [
        Attachment(
            name=media.get("filename") if isinstance(media.get("filename"), str) else None,
            content_type=media.get("mime_type") if isinstance(media.get("mime_type"), str) else None,
            # Only a hex SHA-256 fits the schema; Cloud API sends some digests base64-encoded.
            sha256=digest if isinstance(digest, str) and len(digest) == 64 and set(digest) <= _HEX64 else None,
            location=f"whatsapp-media:{media['id']}" if media.get("id") else None,
        )
    ]


def _text(message: jp.Json, kind: str) -> str | None:
    if kind == "text":
        return jp.text(jp.obj(message, "text", "messages[]."), "body", "messages[].text.")
    media = message.get(kind)
    return media.get("caption") if isinstance(media, dict) and isinstance(media.get("caption"), str) else None


def _message(value: jp.Json, message: jp.Json, account: str, received_at: datetime) -> list[Interaction]:
    sender = jp.text(message, "from", "messages[].")
    customer = _phone(sender)
    wamid = jp.text(message, "id", "messages[].")
    kind = jp.text(message, "type", "messages[].")
    names = {
        c.get("wa_id"): c.get("profile", {}).get("name")
        for c in jp.optional_list(value, "contacts")
        if isinstance(c, dict) and isinstance(c.get("wa_id"), str) and isinstance(c.get("profile", {}), dict)
    }
    context = message.get("context")
    replied = context.get("id") if isinstance(context, dict) else None
    metadata: dict[str, Any] = {"type": kind, "phone_number_id": value["metadata"].get("phone_number_id")}
    return [
        Interaction.build(
            channel=Channel.whatsapp,
            provider=Provider.meta,
            account=account,
            direction=Direction.inbound,
            occurred_at=jp.epoch_s(message.get("timestamp"), "messages[].timestamp"),
            received_at=received_at,
            external_id=wamid,
            thread_key=thread_key_for(account, customer),
            in_reply_to=interaction_id_for("whatsapp", account, replied) if isinstance(replied, str) else None,
            sender=Party(
                display_name=names.get(sender) or None,
                identifiers=[Identifier(kind=IdentifierKind.phone, value=customer)],
            ),
            recipients=[Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=account)], role=PartyRole.us)],
            text=_text(message, kind),
            attachments=_media(message, kind),
            metadata=metadata,
            raw_ref=f"meta:whatsapp:{wamid}",
        )
    ]


def _status(status: jp.Json, account: str, received_at: datetime) -> list[Interaction]:
    wamid = jp.text(status, "id", "statuses[].")
    state = jp.text(status, "status", "statuses[].").lower()
    customer = _phone(jp.text(status, "recipient_id", "statuses[]."))
    errors = status.get("errors")
    code = errors[0].get("code") if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
    return [
        Interaction.build(
            channel=Channel.whatsapp,
            provider=Provider.meta,
            account=account,
            direction=Direction.outbound,
            kind=InteractionKind.status,
            occurred_at=jp.epoch_s(status.get("timestamp"), "statuses[].timestamp"),
            received_at=received_at,
            external_id=f"{wamid}#{state}",
            thread_key=thread_key_for(account, customer),
            sender=Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=account)], role=PartyRole.us),
            recipients=[Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=customer)])],
            status=StatusUpdate(
                target_interaction_id=interaction_id_for("whatsapp", account, wamid),
                status=state,
                error_code=str(code) if code is not None else None,
            ),
            raw_ref=f"meta:whatsapp:{wamid}",
        )
    ]


def _change(change: jp.Json, received_at: datetime) -> Normalized:
    if not isinstance(change, dict):
        raise InvalidPayload("entry[].changes[] is not an object")
    if change.get("field") != "messages":
        return Normalized([])  # template, quality and account updates are not conversations
    value = jp.obj(change, "value", "changes[].")
    account = _phone(jp.text(jp.obj(value, "metadata", "changes[].value."), "display_phone_number", "metadata."))
    messages = value.get("messages") or []
    statuses = value.get("statuses") or []
    if not isinstance(messages, list) or not isinstance(statuses, list):
        raise InvalidPayload("changes[].value.messages or statuses is not a list")
    return jp.merge(
        [
            jp.each(messages, lambda m: _message(value, m, account, received_at)),
            jp.each(statuses, lambda s: _status(s, account, received_at)),
        ]
    )


def normalize_entry(entry: jp.Json, *, received_at: datetime) -> Normalized:
    changes = jp.items(entry, "changes", "entry[].")
    parts: list[Normalized] = []
    for change in changes:
        try:
            parts.append(_change(change, received_at))
        except InvalidPayload as exc:
            parts.append(jp.rejected(change, exc.reason))
    return jp.merge(parts)
