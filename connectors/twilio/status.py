"""Twilio's message status callback (``/webhooks/twilio/status``) as a ``status`` interaction.

Twilio posts ``MessageSid``, ``MessageStatus`` (queued, sending, sent, delivered, undelivered,
failed, read, ...), ``AccountSid``, ``From`` (our number), ``To`` (the customer), ``ErrorCode`` on
failures and, for WhatsApp, ``whatsapp:``-prefixed addresses. The update targets the outbound
message's deterministic id (channel + our number + ``MessageSid``), so whichever system stored
that message, the status lands on its row; ``sinks.update_store`` keeps the latest state whatever
order the callbacks arrive in, and parks one that overtakes its message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from connectors.twilio.messages import customer_address, required, thread_key_for
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind, normalize_phone
from schemas.ids import interaction_id_for
from schemas.interaction import (
    Channel,
    Direction,
    Interaction,
    InteractionKind,
    Party,
    PartyRole,
    Provider,
    StatusUpdate,
)


def message_channel(our_address: str) -> Channel:
    """A status callback does not say whether media were attached: non-WhatsApp messages are ``sms``."""
    return Channel.whatsapp if our_address.lower().startswith("whatsapp:") else Channel.sms


def normalize_message_status(form: Mapping[str, str], *, default_region: str, received_at: datetime) -> Interaction:
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not sid:
        raise InvalidPayload("missing required parameter MessageSid")
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not status:
        raise InvalidPayload("missing required parameter MessageStatus")
    account_sid = required(form, "AccountSid")
    raw_from = required(form, "From")
    channel = message_channel(raw_from)
    account = normalize_phone(raw_from, default_region)
    customer = customer_address(required(form, "To"), channel, default_region)
    metadata: dict[str, str] = {"account_sid": account_sid}
    for name in ("MessagingServiceSid", "RawDlrDoneDate", "ChannelPrefix", "EventType"):
        if form.get(name):
            metadata[name] = form[name]
    return Interaction.build(
        channel=channel,
        provider=Provider.twilio,
        account=account,
        direction=Direction.outbound,
        kind=InteractionKind.status,
        occurred_at=received_at,  # message status callbacks carry no event timestamp
        received_at=received_at,
        # One update per (message, state): a retried callback is the same update, a new state a new one.
        external_id=f"{sid}#{status}",
        thread_key=thread_key_for(channel, account, customer.value),
        sender=Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=account)], role=PartyRole.us),
        recipients=[Party(identifiers=[customer])],
        status=StatusUpdate(
            target_interaction_id=interaction_id_for(channel.value, account, sid),
            status=status,
            error_code=form.get("ErrorCode") or None,
        ),
        metadata=metadata,
        raw_ref=f"twilio:{account_sid}:{sid}",
    )
