"""The providers' media endpoints, answered as the providers answer, on loopback.

One app served on two loopback addresses (127.0.0.1 is the providers' API, 127.0.0.2 their CDN,
so a redirect from one to the other changes host as Twilio's does):

- Twilio: ``/2010-04-01/Accounts/{sid}/Messages/{mid}/Media/{name}`` wants HTTP basic auth
  (account SID, auth token), else 401; ``gone`` is 404; the rest redirect (307) to the CDN.
- Graph API: ``/v21.0/{media id}`` wants the bearer token and answers ``{"url": ...}`` on lookaside,
  which wants the same token.
- Telegram: ``/bot{token}/getFile`` then ``/file/bot{token}/{path}``.
- Meta CDN: ``/cdn/{name}?oe=<hex expiry>``; an expired link is 403 (as fbcdn says "URL signature expired");
  ``down`` is 503 every time (a provider out through every retry).

The CDN refuses any request carrying ``Authorization``: credentials must not follow a redirect.
Every request is counted, so a test can tell that a file was fetched once.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from omnitrail.local_stack import free_port
from tests.helpers import AUTH_TOKEN
from tests.image_bombs import blank_png
from tests.integration.stack import eventually

ACCOUNT = "AC" + "a1" * 16
TWILIO_TOKEN = AUTH_TOKEN  # the stack's Twilio auth token (tests/channel_env.py)
GRAPH_TOKEN = "graph-token-for-media"
BOT_ID = "7000000001"
BOT_TOKEN = f"{BOT_ID}:telegram-secret-for-media"


def png(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


#: What each named file is (the name is the last path segment of every kind of link).
FILES: dict[str, bytes] = {
    "photo": png(),
    "voice": b"OggS\x00\x02" + b"\x00" * 60 + b"\x01vorbis" + b"\x00" * 200,
    "erasable-photo": png("blue", (8, 8)),
    "erasable-note": b"OggS\x00\x02" + b"\x01" * 300,
    # A 17 KB PNG of 4100x4000 pixels: more than a thumbnail decodes (console.thumbnails.MAX_PIXELS).
    "huge": blank_png(4100, 4000),
    "document": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
    # An SVG with a script, sent as if it were a JPEG photo.
    "disguised": (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.top.pwned = 1">'
        b"<script>window.top.pwned = 2; parent.document.title = 'pwned'</script></svg>"
    ),
}


@dataclass
class Providers:
    api: str
    cdn: str
    #: Requests per path.
    hits: Counter[str] = field(default_factory=Counter)
    #: Requests that carried credentials where none belong (a redirect that kept them).
    leaked: int = 0
    #: ``flaky`` answers 503 this many times first.
    flaky_failures: int = 2
    big_bytes: int = 0

    def twilio_url(self, name: str, message: str = "MM" + "0" * 32) -> str:
        return f"{self.api}/2010-04-01/Accounts/{ACCOUNT}/Messages/{message}/Media/{name}"

    def cdn_url(self, name: str, *, expires_in: int = 3600) -> str:
        return f"{self.cdn}/cdn/{name}?oe={int(time.time() + expires_in):x}"

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        self.hits[path] += 1
        auth = request.headers.get("authorization")
        parts = path.strip("/").split("/")
        if parts[:2] == ["2010-04-01", "Accounts"]:
            expected = "Basic " + base64.b64encode(f"{parts[2]}:{TWILIO_TOKEN}".encode()).decode()
            if parts[2] != ACCOUNT or auth != expected:
                return Response(
                    "Authenticate", status_code=401, headers={"WWW-Authenticate": 'Basic realm="Twilio API"'}
                )
            name = parts[-1]
            if name == "gone":
                return JSONResponse({"code": 20404, "message": "not found"}, status_code=404)
            if name == "elsewhere":
                return Response(status_code=302, headers={"Location": f"http://127.0.0.3:{request.url.port}/x"})
            if name == "flaky" and self.hits[path] <= self.flaky_failures:
                return Response("busy", status_code=503)
            target = "photo" if name == "flaky" else name
            return Response(status_code=307, headers={"Location": self.cdn_url(target)})
        if parts[0] == "v21.0":
            if auth != f"Bearer {GRAPH_TOKEN}":
                return JSONResponse({"error": {"code": 190, "message": "Invalid OAuth access token"}}, status_code=401)
            return JSONResponse(
                {"url": f"{self.api}/lookaside/{parts[1]}?ext=1", "mime_type": "audio/ogg", "id": parts[1]}
            )
        if parts[0] == "lookaside":
            if auth != f"Bearer {GRAPH_TOKEN}":
                return Response(status_code=401)
            return Response(FILES["voice"], media_type="audio/ogg")
        if parts[0] == f"bot{BOT_TOKEN}" and parts[1] == "getFile":
            file_id = request.query_params.get("file_id", "")
            if file_id not in FILES:
                return JSONResponse(
                    {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}, 400
                )
            return JSONResponse({"ok": True, "result": {"file_id": file_id, "file_path": f"documents/{file_id}.bin"}})
        if parts[:2] == ["file", f"bot{BOT_TOKEN}"]:
            return Response(FILES[parts[-1].removesuffix(".bin")], media_type="application/octet-stream")
        if parts[0] == "cdn":
            if auth is not None:
                self.leaked += 1
                return Response("credentials sent to the CDN", status_code=400)
            if int(request.query_params.get("oe", "0"), 16) < time.time():
                return Response("URL signature expired", status_code=403)
            if parts[1] == "down":
                return Response("Service Unavailable", status_code=503)
            if parts[1] == "big":
                return StreamingResponse(_zeros(self.big_bytes), media_type="image/jpeg")  # no length declared
            return Response(FILES[parts[1]], media_type="image/jpeg")
        return Response(status_code=404)


async def _zeros(total: int) -> AsyncIterator[bytes]:
    chunk = b"\xff\xd8\xff\xe0" + b"\x00" * (1 << 20)
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)


@asynccontextmanager
async def running_providers() -> AsyncIterator[Providers]:
    port = free_port()
    state = Providers(f"http://127.0.0.1:{port}", f"http://127.0.0.2:{port}")
    app = Starlette(routes=[Route("/{path:path}", state.handle, methods=["GET"])])
    servers = [
        uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))
        for host in ("127.0.0.1", "127.0.0.2")
    ]
    tasks = [asyncio.create_task(s.serve()) for s in servers]

    async def started() -> bool:
        return all(s.started for s in servers)

    await eventually(started, timeout=10, what="media providers listening")
    try:
        yield state
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)
