"""Provider payloads for the Twilio status/voice, Meta and X tests, in each provider's documented
format, and signatures computed the way each provider computes them (independently of
``connectors.signing``, so a wrong implementation there cannot agree with itself here)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from pydantic import SecretStr

from connectors.meta import MetaConnector, MetaSettings

META_APP_SECRET = "test-meta-app-secret-0123456789"
META_VERIFY_TOKEN = "test-meta-verify-token"
X_CONSUMER_SECRET = "test-x-consumer-secret-0123456789"
ACCOUNT_SID = "AC" + "0" * 32
OUR_NUMBER = "+351210000000"
#: WhatsApp Cloud API business number (metadata.display_phone_number has no "+").
WA_BUSINESS = "351210000001"
PAGE_ID = "104365892331580"
IG_ACCOUNT_ID = "17841405822304914"
X_ACCOUNT_ID = "4337869213"


# --- Twilio ---------------------------------------------------------------------------------


def message_status(sid: str, status: str, to: str, *, whatsapp: bool = False, **extra: str) -> dict[str, str]:
    """Twilio's message status callback parameters (an outbound message from OUR_NUMBER)."""
    prefix = "whatsapp:" if whatsapp else ""
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "MessagingServiceSid": "MG" + "1" * 32,
        "From": prefix + OUR_NUMBER,
        "To": prefix + to,
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": "2010-04-01",
    }
    if whatsapp:
        params["ChannelPrefix"] = "whatsapp"
    if status in ("failed", "undelivered"):
        params["ErrorCode"] = "30003"
    return params | extra


