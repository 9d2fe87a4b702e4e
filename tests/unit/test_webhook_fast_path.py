"""The webhook fast path answers the declared webhook POSTs exactly as the FastAPI app would, ahead of the
app's middleware, and leaves every other request to the app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from connectors import signing
from connectors.testing import InMemoryEmitter
from connectors.webhook import Answer, RawRequest, Route, WebhookIngest, serve
from omnitrail.webhook_fast_path import WebhookFastPath
from schemas.interaction import Interaction


def app_with_webhooks() -> WebhookFastPath:
    def normalize(raw: RawRequest) -> list[Interaction]:
        return []

    def respond(_: list[Interaction]) -> Response:
        return Response("<ok/>", media_type="text/xml")

    route = Route("/webhooks/demo/messages", "demo", "demo messages", lambda _: None, normalize, respond)
    handshake = Answer("GET", "/webhooks/demo/messages", "demo handshake", lambda _: PlainTextResponse("challenge"))
    refusal = Answer("POST", "/webhooks/demo/bots/{bot}", "no such bot", lambda _: PlainTextResponse("no", 404))
    ingest = WebhookIngest(InMemoryEmitter(), public_url="http://t", max_body_bytes=1024)
    router, endpoints = serve([route], [handshake, refusal], ingest)
    app = FastAPI()
    app.include_router(router)

    @app.middleware("http")
    async def stack(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["x-stack"] = "ran"
        return response

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return WebhookFastPath(app, endpoints)


async def answers(asgi: object) -> list[tuple[int, str | None, bytes, str | None]]:
    transport = httpx.ASGITransport(app=asgi)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        responses = [
            await client.post("/webhooks/demo/messages?x=1", content=b"Body=hello"),
            await client.post("/webhooks/demo/bots/b1"),
            await client.get("/webhooks/demo/messages"),
            await client.get("/healthz"),
            await client.post("/webhooks/demo/other"),
            await client.put("/webhooks/demo/messages"),
        ]
    return [(r.status_code, r.headers.get("content-type"), r.content, r.headers.get("x-stack")) for r in responses]


async def test_declared_webhook_posts_skip_the_stack_and_answer_like_the_app() -> None:
    fast = app_with_webhooks()
    assert list(fast.endpoints) == ["/webhooks/demo/messages"]  # answers (unsigned, parameterised) stay with the app
    through_app, through_fast_path = await answers(fast.app), await answers(fast)
    webhook = (200, "text/xml; charset=utf-8", b"<ok/>")
    assert through_app[0] == (*webhook, "ran")
    assert through_fast_path[0] == (*webhook, None)  # dispatched ahead of the middleware stack
    assert through_fast_path[1:] == through_app[1:]  # everything else is the app's own answer
    assert [a[0] for a in through_fast_path[1:]] == [404, 200, 200, 404, 405]
    assert all(a[3] == "ran" for a in through_fast_path[1:])


async def test_a_query_that_is_no_utf8_is_refused_as_unsigned_not_a_server_error() -> None:
    def verify(raw: RawRequest) -> None:
        signing.require(
            "X-Demo-Signature", raw.headers.get("x-demo-signature"), signing.sha256_hex("k" * 32, raw.public_url)
        )

    route = Route("/webhooks/demo/messages", "demo", "demo messages", verify, lambda _: [], lambda _: Response())
    emitter = InMemoryEmitter()
    _, endpoints = serve([route], [], WebhookIngest(emitter, public_url="http://t", max_body_bytes=1024))
    scope = {"type": "http", "method": "POST", "path": "/webhooks/demo/messages", "query_string": b"a=\xff"}
    requests: list[MutableMapping[str, Any]] = [{"type": "http.request", "body": b"{}", "more_body": False}]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return requests.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await endpoints["/webhooks/demo/messages"](
        {**scope, "headers": [(b"x-demo-signature", b"sha256=0")]}, receive, send
    )
    assert sent[0]["status"] == 403  # was a UnicodeDecodeError before the signature was checked: a 500
    assert emitter.interactions == []
