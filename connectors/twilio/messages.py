"""Normalization of Twilio's inbound message webhook (SMS, MMS, WhatsApp) into a v1 interaction.

Parameters are the ones Twilio documents for incoming messages: ``MessageSid``,
``AccountSid``, ``From``, ``To``, ``Body``, ``NumMedia``, ``MediaUrlN``,
``MediaContentTypeN``, and for WhatsApp ``ProfileName`` and ``WaId``.

A WhatsApp user who hides their number behind a username arrives as ``From=whatsapp:<user id>``
(a business-scoped user id such as ``BR.1502576394655843``): the sender is that
``whatsapp_user_id`` identifier, plus the phone number ``WaId`` gives when Twilio has one, so the
two are linked to one contact. The thread is keyed by whichever address Twilio names the sender by.

An SMS body arrives with NUL characters where the phone encoded "@" in GSM-7 (0x00 in that
alphabet); they are read back as "@". Every other stray NUL or lone surrogate, on any channel, is
made storable by the schema (:mod:`schemas.text`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind, is_whatsapp_user_id, normalize_phone
from schemas.interaction import Attachment, Channel, Direction, Interaction, Provider

#: Location fields Twilio geolocates from the number; kept as channel metadata.
_GEO_FIELDS = ("FromCity", "FromState", "FromZip", "FromCountry", "ToCity", "ToState", "ToZip", "ToCountry")


def required(form: Mapping[str, str], name: str) -> str:
    """A form parameter Twilio always sends, stripped; InvalidPayload naming it (not its value) when absent."""
    value = form.get(name, "").strip()
    if not value:
        raise InvalidPayload(f"missing required parameter {name}")
    return value


def _channel(address: str, num_media: int) -> Channel:
    if address.lower().startswith("whatsapp:"):
        return Channel.whatsapp
    return Channel.mms if num_media > 0 else Channel.sms


def _media(form: Mapping[str, str], num_media: int) -> list[Attachment]:
    attachments = []
    for n in range(num_media):
        url = form.get(f"MediaUrl{n}")
        if not url:
            raise InvalidPayload(f"NumMedia is {num_media} but MediaUrl{n} is missing")
        attachments.append(
            Attachment(name=url.rsplit("/", 1)[-1], content_type=form.get(f"MediaContentType{n}"), location=url)
        )
    return attachments


def customer_address(raw: str, channel: Channel, default_region: str) -> Identifier:
    """The customer's ``From``/``To``: a phone number, or on WhatsApp possibly a business-scoped user id."""
    return Identifier(**_address(raw, channel, default_region))


def _address(raw: str, channel: Channel, default_region: str) -> dict[str, str]:
    """:func:`customer_address`'s fields, for the interaction to validate once (an Identifier passed in is
    validated again: ~3 µs of a request's CPU)."""
    if channel is Channel.whatsapp and is_whatsapp_user_id(raw):
        user_id = Identifier.of(IdentifierKind.whatsapp, raw)
        return {"kind": user_id.kind, "value": user_id.value}
    return {"kind": IdentifierKind.phone, "value": normalize_phone(raw, default_region)}


def _sender(form: Mapping[str, str], raw_from: str, channel: Channel, default_region: str) -> list[dict[str, str]]:
    found = [_address(raw_from, channel, default_region)]
    if found[0]["kind"] is IdentifierKind.phone:
        return found
    wa_id = form.get("WaId", "").strip()
    if wa_id.isdigit():
        found.append({"kind": IdentifierKind.phone, "value": normalize_phone("+" + wa_id)})
    return found


def _body(form: Mapping[str, str], channel: Channel) -> str:
    body = form.get("Body", "")
    return body.replace("\x00", "@") if channel is Channel.sms else body  # MMS text is MIME, not GSM-7


def thread_key_for(channel: Channel, account: str, customer: str) -> str:
    """One conversation per (our number, their number, channel); hashed so no number sits in the key."""
    digest = hashlib.sha256(f"{channel.value}|{account}|{customer}".encode()).hexdigest()[:24]
    return f"twilio:{channel.value}:{digest}"


def normalize_inbound_message(form: Mapping[str, str], *, default_region: str, received_at: datetime) -> Interaction:
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not sid.strip():
        raise InvalidPayload("missing required parameter MessageSid")
    account_sid = required(form, "AccountSid")
    raw_from = required(form, "From")
    raw_to = required(form, "To")
    try:
        num_media = int(form.get("NumMedia", "0") or 0)
    except ValueError:
        raise InvalidPayload("NumMedia is not a number") from None
    if not 0 <= num_media <= 10:
        raise InvalidPayload("NumMedia out of range")
    channel = _channel(raw_from, num_media)
    sender = _sender(form, raw_from, channel, default_region)
    customer = sender[0]["value"]
    account = normalize_phone(raw_to, default_region)
    metadata: dict[str, str | int] = {"account_sid": account_sid, "num_media": num_media}
    for name in ("MessagingServiceSid", "NumSegments", "WaId", *_GEO_FIELDS):
        if form.get(name):
            metadata[name] = form[name]
    return Interaction.build(
        channel=channel,
        provider=Provider.twilio,
        account=account,
        direction=Direction.inbound,
        occurred_at=received_at,  # Twilio's inbound webhook carries no timestamp of its own.
        received_at=received_at,
        external_id=sid.strip(),
        thread_key=thread_key_for(channel, account, customer),
        sender={"display_name": form.get("ProfileName") or None, "identifiers": sender},
        recipients=[{"identifiers": [{"kind": IdentifierKind.phone, "value": account}]}],
        text=_body(form, channel),
        attachments=_media(form, num_media),
        metadata=metadata,
        raw_ref=f"twilio:{account_sid}:{sid.strip()}",
    )
