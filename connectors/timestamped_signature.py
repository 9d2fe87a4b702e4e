"""Slack-style timestamped HMAC signatures, written once for every route that uses them.

The sender signs ``timestamp`` + the raw body with a shared secret and sends both in headers;
the receiver recomputes the HMAC-SHA256 over the exact bytes, compares in constant time, and
refuses timestamps outside a window (5 minutes either way) so a captured request cannot be
replayed later. Omnitrail's own live-chat and events routes use ``v1:{timestamp}:{body}`` with
``v1=<hex>``; Chatwoot uses ``{timestamp}.{body}`` with ``sha256=<hex>``: both are one
:class:`TimestampedSignature` with a different :class:`SignatureScheme`.

Everything here runs on the raw bytes before anything is parsed (:mod:`connectors.webhook`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors import signing
from connectors.webhook import RawRequest
from schemas.errors import InvalidSignature

#: How far a timestamp may be from our clock, in either direction (clock skew, retries in flight).
REPLAY_WINDOW_S = 300
#: Unix seconds fit in 11 digits until the year 5138; a longer "timestamp" is refused before int() sees it.
_MAX_TIMESTAMP_DIGITS = 12


@dataclass(frozen=True)
class SignatureScheme:
    """Where a provider puts the timestamp and signature, and what exactly it signs."""

    timestamp_header: str
    signature_header: str
    #: What precedes the hex digest in the signature header (``v1=``, ``sha256=``).
    prefix: str
    #: The signed message: ``template.format(timestamp=...)`` followed by the raw body.
    template: str

    def message(self, timestamp: str, body: bytes) -> bytes:
        return self.template.format(timestamp=timestamp).encode() + body


#: Omnitrail's own scheme (live chat widgets, other systems): ``v1=hex(HMAC(secret, "v1:{ts}:{body}"))``.
OMNITRAIL_V1 = SignatureScheme(
    timestamp_header="X-Omnitrail-Timestamp",
    signature_header="X-Omnitrail-Signature",
    prefix="v1=",
    template="v1:{timestamp}:",
)


class TimestampedSignature:
    """Verifies (and, for senders and tests, produces) one scheme's signature with one secret."""

    def __init__(
        self,
        secret: str,
        scheme: SignatureScheme = OMNITRAIL_V1,
        *,
        window_s: int = REPLAY_WINDOW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = secret.encode()
        self.scheme = scheme
        self.window_s = window_s
        self._clock = clock

    def sign(self, body: bytes, timestamp: int | str) -> dict[str, str]:
        """The headers a sender attaches to ``body`` sent at ``timestamp`` (Unix seconds)."""
        ts = str(timestamp)
        signature = signing.sha256_hex(self._key, self.scheme.message(ts, body), prefix=self.scheme.prefix)
        return {self.scheme.timestamp_header: ts, self.scheme.signature_header: signature}

    def verify(self, raw: RawRequest) -> None:
        """Raise InvalidSignature unless the headers prove ``raw.body`` was signed with our secret, recently."""
        ts = raw.headers.get(self.scheme.timestamp_header.lower(), "").strip()
        given = raw.headers.get(self.scheme.signature_header.lower(), "").strip()
        if not ts or not given:
            raise InvalidSignature(f"missing {self.scheme.timestamp_header} or {self.scheme.signature_header}")
        if not ts.isascii() or not ts.isdigit() or len(ts) > _MAX_TIMESTAMP_DIGITS:
            raise InvalidSignature(f"{self.scheme.timestamp_header} is not Unix seconds")
        if abs(int(self._clock()) - int(ts)) > self.window_s:
            # Checked before the HMAC, but harmless: the timestamp alone proves nothing.
            raise InvalidSignature(f"{self.scheme.timestamp_header} is outside the {self.window_s}s window")
        expected = self.sign(raw.body, ts)[self.scheme.signature_header]
        signing.require(self.scheme.signature_header, given, expected)
