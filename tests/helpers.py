"""Shared test helpers: Twilio request signing exactly as Twilio does it, forged console signatures, corpus
builders."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import urlencode

from connectors.webhook import RawRequest
from schemas.interaction import Channel, Interaction
from tests.interactions import interaction

AUTH_TOKEN = "test-auth-token-0123456789"
#: Twilio SharedKeys the test stack is configured with (OMNITRAIL_TWILIO_SHARED_KEYS): two, as during a rotation.
OLD_KEY_ID = "webhooks_sharedkey_01JOLDOLDOLDOLDOLDOLDOLDOLD"
NEW_KEY_ID = "webhooks_sharedkey_01JNEWNEWNEWNEWNEWNEWNEWNEW"
SHARED_KEYS = {OLD_KEY_ID: "test-shared-key-old-secret-0123", NEW_KEY_ID: "test-shared-key-new-secret-4567"}
_HASHES = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}


def twilio_signature(url: str, params: dict[str, str], token: str = AUTH_TOKEN, algorithm: str = "HMAC_SHA1") -> str:
    """Twilio's documented algorithm: HMAC-SHA1 (or, with a SharedKey, the Setting's algorithm) over URL + each
    sorted key and value, base64."""
    payload = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), _HASHES[algorithm]).digest()).decode()


def resigned(signed_value: str, key: bytes) -> str:
    """A console cookie or media token (``body.mac``) with its body signed under another key: what a forger
    holding that key would send."""
    body = signed_value.rpartition(".")[0]
    return f"{body}.{hmac.new(key, body.encode(), hashlib.sha256).hexdigest()}"


def inbound_sms(
    sid: str, phone: str, body: str = "Olá, preciso de ajuda com a encomenda", **extra: str
) -> dict[str, str]:
    """The parameters Twilio documents for an incoming message webhook."""
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "MessagingServiceSid": "MG" + "1" * 32,
        "From": phone,
        "To": "+351210000000",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCountry": "PT",
        "ToCountry": "PT",
        "ApiVersion": "2010-04-01",
        "SmsStatus": "received",
        **extra,
    }


def signed(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> tuple[bytes, dict[str, str]]:
    return urlencode(params).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(url, params, token),
    }


def shared_key_signed(
    url: str,
    params: dict[str, str],
    key_id: str = NEW_KEY_ID,
    algorithm: str = "HMAC_SHA256",
    *,
    secret: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A webhook as Twilio sends it when a Webhook Rule signs it with SharedKey ``key_id`` (its configured secret
    unless ``secret`` is given) and ``algorithm``."""
    signature = twilio_signature(url, params, secret or SHARED_KEYS[key_id], algorithm)
    return urlencode(params).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
        "X-Twilio-Webhooks-Signature-Settings": f"key={key_id},algorithm={algorithm}",
    }


def sms_interaction(n: int, phone: str, text: str = "hello") -> Interaction:
    return interaction(Channel.sms, phone, external_id=f"SMT{n:010d}", text=text)


def raw_request(url: str, body: bytes, headers: dict[str, str]) -> RawRequest:
    """A webhook request as the connectors see it: lower-case header names, received now."""
    return RawRequest(
        body=body,
        headers={k.lower(): v for k, v in headers.items()},
        public_url=url,
        received_at=datetime.now(UTC),
        content_type=headers.get("Content-Type"),
    )
