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

import time
from dataclasses import dataclass
from typing import Literal

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
        self._seal = signing.Seal(secret, signing.MEDIA_URL)
        self.ttl_s = ttl_s

    def url(self, sha256: str, variant: Variant, content_type: str, name: str, *, now: float | None = None) -> str:
        expires_at = int((now or time.time()) + self.ttl_s)
        return "/media/" + self._seal.seal([sha256, variant, content_type, name, expires_at])

    def read(self, token: str, *, now: float | None = None) -> Grant | None:
        values = self._seal.open(token)
        if values is None or len(values) != 5:
            return None
        sha256, variant, content_type, name, expires_at = values
        if (
            not isinstance(expires_at, int)
            or expires_at < (now or time.time())
            or variant not in ("original", "thumbnail")
        ):
            return None
        return Grant(str(sha256), variant, str(content_type), str(name), expires_at)
