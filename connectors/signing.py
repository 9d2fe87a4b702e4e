"""HMAC signatures providers put on webhooks, checked in constant time: the one place for them.

Meta signs the raw body with HMAC-SHA256 as ``sha256=<hex>`` (``X-Hub-Signature-256``); X
(Account Activity API) as ``sha256=<base64>`` (``x-twitter-webhooks-signature``) and answers
its CRC challenge the same way; live chat, events and Chatwoot add a timestamp
(:mod:`connectors.timestamped_signature`, built on these helpers).
Each verifier raises :class:`InvalidSignature` before anything of the body is parsed. Twilio's
HMAC over URL + parameters (SHA-1 with the Auth Token, or a SharedKey's secret and hash) is
:mod:`connectors.twilio.signature` (one HMAC, the ``twilio`` package's validator when that does not match).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from schemas.errors import InvalidSignature


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def hmac_sha256(secret: str | bytes, message: str | bytes) -> bytes:
    return hmac.new(_bytes(secret), _bytes(message), hashlib.sha256).digest()


def equal(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time comparison, so a forger learns nothing from how long a refusal took."""
    return hmac.compare_digest(_bytes(a), _bytes(b))


def sha256_hex(secret: str | bytes, message: str | bytes, *, prefix: str = "sha256=") -> str:
    return prefix + hmac_sha256(secret, message).hex()


def sha256_base64(secret: str | bytes, message: str | bytes, *, prefix: str = "sha256=") -> str:
    return prefix + base64.b64encode(hmac_sha256(secret, message)).decode()


def require(header_name: str, received: str | None, expected: str) -> None:
    """Raise InvalidSignature unless ``received`` (the header's value) equals ``expected``."""
    if not received:
        raise InvalidSignature(f"missing {header_name}")
    if not equal(received.strip(), expected):
        raise InvalidSignature(f"{header_name} does not match")
