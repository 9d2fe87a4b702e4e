"""Signed webhook POSTs straight to their endpoint, ahead of the FastAPI middleware stack.

A provider's callback needs none of what FastAPI wraps around a route (dependency solving, the
exit stack for dependencies, exception middleware for our API errors, its body-size and
telemetry middleware): its endpoint takes the bare request, reads the body under its own limits,
checks the signature and answers. Measured on ``omnitrail connector twilio`` under wrk, the stack
around that endpoint was about a third of a request's CPU (benchmarks/README.md). The routes stay
declared on the FastAPI app (OpenAPI, tests, any path not matched here); this only dispatches the
exact ``POST`` paths the connectors declared (:class:`connectors.webhook.Route`: fixed paths, one
endpoint each), before the stack runs, each as a bare ASGI app (:meth:`connectors.webhook.WebhookIngest.asgi`:
no starlette Request or Response on the way). An exception escaping such an endpoint reaches uvicorn,
which logs it and answers 500, as FastAPI's outermost middleware would.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class WebhookFastPath:
    """``endpoints``: the declared webhook routes as bare ASGI apps by path (:func:`connectors.webhook.serve`),
    also served by ``app``."""

    def __init__(self, app: FastAPI, endpoints: Mapping[str, ASGIApp]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                scope.setdefault("app", self.app)
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)
