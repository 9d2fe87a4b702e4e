"""How outgoing webhooks are signed, and how a receiver verifies them.

Every request carries::

    Omnitrail-Event-Id:   <event_id of the timeline event>
    Omnitrail-Event-Type: <interaction.added | contact.merged | ...>
    Omnitrail-Timestamp:  <Unix time in seconds when this attempt was signed>
    Omnitrail-Signature:  v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

The body is the timeline event exactly as it is on ``omnitrail.timeline.v1`` (JSON, see
``schemas/json/timeline_event.v1.json``). A receiver recomputes the HMAC over the raw bytes
it received, compares in constant time, and refuses a timestamp further than its tolerance
(5 minutes here) from its clock, which stops replays of captured requests. Each retry is
signed anew with a fresh timestamp. The ``v1=`` scheme tag leaves room for a future scheme;
receivers ignore tags they do not know.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE = "Omnitrail-Signature"
TIMESTAMP = "Omnitrail-Timestamp"
EVENT_ID = "Omnitrail-Event-Id"
EVENT_TYPE = "Omnitrail-Event-Type"
SCHEME = "v1"
TOLERANCE_S = 300


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body`` keyed with the subscriber's secret."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def headers(secret: str, timestamp: int, body: bytes, *, event_id: str, event_type: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        EVENT_ID: event_id,
        EVENT_TYPE: event_type,
        TIMESTAMP: str(timestamp),
        SIGNATURE: f"{SCHEME}={compute(secret, timestamp, body)}",
    }


def verify(
    secret: str, received: Mapping[str, str], body: bytes, *, now: float, tolerance_s: int = TOLERANCE_S
) -> bool:
    """What a receiver does: signature over the raw body, and a timestamp within tolerance."""
    lowered = {k.lower(): v for k, v in received.items()}
    try:
        timestamp = int(lowered.get(TIMESTAMP.lower(), ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = compute(secret, timestamp, body)
    for part in lowered.get(SIGNATURE.lower(), "").split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == SCHEME and hmac.compare_digest(value.encode(), expected.encode()):  # bytes: any text compares
            return True
    return False
