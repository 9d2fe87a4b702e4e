"""Who may send the console a body, and how much: checked before a byte of it is read.

FastAPI reads and parses a route's JSON body before it solves the route's dependencies, so the
token check came after the parse: three 48 MiB bodies sent without a token were read whole.
This middleware runs first, for every request that carries a body (not ``GET``/``HEAD``/
``OPTIONS``) outside the webhooks (which bound their own): an ``/api/`` request must authenticate
(401, or 429 once its address is throttled, counted like any failed authentication), then the
body is read under the webhooks' limits, ``OMNITRAIL_MAX_BODY_BYTES`` (413) and
``OMNITRAIL_BODY_TIMEOUT_S`` for all of it (408: sign-in forms dribbled a byte at a time), and
handed to the route as it was. The route still checks the role it needs.
"""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.webhook import BodyTooLarge, BodyTooSlow, read_body
from console.auth import TokenAuth

_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestGuard:
    def __init__(self, app: ASGIApp, *, auth: TokenAuth, max_body_bytes: int, body_timeout_s: float) -> None:
        self.app = app
        self.authenticated = auth.principal("agent")  # the least role: the route checks its own
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _NO_BODY or scope["path"].startswith("/webhooks/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            if scope["path"].startswith("/api/"):
                await self.authenticated(request)
            body = await read_body(request, self.max_body_bytes, self.body_timeout_s)
        except HTTPException as exc:
            await JSONResponse({"detail": exc.detail}, exc.status_code, exc.headers)(scope, receive, send)
            return
        except BodyTooLarge:
            await JSONResponse({"detail": "body exceeds the configured limit"}, 413)(scope, receive, send)
            return
        except BodyTooSlow:
            await JSONResponse({"detail": "body not received within the configured time"}, 408)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, as one message; then whatever the client sends next (a disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
