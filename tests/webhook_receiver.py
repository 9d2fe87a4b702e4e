"""Real HTTP webhook receivers on a loopback port, for tests of the outgoing webhook sink.

They verify every request the way docs/operations.md tells a downstream team to (HMAC-SHA256
over "<timestamp>.<raw body>", timestamp within five minutes), written from the documentation
rather than with our own helper, so a drift between the two fails the tests. Behaviour by name:
``broken`` answers 500 until mended, ``flaky`` answers 503 twice per event, others accept.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from omnitrail.local_stack import free_port
from tests.integration.stack import eventually

SECRETS = {name: f"{name}-secret-0123456789abcdef" for name in ("ok", "flaky", "broken", "whatsapp")}


@dataclass
class Receivers:
    """What each receiver saw: verified bodies, attempts per event, and whether `broken` is mended."""

    url: str
    accepted: dict[str, list[dict[str, object]]] = field(default_factory=lambda: defaultdict(list))
    attempts: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    bad_signatures: int = 0
    mended: bool = False

    def verified(self, name: str, request_headers: dict[str, str], body: bytes) -> bool:
        timestamp = request_headers.get("omnitrail-timestamp", "")
        signature = request_headers.get("omnitrail-signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False
        expected = hmac.new(SECRETS[name].encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature, f"v1={expected}")

    async def handle(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        event_id = headers.get("omnitrail-event-id", "")
        self.attempts[(name, event_id)] += 1
        if name == "broken" and not self.mended:
            return Response("boom", status_code=500)
        if name == "flaky" and self.attempts[(name, event_id)] <= 2:
            return Response("busy", status_code=503)
        if not self.verified(name, headers, body):
            self.bad_signatures += 1
            return Response("bad signature", status_code=401)
        event = json.loads(body)
        assert event["event_id"] == event_id
        assert event["type"] == headers["omnitrail-event-type"]
        self.accepted[name].append(event)
        return Response(status_code=204)


@asynccontextmanager
async def running_receivers() -> AsyncIterator[Receivers]:
    port = free_port()
    state = Receivers(f"http://127.0.0.1:{port}")
    app = Starlette(routes=[Route("/hooks/{name}", state.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, timeout=10, what="receiver listening")
    try:
        yield state
    finally:
        server.should_exit = True
        await task
