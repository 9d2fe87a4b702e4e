"""WhatsApp Cloud API webhooks (``object: whatsapp_business_account``).

Each ``entry[].changes[]`` with ``field: messages`` has a ``value`` holding ``metadata``
(``display_phone_number``: our number, ``phone_number_id``), and ``contacts[]`` (``wa_id``,
``user_id``, ``profile.name``, ``profile.username``) with ``messages[]`` (``from``, ``from_user_id``,
``id``, ``timestamp`` in seconds, ``type`` and a body per type; ``context.id`` of the message
replied to), and/or ``statuses[]`` (``id`` of our message, ``status``, ``timestamp``,
``recipient_id``/``recipient_user_id``, ``errors[]``) about what we sent.

Who the customer is: ``from`` (``wa_id``) is a phone number without ``+``: it becomes the same E.164
phone identifier as the customer's SMS and Twilio WhatsApp messages, so all three land on one
contact. ``from_user_id`` (or the contact's ``user_id``) is the business-scoped user id
(``whatsapp_user_id``, kept as received): the only address of a user who hides their number behind
a username; when a message carries both they are one party, hence linked to one contact. The
username (``whatsapp_username``, weak) makes the contact findable and is shown with its identifiers.

What each message ``type`` becomes:

- ``text``, ``image``/``video``/``audio``/``document``/``sticker`` (caption and attachment metadata),
  ``button``, ``interactive`` (the chosen reply's title; a WhatsApp Flows response's answers), ``order``
  (the note and the products ordered), and any type not named here: a message whose text and metadata
  are what :mod:`connectors.meta.whatsapp_content` makes of its body (a type it does not know keeps its
  body in metadata);
- ``location``: a message with ``location`` (coordinates, name, address);
- ``contacts``: a message with ``contact_cards`` (name, phones, emails, organization);
- ``reaction``: a ``reaction`` on the message it names (``reaction.message_id``), no row of its own;
  an empty emoji removes it;
- ``system`` ``user_changed_number`` / ``user_changed_user_id``: an ``identity`` notice whose customer
  carries the old and the new number or user id (``address_change``: which is which; the notice routes
  by the addresses it leaves, as the customer's next messages do), linked to the same contact with the
  notice as evidence (onto an address another contact has, it opens an identity review instead, unless
  that address could merge nobody, marked shared or at the merge cap: see
  :func:`pipeline.stages.identity.disputed`); other system types are acknowledged and skipped;
- ``unsupported`` / ``unknown`` (content Meta cannot deliver): a message marked
  ``metadata.unsupported``, shown as "content not supported by the provider".
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from connectors import json_payload as jp
from connectors.meta.whatsapp_content import MEDIA, content
from connectors.meta.whatsapp_content import string as _string
from connectors.webhook import Normalized
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind, normalize_phone
from schemas.ids import interaction_id_for
from schemas.interaction import (
    AddressChange,
    Attachment,
    Channel,
    ContactCard,
    Direction,
    Interaction,
    InteractionKind,
    Location,
    Party,
    PartyRole,
    Provider,
    StatusUpdate,
)

_HEX64 = frozenset("0123456789abcdef")
#: System notices that say the customer's address changed: their new identifiers join the same contact.
IDENTITY_EVENTS = ("user_changed_number", "user_changed_user_id")
#: Message types Meta uses for content it cannot deliver to the API.
_UNSUPPORTED = ("unsupported", "unknown")


def _phone(digits: str) -> str:
    return normalize_phone(digits if digits.startswith("+") else "+" + digits)


def thread_key_for(account: str, customer: str) -> str:
    return "meta:whatsapp:" + hashlib.sha256(f"whatsapp|{account}|{customer}".encode()).hexdigest()[:24]


def _media(message: jp.Json, kind: str) -> list[Attachment]:
    media = message.get(kind)
    if kind not in MEDIA or not isinstance(media, dict):
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


def _location(message: jp.Json) -> Location | None:
    place = message.get("location")
    if not isinstance(place, dict):
        raise InvalidPayload("messages[].location is missing or not an object")
    return Location(
        latitude=place.get("latitude"),  # validated by the model: a finite number
        longitude=place.get("longitude"),
        name=_string(place, "name"),
        address=_string(place, "address"),
    )


def _contact_cards(message: jp.Json) -> list[ContactCard]:
    cards = []
    for card in jp.optional_list(message, "contacts"):
        if not isinstance(card, dict):
            continue
        name = card.get("name")
        org = card.get("org")
        cards.append(
            ContactCard(
                name=_string(name, "formatted_name")
                or " ".join(n for n in (_string(name, "first_name"), _string(name, "last_name")) if n)
                or None,
                phones=[p for item in jp.optional_list(card, "phones") if (p := _string(item, "phone"))],
                emails=[e for item in jp.optional_list(card, "emails") if (e := _string(item, "email"))],
                organization=_string(org, "company"),
            )
        )
    return cards


def _profile(value: jp.Json, phone: str | None, user_id: str | None) -> jp.Json:
    """The ``contacts[]`` entry about this sender (by ``wa_id`` or ``user_id``; the only one if alone)."""
    contacts = [c for c in jp.optional_list(value, "contacts") if isinstance(c, dict)]
    for contact in contacts:
        if (phone and _string(contact, "wa_id") == phone) or (user_id and _string(contact, "user_id") == user_id):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _identifiers(phone: str | None, user_id: str | None, username: str | None = None) -> list[Identifier]:
    found = []
    if phone:
        found.append(Identifier(kind=IdentifierKind.phone, value=_phone(phone)))
    if user_id:
        found.append(Identifier.of(IdentifierKind.whatsapp_user_id, user_id))
    if username:
        found.append(Identifier.of(IdentifierKind.whatsapp_username, username))
    return found


def _customer(value: jp.Json, message: jp.Json) -> Party:
    """The sender: phone and/or business-scoped user id, with the profile name and username."""
    phone, user_id = _string(message, "from"), _string(message, "from_user_id")
    contact = _profile(value, phone, user_id)
    profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}
    user_id = user_id or _string(contact, "user_id")
    identifiers = _identifiers(phone, user_id, _string(profile, "username"))
    if not phone and not user_id:
        raise InvalidPayload("messages[].from and from_user_id are both missing")
    return Party(display_name=_string(profile, "name"), identifiers=identifiers)


def _common(value: jp.Json, message: jp.Json, account: str, received_at: datetime, customer: Party) -> dict[str, Any]:
    wamid = jp.text(message, "id", "messages[].")
    return {
        "channel": Channel.whatsapp,
        "provider": Provider.meta,
        "account": account,
        "direction": Direction.inbound,
        "occurred_at": jp.epoch_s(message.get("timestamp"), "messages[].timestamp"),
        "received_at": received_at,
        "external_id": wamid,
        "thread_key": thread_key_for(account, customer.identifiers[0].value),
        "sender": customer,
        "recipients": [Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=account)], role=PartyRole.us)],
        "raw_ref": f"meta:whatsapp:{wamid}",
    }


def _message(value: jp.Json, message: jp.Json, account: str, received_at: datetime) -> list[Interaction]:
    kind = jp.text(message, "type", "messages[].")
    if kind == "system":
        return _system(value, message, account, received_at)
    common = _common(value, message, account, received_at, _customer(value, message))
    metadata: dict[str, Any] = {"type": kind, "phone_number_id": value["metadata"].get("phone_number_id")}
    if kind == "reaction":
        reaction = jp.obj(message, "reaction", "messages[].")
        target = jp.text(reaction, "message_id", "messages[].reaction.")
        return [
            Interaction.build(
                **common,
                kind=InteractionKind.reaction,
                text=_string(reaction, "emoji"),
                status=StatusUpdate(
                    target_interaction_id=interaction_id_for("whatsapp", account, target),
                    status="reacted" if _string(reaction, "emoji") else "unreacted",
                ),
                metadata=metadata,
            )
        ]
    if kind in _UNSUPPORTED:
        metadata["unsupported"] = True
    context = message.get("context")
    replied = context.get("id") if isinstance(context, dict) else None
    text, details = content(message, kind)
    metadata.update(details)
    return [
        Interaction.build(
            **common,
            in_reply_to=interaction_id_for("whatsapp", account, replied) if isinstance(replied, str) else None,
            text=text,
            attachments=_media(message, kind),
            location=_location(message) if kind == "location" else None,
            contact_cards=_contact_cards(message) if kind == "contacts" else [],
            metadata=metadata,
        )
    ]


def _system(value: jp.Json, message: jp.Json, account: str, received_at: datetime) -> list[Interaction]:
    """A number or user id change: one party holding the old and the new addresses (see module doc)."""
    system = jp.obj(message, "system", "messages[].")
    event = jp.text(system, "type", "messages[].system.")
    if event not in IDENTITY_EVENTS:
        return []  # e.g. customer_identity_changed (a security-code change): nothing about who they are
    old = _identifiers(_string(message, "from"), _string(message, "from_user_id"))
    new = _identifiers(
        _string(system, "wa_id") or _string(system, "new_wa_id"),
        _string(system, "new_user_id") or _string(system, "user_id"),
    )
    if not old or not new:
        raise InvalidPayload(f"messages[].system {event} does not name both the old and the new address")
    customer = Party(identifiers=old + [i for i in new if i not in old])
    common = _common(value, message, account, received_at, customer)
    # What the change left alone stays theirs: a number change keeps the user id, and the reverse.
    after = new + [i for i in old if i.kind not in {n.kind for n in new}]
    return [
        Interaction.build(
            **common,
            kind=InteractionKind.identity,
            address_change=AddressChange(before=old, after=after),
            text=_string(system, "body"),
            metadata={"type": "system", "event": event},
        )
    ]


def _status(status: jp.Json, account: str, received_at: datetime) -> list[Interaction]:
    wamid = jp.text(status, "id", "statuses[].")
    state = jp.text(status, "status", "statuses[].").lower()
    customer = _identifiers(_string(status, "recipient_id"), _string(status, "recipient_user_id"))
    if not customer:
        raise InvalidPayload("statuses[].recipient_id and recipient_user_id are both missing")
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
            thread_key=thread_key_for(account, customer[0].value),
            sender=Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=account)], role=PartyRole.us),
            recipients=[Party(identifiers=customer)],
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
        except Exception as exc:  # one change's failure, whatever it is, leaves the others (see jp.each)
            parts.append(jp.rejected(change, jp.reason(exc)))
    return jp.merge(parts)
