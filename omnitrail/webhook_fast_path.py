"""Signed webhook POSTs straight to their endpoint, ahead of the FastAPI middleware stack.

A provider's callback needs none of what FastAPI wraps around a route (dependency solving, the
exit stack for dependencies, exception middleware for our API errors, its body-size and
telemetry middleware): its endpoint takes the bare request, reads the body under its own limits,
checks the signature and answers. Measured on ``omnitrail connector twilio`` under wrk, the stack
around that endpoint was about a third of a request's CPU (benchmarks/README.md). The routes stay
declared on the FastAPI app (OpenAPI, tests, any path not matched here); this only dispatches the
exact ``POST`` paths whose endpoint takes nothing but the request, before the stack runs. An
exception escaping such an endpoint reaches uvicorn, which logs it and answers 500, as FastAPI's
outermost middleware would.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


def _bare(route: APIRoute) -> bool:
    """POST-only, no path parameters, and an endpoint whose one parameter is the request."""
    parameters = list(inspect.signature(route.endpoint).parameters.values())
    return (
        route.methods == {"POST"}
        and not route.param_convertors
        and len(parameters) == 1
        and parameters[0].annotation in (Request, "Request")
    )


class WebhookFastPath:
    """``routes``: the webhook routes included in ``app`` (the connectors' routers)."""

    def __init__(self, app: FastAPI, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.endpoints: dict[str, Endpoint] = {
            route.path: route.endpoint for route in routes if isinstance(route, APIRoute) and _bare(route)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                scope.setdefault("app", self.app)
                response = await endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
