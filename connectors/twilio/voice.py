"""Twilio's call status callbacks (``/webhooks/twilio/voice``): one ``call`` interaction per ``CallSid``.

Twilio posts a callback per call progress event (``initiated``, ``ringing``, ``answered``/
``in-progress``, ``completed``, or a final ``busy``/``no-answer``/``failed``/``canceled``) with
``CallSid``, ``AccountSid``, ``From``, ``To``, ``CallStatus``, ``Direction`` (``inbound``,
``outbound-api``, ``outbound-dial``), ``Timestamp`` (RFC 2822), ``SequenceNumber``, and
``CallDuration`` once the call is over. Callbacks can arrive in any order and be retried.

Every callback yields the same ``call`` interaction (its id depends on the CallSid only, so the
first to arrive creates the row and the others are duplicates) plus a ``status`` update carrying
the callback's state and duration; ``sinks.update_store`` only lets a later state win, so the row
ends with the final state and its duration whatever the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from connectors.twilio.messages import required, thread_key_for
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind, normalize_phone
from schemas.interaction import (
    CallInfo,
    Channel,
    Direction,
    Interaction,
    InteractionKind,
    Party,
    PartyRole,
    Provider,
    StatusUpdate,
)

#: Twilio ends a call after 24 hours at most: nine digits (31 years) are ample; 400 overflow a timedelta.
_MAX_DURATION_DIGITS = 9


def _occurred_at(form: Mapping[str, str], fallback: datetime) -> datetime:
    raw = form.get("Timestamp")
    if not raw:
        return fallback
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        raise InvalidPayload("Timestamp is not an RFC 2822 date") from None


def _started_at(at: datetime, duration: int | None) -> datetime:
    """When the call began: a final callback's Timestamp is the end, so step back by its duration.

    Whichever callback arrives first creates the row, and this keeps its time near the call's start.
    """
    try:
        return at - timedelta(seconds=duration) if duration else at
    except OverflowError:
        raise InvalidPayload("CallDuration reaches before year 1") from None


def _duration(form: Mapping[str, str]) -> int | None:
    raw = form.get("CallDuration")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > _MAX_DURATION_DIGITS:
        raise InvalidPayload("CallDuration is not a number of seconds")
    return int(raw)


def normalize_call_status(form: Mapping[str, str], *, default_region: str, received_at: datetime) -> list[Interaction]:
    sid = required(form, "CallSid")
    account_sid = required(form, "AccountSid")
    status = required(form, "CallStatus").lower()
    raw_direction = required(form, "Direction").lower()
    direction = Direction.inbound if raw_direction == "inbound" else Direction.outbound
    caller = normalize_phone(required(form, "From"), default_region)
    callee = normalize_phone(required(form, "To"), default_region)
    account, customer = (callee, caller) if direction is Direction.inbound else (caller, callee)
    ours = Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=account)], role=PartyRole.us)
    theirs = Party(
        display_name=form.get("CallerName") if direction is Direction.inbound and form.get("CallerName") else None,
        identifiers=[Identifier(kind=IdentifierKind.phone, value=customer)],
    )
    sender, recipient = (theirs, ours) if direction is Direction.inbound else (ours, theirs)
    duration = _duration(form)
    occurred_at = _started_at(_occurred_at(form, received_at), duration)
    call = CallInfo(duration_seconds=duration, status=status)
    common = {
        "channel": Channel.voice,
        "provider": Provider.twilio,
        "account": account,
        "direction": direction,
        "occurred_at": occurred_at,
        "received_at": received_at,
        "thread_key": thread_key_for(Channel.voice, account, customer),
        "sender": sender,
        "recipients": [recipient],
        "call": call,
        "raw_ref": f"twilio:{account_sid}:{sid}",
    }
    metadata = {"account_sid": account_sid, "twilio_direction": raw_direction}
    if form.get("ParentCallSid"):
        metadata["parent_call_sid"] = form["ParentCallSid"]
    the_call = Interaction.build(kind=InteractionKind.call, external_id=sid, metadata=metadata, **common)
    update = Interaction.build(
        kind=InteractionKind.status,
        external_id=f"{sid}#{status}",
        status=StatusUpdate(target_interaction_id=the_call.interaction_id, status=status),
        metadata={"sequence_number": form.get("SequenceNumber", "")},
        **common,
    )
    return [the_call, update]
