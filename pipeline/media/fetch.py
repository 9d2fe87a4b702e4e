"""One attachment's bytes from a provider: allow-listed hosts only, streamed to disk under a size cap.

Every hop is checked: the first URL and each redirect's target must be an allowed host (and HTTPS
unless plain HTTP is allowed), so a payload cannot make us fetch an arbitrary URL, and a redirect
cannot take us elsewhere. Credentials go only to the host they were given for: a redirect to
another host (Twilio's media URL to its CDN) drops them. The body goes to a temporary file while
it is hashed and counted; memory holds one chunk whatever the file's size.

Errors say which kind they are: :class:`Unavailable` (try again later: connection errors, 429 and
5xx) or :class:`Refused` (never going to work: 4xx, over the cap, not allowed); their messages name
the cause, never a URL (they carry credentials and ids) nor the content.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import filetype
import httpx
import orjson

#: Redirects followed before giving up (Twilio uses one).
MAX_REDIRECTS = 5
#: Bytes the type is sniffed from.
SNIFF_BYTES = 8192
#: What a body is read in.
CHUNK = 64 * 1024
#: A media lookup's answer is a few hundred bytes.
JSON_MAX_BYTES = 64 * 1024


class Refused(Exception):
    """The provider or our rules refuse this file for good: recorded on the attachment, dead-lettered."""


class Unavailable(Exception):
    """The provider could not answer now: tried again with backoff."""


@dataclass(frozen=True)
class Request:
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Basic auth (user, password), sent like ``headers`` only to ``url``'s own host.
    auth: tuple[str, str] | None = None


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha256: str
    size: int
    content_type: str

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class AllowList:
    def __init__(self, hosts: tuple[str, ...], *, allow_http: bool = False) -> None:
        self.hosts = hosts
        self.allow_http = allow_http

    def check(self, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" and not (self.allow_http and parts.scheme == "http"):
            raise Refused(f"not fetched: scheme {parts.scheme or 'none'} is not allowed")
        if parts.username or parts.password:
            raise Refused("not fetched: credentials in the URL")
        if not any(host == h or (h.startswith(".") and host.endswith(h)) for h in self.hosts):
            raise Refused("not fetched: the host is not an allowed media host")


class Fetcher:
    def __init__(self, client: httpx.AsyncClient, allowed: AllowList, *, max_bytes: int, spool_dir: Path) -> None:
        self.client = client
        self.allowed = allowed
        self.max_bytes = max_bytes
        self.spool_dir = spool_dir
        spool_dir.mkdir(parents=True, exist_ok=True)

    async def json(self, request: Request) -> object:
        """A provider's small JSON answer (Graph API media lookup, Telegram getFile)."""
        body = b""
        async with self._open(request) as response:
            async for chunk in response.aiter_bytes(CHUNK):
                body += chunk
                if len(body) > JSON_MAX_BYTES:
                    raise Refused("the provider's answer is too large")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Refused("the provider's answer is not JSON") from None

    async def file(self, request: Request) -> Fetched:
        """The file, on disk in the spool folder (the caller discards it), hashed and sniffed."""
        digest = hashlib.sha256()
        size = 0
        head = b""
        handle, name = tempfile.mkstemp(dir=self.spool_dir, prefix="fetch-")
        path = Path(name)
        try:
            # Writes of one chunk to the page cache: microseconds, not worth a thread hop each.
            with open(handle, "wb") as out:  # noqa: ASYNC230
                async with self._open(request) as response:
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > self.max_bytes:
                        raise Refused(f"over the size cap: {declared} bytes declared, cap {self.max_bytes}")
                    async for chunk in response.aiter_bytes(CHUNK):
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise Refused(f"over the size cap of {self.max_bytes} bytes")
                        if len(head) < SNIFF_BYTES:
                            head += chunk[: SNIFF_BYTES - len(head)]
                        digest.update(chunk)
                        out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)  # noqa: ASYNC240  # one unlink of a spool file
            raise
        return Fetched(path, digest.hexdigest(), size, sniff(head))

    def _open(self, request: Request) -> _Opened:
        return _Opened(self, request)


def sniff(head: bytes) -> str:
    """The type the bytes are (magic numbers), whatever anyone claimed; unknown bytes are octet-stream."""
    kind = filetype.guess(head)
    return str(kind.mime) if kind is not None else "application/octet-stream"


class _Opened:
    """``async with``: the final response after allowed redirects, its status checked."""

    def __init__(self, fetcher: Fetcher, request: Request) -> None:
        self.fetcher = fetcher
        self.request = request
        self.response: httpx.Response | None = None

    async def __aenter__(self) -> httpx.Response:
        url = self.request.url
        origin = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            self.fetcher.allowed.check(url)
            own = urlsplit(url).netloc == origin
            request = self.fetcher.client.build_request(
                "GET", url, headers=dict(self.request.headers) if own else {}, extensions={}
            )
            if own and self.request.auth is not None:
                request.headers["Authorization"] = httpx.BasicAuth(*self.request.auth)._auth_header
            try:
                response = await self.fetcher.client.send(request, stream=True, follow_redirects=False)
            except httpx.HTTPError as exc:
                raise Unavailable(f"provider unreachable: {type(exc).__name__}") from None
            if response.is_redirect and "location" in response.headers:
                await response.aclose()
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code == 429 or response.status_code >= 500:
                await response.aclose()
                raise Unavailable(f"provider answered HTTP {response.status_code}")
            if response.status_code >= 400:
                await response.aclose()
                raise Refused(f"provider answered HTTP {response.status_code}{_meaning(response.status_code)}")
            if response.status_code != 200:
                await response.aclose()
                raise Refused(f"provider answered HTTP {response.status_code}")
            self.response = response
            return response
        raise Refused(f"more than {MAX_REDIRECTS} redirects")

    async def __aexit__(self, *exc: object) -> None:
        if self.response is not None:
            await self.response.aclose()


def _meaning(status: int) -> str:
    return {
        401: " (credentials refused)",
        403: " (forbidden: credentials refused or the link expired)",
        404: " (not found: deleted or the link expired)",
        410: " (gone: the link expired)",
    }.get(status, "")
