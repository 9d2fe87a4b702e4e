"""The console's signing secret and the keys derived from it, one per purpose.

One secret per deployment: ``OMNITRAIL_CONSOLE_SESSION_SECRET``, or when that is unset 32 random bytes
generated once and kept in PostgreSQL (``sinks/session_store.shared_secret``), so every console process
signs and accepts the same things, across restarts. Nothing is ever keyed with the secret itself nor with
the API tokens: each purpose (session cookies and their CSRF tokens, media URLs) gets its own key,
``HMAC-SHA256(key=purpose label, message=secret)``, so a signature made for one purpose never verifies as
another (a session cookie's MAC is no media URL's).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any, Literal

import orjson

from sinks import session_store
from sinks.connection import ConnectionFactory

#: Purpose labels; changing one invalidates everything signed for that purpose (and nothing else).
Purpose = Literal["omnitrail-console-session-v2", "omnitrail-media-url-v2"]
SESSION: Purpose = "omnitrail-console-session-v2"
MEDIA_URL: Purpose = "omnitrail-media-url-v2"
MIN_SECRET_BYTES = 32


def derive(secret: bytes, purpose: Purpose) -> bytes:
    """The key for one purpose: never the secret itself, never another purpose's key."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"a signing secret has at least {MIN_SECRET_BYTES} bytes")
    return hmac.new(purpose.encode(), secret, hashlib.sha256).digest()


class Seal:
    """Values signed for one purpose into one URL-safe token, ``base64url(JSON).hex(HMAC-SHA256)``, and read back.

    The session cookie and the media URL are both such tokens; what each holds and when it expires is theirs.
    """

    def __init__(self, secret: bytes, purpose: Purpose) -> None:
        self.key = derive(secret, purpose)

    def seal(self, values: list[Any]) -> str:
        body = base64.urlsafe_b64encode(orjson.dumps(values)).rstrip(b"=")
        return f"{body.decode()}.{self.mac(body)}"

    def open(self, token: str | None) -> list[Any] | None:
        """The values, or None unless this purpose's key signed them (a token cut, altered or of another key)."""
        body, _, mac = (token or "").rpartition(".")
        # Every token we seal is ASCII; compare_digest refuses to compare other text (a 500 on 'a.é').
        if not body or not token or not token.isascii() or not hmac.compare_digest(mac, self.mac(body.encode())):
            return None
        try:
            values = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, binascii.Error):
            return None
        return values if isinstance(values, list) else None

    def mac(self, data: bytes) -> str:
        return hmac.new(self.key, data, hashlib.sha256).hexdigest()


class DeploymentSecret:
    """The secret every console process of the deployment shares: the configured one, else the stored one,
    read on first use (a console that starts while the database is down still starts)."""

    def __init__(self, configured: bytes | None, connection: ConnectionFactory) -> None:
        self._secret = configured
        self._connection = connection

    async def get(self) -> bytes:
        if self._secret is None:
            async with self._connection() as conn:
                self._secret = await session_store.shared_secret(conn)
        return self._secret
