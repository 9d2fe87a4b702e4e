"""A local Bot API server for tests: plays the answers Telegram documents, so the real polling code runs.

Serves ``/bot<token>/<method>`` like api.telegram.org (and like a self-hosted telegram-bot-api):
``getMe``, ``deleteWebhook`` and ``getUpdates`` honouring ``offset`` (updates below it are
confirmed and forgotten, as Telegram does), ``limit`` and ``timeout`` (long polling: the call
waits until an update arrives or the timeout passes). Parameters arrive as PTB sends them
(form fields holding JSON values) or as a JSON body. An unknown token gets Telegram's 401
answer; ``fail_next(n)`` answers the next n calls with 502, as Telegram's front end does when
the Bot API is down. Every call is recorded in ``calls`` for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from omnitrail.local_stack import free_port

Json = dict[str, Any]
_TOKEN_SECRET = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


@dataclass
class FakeBot:
    bot_id: int
    username: str
    pending: list[Json] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    next_update_id: int = 100000001

    def me(self) -> Json:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Omnitrail Support",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


@dataclass
class Call:
    token: str
    method: str
    params: Json


class FakeBotApi:
    def __init__(self) -> None:
        self.bots: dict[str, FakeBot] = {}
        self.calls: list[Call] = []
        self._failures = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/bot"
        app = Starlette(routes=[Route("/bot{token}/{method}", self._handle, methods=["GET", "POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )

    def add_bot(self, bot_id: int) -> str:
        """Register a bot; returns its token."""
        token = f"{bot_id}:{_TOKEN_SECRET}"
        self.bots[token] = FakeBot(bot_id, f"bot{bot_id}_bot")
        return token

    def push(self, token: str, update_without_id: Json) -> Json:
        """Queue an update for the bot (the update id is assigned here, increasing, as Telegram does)."""
        bot = self.bots[token]
        update = {"update_id": bot.next_update_id, **update_without_id}
        bot.next_update_id += 1
        bot.pending.append(update)
        bot.arrived.set()
        return update

    def push_raw(self, token: str, update: Json) -> None:
        """Queue an update exactly as given (to play a malformed one)."""
        bot = self.bots[token]
        bot.pending.append(update)
        bot.next_update_id = max(bot.next_update_id, int(update.get("update_id", 0)) + 1)
        bot.arrived.set()

    def fail_next(self, count: int) -> None:
        self._failures = count

    def offsets(self, token: str) -> list[int | None]:
        return [c.params.get("offset") for c in self.calls if c.token == token and c.method == "getUpdates"]

    async def _params(self, request: Request) -> Json:
        body = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            return dict(json.loads(body)) if body else {}
        params: Json = {}
        for key, text in parse_qsl(body.decode()):
            try:
                params[key] = json.loads(text)
            except ValueError:
                params[key] = text
        return params

    async def _handle(self, request: Request) -> JSONResponse:
        token, method = request.path_params["token"], request.path_params["method"]
        params = await self._params(request)
        self.calls.append(Call(token, method, params))
        if self._failures:
            self._failures -= 1
            return JSONResponse({"ok": False, "error_code": 502, "description": "Bad Gateway"}, status_code=502)
        bot = self.bots.get(token)
        if bot is None:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        if method == "getMe":
            return JSONResponse({"ok": True, "result": bot.me()})
        if method == "deleteWebhook":
            return JSONResponse({"ok": True, "result": True, "description": "Webhook is already deleted"})
        if method == "getUpdates":
            return JSONResponse({"ok": True, "result": await self._updates(bot, params)})
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)

    async def _updates(self, bot: FakeBot, params: Json) -> list[Json]:
        offset = params.get("offset")
        limit = int(params.get("limit") or 100)
        if offset is not None:
            # An update is confirmed (and gone for good) once getUpdates asks for an offset above it.
            bot.pending = [
                u for u in bot.pending if not isinstance(u.get("update_id"), int) or u["update_id"] >= offset
            ]
        if not bot.pending and float(params.get("timeout") or 0) > 0:
            bot.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bot.arrived.wait(), float(params["timeout"]))
        return bot.pending[:limit]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeBotApi]:
        task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        try:
            yield self
        finally:
            for bot in self.bots.values():
                bot.arrived.set()  # long polls still waiting answer now, so shutdown need not cancel them
            self._server.should_exit = True
            await task


@pytest.fixture(scope="session", name="bot_api")
async def bot_api_fixture() -> AsyncIterator[FakeBotApi]:
    """``bot_api``: a local Bot API server, for the test modules that import this fixture."""
    async with FakeBotApi().running() as api:
        yield api
