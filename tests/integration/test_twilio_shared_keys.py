"""Twilio webhooks signed with a SharedKey, through ``omnitrail up``'s HTTP port, the real broker, the worker and
PostgreSQL: what Twilio sends once a Webhook Rule matches our URL, during a key rotation, and what a forger sends.

The session's stack is configured with two shared keys (tests/channel_env.py), as an operator rotating keys is.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import fresh
from tests.channel_payloads import call_status, message_status
from tests.helpers import (
    AUTH_TOKEN,
    NEW_KEY_ID,
    OLD_KEY_ID,
    inbound_sms,
    shared_key_signed,
    signed,
)
from tests.integration.stack import AGENT, eventually

pytestmark = pytest.mark.integration
MESSAGES = "/webhooks/twilio/messages"
SETTINGS = "X-Twilio-Webhooks-Signature-Settings"


def a_sid(prefix: str = "SM") -> str:
    return f"{prefix}{uuid.uuid4().hex}"


async def post(stack: Any, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        return await http.post(path, content=body, headers=headers)


async def timeline(stack: Any, phone: str) -> list[dict[str, Any]] | None:
    """The customer's timeline as an agent sees it in the console API (None: no such contact yet)."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=15, headers=AGENT) as http:
        found = await http.get("/api/v1/contacts", params={"q": phone})
        assert found.status_code == 200, found.text
        if not found.json()["items"]:
            return None
        [contact] = found.json()["items"]
        response = await http.get(f"/api/v1/contacts/{contact['contact_id']}/timeline", params={"order": "asc"})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def entries(stack: Any, phone: str, count: int) -> list[dict[str, Any]]:
    """``phone``'s timeline once it has ``count`` entries."""

    async def at_least() -> list[dict[str, Any]] | None:
        items = await timeline(stack, phone)
        return items if items and len(items) >= count else None

    return await eventually(at_least, what=f"{count} entries on the timeline")


async def test_an_sms_signed_with_a_shared_key_and_hmac_sha256_is_stored(webhook_stack: Any) -> None:
    phone = fresh.phone()
    params = inbound_sms(a_sid(), phone, "Olá, a encomenda chegou partida")
    response = await post(webhook_stack, MESSAGES, *shared_key_signed(webhook_stack.url + MESSAGES, params))
    assert response.status_code == 200, response.text
    [message] = await entries(webhook_stack, phone, 1)
    assert (message["kind"], message["text"]) == ("message", "Olá, a encomenda chegou partida")


async def test_during_a_rotation_both_keys_are_accepted_on_every_route(webhook_stack: Any) -> None:
    # Twilio picks between the Rule's two Settings, old key and new; each request names its key.
    phone, call = fresh.phone(), a_sid("CA")
    sent = [
        (MESSAGES, inbound_sms(a_sid(), phone, "com a chave antiga"), OLD_KEY_ID, "HMAC_SHA1"),
        (MESSAGES, inbound_sms(a_sid(), phone, "com a chave nova"), NEW_KEY_ID, "HMAC_SHA256"),
        (
            "/webhooks/twilio/voice",
            call_status(call, "completed", phone, sequence=1, duration=42),
            OLD_KEY_ID,
            "HMAC_SHA256",
        ),
    ]
    for path, params, key_id, algorithm in sent:
        response = await post(
            webhook_stack, path, *shared_key_signed(webhook_stack.url + path, params, key_id, algorithm)
        )
        assert response.status_code == 200, (path, key_id, response.text)
    # Status callbacks too (for a message of ours the stack has not seen: answered, kept until it lands).
    status = message_status(a_sid(), "delivered", phone)
    path = "/webhooks/twilio/status"
    response = await post(webhook_stack, path, *shared_key_signed(webhook_stack.url + path, status, NEW_KEY_ID))
    assert response.status_code == 200, response.text
    stored = await entries(webhook_stack, phone, 3)
    assert sorted(str(item.get("text")) for item in stored if item["kind"] == "message") == [
        "com a chave antiga",
        "com a chave nova",
    ]
    assert [item["kind"] for item in stored].count("call") == 1


async def test_an_unknown_key_a_wrong_secret_or_a_downgraded_header_is_refused_and_nothing_is_stored(
    webhook_stack: Any,
) -> None:
    phone = fresh.phone()
    url = webhook_stack.url + MESSAGES
    unknown_key = f"webhooks_sharedkey_01JUNKNOWN{uuid.uuid4().hex[:8].upper()}"

    def auth_token_signed(params: dict[str, str], header: str) -> tuple[bytes, dict[str, str]]:
        """Signed as Twilio signs with the Auth Token (valid without the header), the header added."""
        body, headers = signed(url, params)
        return body, headers | {SETTINGS: header}

    # A key not configured here (made at Twilio before it was configured, or rotated out): 503, so Twilio
    # retries once it is configured, never checked with another key.
    body, headers = auth_token_signed(
        inbound_sms(a_sid(), phone, "forged 1"), f"key={unknown_key},algorithm=HMAC_SHA256"
    )
    response = await post(webhook_stack, MESSAGES, body, headers)
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "signing_key"
    assert response.headers["retry-after"] == "60"
    forged = {
        # A configured key named, signed with some other secret.
        "wrong secret": shared_key_signed(url, inbound_sms(a_sid(), phone, "forged 2"), secret="a-guessed-secret"),
        # Downgraded: the header rewritten to SHA-1 over an Auth Token signature; never checked with the token.
        "downgraded header": auth_token_signed(
            inbound_sms(a_sid(), phone, "forged 3"), f"key={NEW_KEY_ID},algorithm=HMAC_SHA1"
        ),
        "unsupported algorithm": auth_token_signed(
            inbound_sms(a_sid(), phone, "forged 4"), f"key={NEW_KEY_ID},algorithm=NONE"
        ),
        "malformed header": auth_token_signed(inbound_sms(a_sid(), phone, "forged 5"), "HMAC_SHA256"),
    }
    for case, (body, headers) in forged.items():
        response = await post(webhook_stack, MESSAGES, body, headers)
        assert response.status_code == 403, (case, response.text)
        assert response.json()["error"] == "signature", case
    # The refusal is logged with its reason: the key id, no secret, no message content.
    log = Path(webhook_stack.log_path)
    line = await eventually(
        lambda: asyncio.to_thread(_log_line, log, unknown_key), what="the refusal of the unknown key in the log"
    )
    assert "webhook.signing_key_unknown" in line
    assert "not configured" in line
    assert not any(leak in line for leak in (AUTH_TOKEN, "forged", phone))
    # The genuine message from the same customer, after the forgeries (same partition, processed in order):
    # once it is on the timeline, anything of theirs stored would be there too.
    genuine = inbound_sms(a_sid(), phone, "a verdadeira")
    response = await post(webhook_stack, MESSAGES, *shared_key_signed(url, genuine))
    assert response.status_code == 200, response.text
    assert [item["text"] for item in await entries(webhook_stack, phone, 1)] == ["a verdadeira"]


def _log_line(log: Path, needle: str) -> str | None:
    return next((line for line in log.read_text(errors="replace").splitlines() if needle in line), None)
