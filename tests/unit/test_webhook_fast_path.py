"""The webhook fast path answers exactly as the FastAPI app would, and leaves every other request to it."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI, Request, Response

from omnitrail.webhook_fast_path import WebhookFastPath


def app_with_webhooks() -> tuple[FastAPI, APIRouter]:
    router = APIRouter(prefix="/webhooks/demo")

    async def receive(request: Request) -> Response:
        body = await request.body()
        return Response(f"<ok>{len(body)} {request.url.path}</ok>", media_type="text/xml")

    async def with_param(request: Request, bot: str) -> Response:  # FastAPI must fill ``bot``: not bare
        return Response(bot)

    router.add_api_route("/messages", receive, methods=["POST"])
    router.add_api_route("/bots/{bot}", with_param, methods=["POST"])
    app = FastAPI()
    app.include_router(router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app, router


async def test_fast_path_answers_like_the_app_and_passes_everything_else_through() -> None:
    app, router = app_with_webhooks()
    fast = WebhookFastPath(app, router.routes)
    assert list(fast.endpoints) == ["/webhooks/demo/messages"]  # the parameterised route stays with FastAPI
    answers = []
    for asgi in (app, fast):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://t") as client:
            posted = await client.post("/webhooks/demo/messages?x=1", content=b"Body=hello")
            bot = await client.post("/webhooks/demo/bots/b1")
            health = await client.get("/healthz")
            missing = await client.post("/webhooks/demo/other")
            wrong_method = await client.get("/webhooks/demo/messages")
        answers.append(
            [(r.status_code, r.headers.get("content-type"), r.content) for r in (posted, bot, health, missing)]
            + [wrong_method.status_code]
        )
    assert answers[0] == answers[1]
    assert answers[1][0] == (200, "text/xml; charset=utf-8", b"<ok>10 /webhooks/demo/messages</ok>")
    assert answers[1][1][2] == b"b1"
    assert answers[1][3][0] == 404
    assert answers[1][4] == 405
