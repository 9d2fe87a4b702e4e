"""Payload builders for the live-chat, Chatwoot and events routes, shared by unit and integration tests.

The live-chat events follow docs/livechat.md; the Chatwoot payload follows Chatwoot's documented
``message_created`` sample (chatwoot/docs, "Webhook Events") field for field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

from connectors.livechat.chatwoot import CHATWOOT_SCHEME
from connectors.timestamped_signature import TimestampedSignature

LIVECHAT_SECRET = "test-livechat-secret-0123456789"
CHATWOOT_SECRET = "test-chatwoot-secret-0123456789"
EVENTS_SECRET = "test-events-secret-0123456789"
#: ``OMNITRAIL_LIVECHAT_IDENTITY_SECRET``: what the site signs a signed-in visitor's email with.
IDENTITY_SECRET = "test-livechat-identity-secret-0123456789"


def vouched(visitor: dict[str, Any], secret: str = IDENTITY_SECRET) -> dict[str, Any]:
    """The visitor with the identity hash the site's server computes for their email (docs/livechat.md)."""
    digest = hmac.new(secret.encode(), visitor["email"].encode(), hashlib.sha256).hexdigest()
    return {**visitor, "identity_hash": digest}


def chat_event(
    event_id: str,
    type_: str,
    session_id: str,
    visitor: dict[str, Any],
    *,
    occurred_at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": type_,
        "session_id": session_id,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "visitor": visitor,
        **extra,
    }


def omnitrail_signed(body: Any, secret: str) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = TimestampedSignature(secret).sign(raw, int(time.time()))
    return raw, {"Content-Type": "application/json", **headers}


def chatwoot_signed(payload: dict[str, Any], secret: str = CHATWOOT_SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(payload).encode()
    headers = TimestampedSignature(secret, CHATWOOT_SCHEME).sign(raw, int(time.time()))
    return raw, {"Content-Type": "application/json", **headers}


def chatwoot_message(
    message_id: int,
    *,
    conversation_id: int = 10,
    message_type: str = "incoming",
    content: str = "hi",
    contact: dict[str, Any] | None = None,
    private: bool = False,
) -> dict[str, Any]:
    """Chatwoot's documented ``message_created`` sample, with the ids and contact under test."""
    contact = contact or {"id": 14, "name": "little-haze-776", "email": None, "phone_number": None}
    agent = {"id": 1, "name": "John", "avatar": "", "type": "user"}
    visitor = {"id": contact["id"], "name": contact["name"], "avatar": "", "type": "contact"}
    return {
        "id": message_id,
        "content": content,
        "created_at": "2021-07-23T18:02:48.000Z",
        "message_type": message_type,
        "content_type": "text",
        "private": private,
        "content_attributes": {},
        "source_id": None,
        "sender": visitor if message_type == "incoming" else agent,
        "inbox": {"id": 1, "name": "Acme Support"},
        "conversation": {
            "additional_attributes": {
                "browser": {
                    "device_name": "Unknown",
                    "browser_name": "Chrome",
                    "platform_name": "macOS",
                    "browser_version": "92.0.4515.107",
                    "platform_version": "10.15.7",
                },
                "referer": "http://localhost:3000/widget_tests",
                "initiated_at": {"timestamp": "Fri Jul 23 2021 23:32:48 GMT+0530 (India Standard Time)"},
            },
            "can_reply": True,
            "channel": "Channel::WebWidget",
            "id": conversation_id,
            "inbox_id": 1,
            "contact_inbox": {
                "id": 12,
                "contact_id": contact["id"],
                "inbox_id": 1,
                "source_id": "405f1d30-1af3-4fa0-8ffd-11ea3f86101e",
                "created_at": "2021-07-23T18:01:48.739Z",
                "updated_at": "2021-07-23T18:01:48.739Z",
                "hmac_verified": False,
            },
            "messages": [],
            "meta": {
                "sender": {
                    "additional_attributes": {},
                    "custom_attributes": {},
                    "identifier": None,
                    "pubsub_token": "baRUMaAnAB6geeGXUXBsJwDS",
                    "thumbnail": "",
                    "type": "contact",
                    **contact,
                },
                "assignee": {
                    "id": 1,
                    "name": "John",
                    "available_name": "John",
                    "avatar_url": "",
                    "type": "user",
                    "availability_status": "online",
                },
            },
            "status": "open",
            "unread_count": 1,
            "agent_last_seen_at": 0,
            "contact_last_seen_at": 0,
            "timestamp": 1627063369,
        },
        "account": {"id": 1, "name": "Acme Inc"},
        "event": "message_created",
    }


def v1_interaction(external_id: str, email: str, *, text: str = "Quote Q-1 sent", **extra: Any) -> dict[str, Any]:
    """A v1 interaction as another system (an ERP) would post it: no interaction_id, no received_at."""
    return {
        "channel": "other",
        "provider": "events",
        "account": "erp",
        "direction": "outbound",
        "occurred_at": "2026-01-05T10:00:00+00:00",
        "external_id": external_id,
        "sender": {"display_name": "Sales"},
        "recipients": [{"display_name": "Ana", "identifiers": [{"kind": "email", "value": email}]}],
        "text": text,
        **extra,
    }
