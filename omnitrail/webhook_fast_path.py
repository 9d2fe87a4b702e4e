"""Signed webhook POSTs straight to their endpoint, ahead of the FastAPI middleware stack.

A provider's callback needs none of what FastAPI wraps around a route (dependency solving, the
exit stack for dependencies, exception middleware for our API errors, its body-size and
telemetry middleware): its endpoint takes the bare request, reads the body under its own limits,
checks the signature and answers. Measured on ``omnitrail connector twilio`` under wrk, the stack
around that endpoint was about a third of a request's CPU (benchmarks/README.md). The routes stay
declared on the FastAPI app (OpenAPI, tests, any path not matched here); this only dispatches the
exact ``POST`` paths the connectors declared (:class:`connectors.webhook.Route`: fixed paths, one
endpoint each), before the stack runs. An exception escaping such an endpoint reaches uvicorn,
which logs it and answers 500, as FastAPI's outermost middleware would.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from connectors.webhook import Endpoint


class WebhookFastPath:
    """``endpoints``: the declared webhook routes' endpoints by path, also served by ``app``."""

    def __init__(self, app: FastAPI, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                scope.setdefault("app", self.app)
                response = await endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
