"""Short-lived signed URLs for attachment content: ``/media/<token>``.

The page asks the API for an attachment (authenticated, audited) and gets URLs it can put in an
``<img>``, ``<audio>`` or a download link, which cannot carry a bearer token. A token names the
stored file, how to serve it and until when, signed with a key derived from the deployment's
secret for this purpose only (``console/signing.py``: never from the API tokens, never the session
cookie's key), so a URL one console process issued is served by every other and after a restart,
and changing the secret ends every URL. Anyone holding one can fetch that one file until it expires
(``OMNITRAIL_MEDIA_URL_TTL_S``), nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Literal

import orjson

from console import signing

Variant = Literal["original", "thumbnail"]


@dataclass(frozen=True)
class Grant:
    sha256: str
    variant: Variant
    content_type: str
    name: str
    expires_at: int


class MediaUrls:
    def __init__(self, secret: bytes, *, ttl_s: int) -> None:
        self._key = signing.derive(secret, signing.MEDIA_URL)
        self.ttl_s = ttl_s

    def url(self, sha256: str, variant: Variant, content_type: str, name: str, *, now: float | None = None) -> str:
        expires_at = int((now or time.time()) + self.ttl_s)
        body = base64.urlsafe_b64encode(orjson.dumps([sha256, variant, content_type, name, expires_at])).rstrip(b"=")
        return f"/media/{body.decode()}.{self._mac(body)}"

    def read(self, token: str, *, now: float | None = None) -> Grant | None:
        body, _, mac = token.rpartition(".")
        if not body or not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            sha256, variant, content_type, name, expires_at = orjson.loads(
                base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            )
        except (ValueError, TypeError):
            return None
        if (
            not isinstance(expires_at, int)
            or expires_at < (now or time.time())
            or variant not in ("original", "thumbnail")
        ):
            return None
        return Grant(str(sha256), variant, str(content_type), str(name), expires_at)

    def _mac(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()