def call_status(sid: str, status: str, caller: str, *, sequence: int, duration: int | None = None) -> dict[str, str]:
    """Twilio's call status callback parameters for an inbound call from ``caller`` to OUR_NUMBER."""
    params = {
        "CallSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": caller,
        "To": OUR_NUMBER,
        "CallStatus": status,
        "ApiVersion": "2010-04-01",
        "Direction": "inbound",
        "CallbackSource": "call-progress-events",
        "SequenceNumber": str(sequence),
        "Timestamp": f"Mon, 23 Nov 2026 09:00:{10 + sequence:02d} +0000",
        "Called": OUR_NUMBER,
        "Caller": caller,
    }
    if duration is not None:
        params["CallDuration"] = str(duration)
        params["Duration"] = str((duration + 59) // 60)
    return params


# --- Meta -----------------------------------------------------------------------------------


def meta_signed(payload: dict[str, Any], secret: str = META_APP_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def messaging_event(
    mid: str, user_id: str, page_id: str, *, text: str | None = "Olá", echo: bool = False, **message: Any
) -> dict[str, Any]:
    """One ``messaging[]`` event of the Messenger Platform (also Instagram's format)."""
    body: dict[str, Any] = {"mid": mid, **message}
    if text is not None:
        body["text"] = text
    if echo:
        body |= {"is_echo": True, "app_id": 1517776481860111, "metadata": "agent-reply"}
    sender, recipient = (page_id, user_id) if echo else (user_id, page_id)
    return {
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "timestamp": 1763888400000,
        "message": body,
    }


def page_payload(obj: str, page_id: str, *events: dict[str, Any]) -> dict[str, Any]:
    return {"object": obj, "entry": [{"id": page_id, "time": 1763888400123, "messaging": list(events)}]}


def whatsapp_value(*, contacts: list[dict[str, Any]] | None = None, **lists: list[dict[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": WA_BUSINESS, "phone_number_id": "106540352242922"},
    }
    if contacts is not None:
        value["contacts"] = contacts
    return value | lists


def whatsapp_payload(*values: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": v, "field": "messages"} for v in values]}],
    }


def wa_text(wamid: str, wa_id: str, body: str, *, timestamp: int = 1763888400) -> dict[str, Any]:
    return {"from": wa_id, "id": wamid, "timestamp": str(timestamp), "type": "text", "text": {"body": body}}


def wa_contact(
    wa_id: str | None, name: str, *, user_id: str | None = None, username: str | None = None
) -> dict[str, Any]:
    """A ``contacts[]`` entry: ``wa_id`` (absent for a user who hides their number), the business-scoped
    ``user_id`` and the profile's ``username`` as Meta's business-scoped user id guide documents them."""
    profile: dict[str, Any] = {"name": name}
    if username is not None:
        profile["username"] = username
    entry: dict[str, Any] = {"profile": profile}
    if wa_id is not None:
        entry["wa_id"] = wa_id
    if user_id is not None:
        entry["user_id"] = user_id
    return entry


def wa_message(
    wamid: str, wa_id: str | None, kind: str, *, user_id: str | None = None, timestamp: int = 1763888400, **body: Any
) -> dict[str, Any]:
    """A ``messages[]`` entry of any ``type``: ``from`` (the phone, when shared), ``from_user_id`` (the BSUID)."""
    message: dict[str, Any] = {"id": wamid, "timestamp": str(timestamp), "type": kind, **body}
    if wa_id is not None:
        message["from"] = wa_id
    if user_id is not None:
        message["from_user_id"] = user_id
    return message


def wa_reaction(
    wamid: str, wa_id: str, target: str, emoji: str | None, *, timestamp: int = 1763888400
) -> dict[str, Any]:
    """A ``reaction`` message: ``reaction.message_id`` names the message, no ``emoji`` means removed."""
    reaction: dict[str, Any] = {"message_id": target}
    if emoji is not None:
        reaction["emoji"] = emoji
    return wa_message(wamid, wa_id, "reaction", reaction=reaction, timestamp=timestamp)


def wa_number_change(wamid: str, old: str, new: str, name: str = "Ana Silva") -> dict[str, Any]:
    """The system message of Meta's reference: ``from`` the old number, ``system.wa_id`` the new one."""
    return wa_message(
        wamid,
        old,
        "system",
        system={"body": f"User {name} changed from {old} to {new}", "wa_id": new, "type": "user_changed_number"},
    )


def wa_status(wamid: str, status: str, wa_id: str, *, timestamp: int = 1763888460) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(timestamp), "recipient_id": wa_id}
    if status == "failed":
        entry["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
    else:
        entry["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
        if status == "sent":
            entry["conversation"] = {
                "id": "CONVERSATION_ID",
                "expiration_timestamp": "1763974860",
                "origin": {"type": "service"},
            }
    return entry


# --- X --------------------------------------------------------------------------------------


def x_signed(payload: dict[str, Any], secret: str = X_CONSUMER_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return body, {"Content-Type": "application/json", "x-twitter-webhooks-signature": f"sha256={digest}"}


def x_user(user_id: str, screen_name: str, name: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "created_timestamp": "1422556069340",
        "name": name,
        "screen_name": screen_name,
        "protected": False,
        "verified": False,
        "followers_count": 22,
        "friends_count": 45,
        "statuses_count": 494,
        "profile_image_url": "http://pbs.twimg.com/profile_images/default_normal.png",
        "profile_image_url_https": "https://pbs.twimg.com/profile_images/default_normal.png",
    }


def x_dm(event_id: str, sender_id: str, recipient_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": "1763888400557",
        "message_create": {
            "target": {"recipient_id": recipient_id},
            "sender_id": sender_id,
            "message_data": {
                "text": text,
                "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
            },
        },
    }


def x_payload(*events: dict[str, Any], users: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"for_user_id": X_ACCOUNT_ID, "direct_message_events": list(events), "users": users}


def meta_connector() -> MetaConnector:
    """The Meta connector as the test stack configures it (tests/channel_env.py)."""
    settings = MetaSettings(app_secret=SecretStr(META_APP_SECRET), verify_token=SecretStr(META_VERIFY_TOKEN))
    return MetaConnector(settings, default_region="PT")
