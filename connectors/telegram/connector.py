"""The Telegram connector: webhook mode (``/webhooks/telegram/{bot}``), polling mode, or both.

Each configured bot is in one mode. Each webhook bot has its own route (the path names the bot),
so Telegram must be pointed at ``<OMNITRAIL_PUBLIC_URL>/webhooks/telegram/<bot>`` with
``setWebhook(url, secret_token=<webhook secret>)``. A path naming no webhook-mode bot answers
404 before the body is read. A bot's dead letters name it (:attr:`BotConfig.source`), so
replay reads them as that bot. Polling bots run in the shared pull loop
(:mod:`connectors.pull`): ``poll`` drains every bot with short ``getUpdates`` calls and
``wait_for_more`` long-polls all of them at once, returning as soon as one has something.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Mapping
from functools import partial
from typing import ClassVar

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from telegram.error import Conflict, NetworkError

from connectors import json_payload
from connectors.base import Connector, Replayer, replayer
from connectors.checkpoints import CheckpointStore
from connectors.emitter import Emitter
from connectors.telegram.polling import BotPoller
from connectors.telegram.settings import BotConfig, TelegramSettings
from connectors.telegram.updates import normalize_update, parse_update
from connectors.webhook import Answer, RawRequest, Route
from schemas.errors import FatalError, InvalidSignature
from schemas.interaction import Interaction

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105  # a header name, not a secret


def verify_secret(bot: BotConfig, raw: RawRequest) -> None:
    """Telegram proves a webhook call by echoing setWebhook's ``secret_token``; compared in constant time."""
    assert bot.webhook_secret is not None  # BotConfig.of requires one in webhook mode
    given = raw.headers.get(SECRET_HEADER)
    if not given:
        raise InvalidSignature("missing X-Telegram-Bot-Api-Secret-Token")
    if not hmac.compare_digest(given.encode(), bot.webhook_secret.get_secret_value().encode()):
        raise InvalidSignature("X-Telegram-Bot-Api-Secret-Token does not match")


def normalize_update_json(bot: BotConfig, raw: RawRequest) -> list[Interaction]:
    """One update's JSON (a webhook body, or a polled update kept in a dead letter) as ``bot`` received it."""
    return normalize_update(parse_update(json_payload.parse(raw.body)), bot_id=bot.bot_id, received_at=raw.received_at)


def _ok(_: list[Interaction]) -> Response:
    # Any 2xx tells Telegram the update was delivered; a body could carry a reply method, we send none.
    return Response(status_code=200)


def _no_such_bot(_: Request) -> Response:
    return JSONResponse({"error": "not_found", "reason": "no Telegram bot in webhook mode by that name"}, 404)


class TelegramConnector(Connector[TelegramSettings]):
    """Telegram identifies people by user id: the default region is not used."""

    name: ClassVar[str] = "telegram"
    enabled_by: ClassVar[tuple[str, ...]] = ("bot_token", "bots")
    #: PTB's network faults (TimedOut is one) and 409 (another getUpdates consumer): try again later.
    retriable: ClassVar[tuple[type[BaseException], ...]] = (NetworkError, Conflict)

    def __init__(self, settings: TelegramSettings, *, default_region: str) -> None:
        super().__init__(settings, default_region=default_region)
        self.bots = settings.bots_configured()
        if not self.bots:
            raise FatalError(
                "OMNITRAIL_TELEGRAM_BOT_TOKEN (or a [telegram.bots.NAME] table) is required for the telegram connector"
            )
        self.webhooks = {bot.name: bot for bot in self.bots if bot.mode == "webhook"}
        self.pollers = [
            BotPoller(bot, poll_timeout_s=settings.poll_timeout_s) for bot in self.bots if bot.mode == "polling"
        ]

    def routes(self) -> list[Route]:
        """One path per webhook-mode bot: the path names the bot, whose secret alone opens it."""
        return [
            Route(
                f"/webhooks/telegram/{bot.name}",
                bot.source,
                "Telegram Bot API update (webhook mode)",
                partial(verify_secret, bot),
                partial(normalize_update_json, bot),
                _ok,
            )
            for bot in self.webhooks.values()
        ]

    def answers(self) -> list[Answer]:
        # Any other name is no webhook-mode bot: 404 before the body is read.
        summary = "Not a Telegram bot in webhook mode"
        return [Answer("POST", "/webhooks/telegram/{bot}", summary, _no_such_bot)] if self.webhooks else []

    def replayers(self) -> Mapping[str, Replayer]:
        """A polling bot's dead letters are its updates' JSON too: the same normalizer reads them again."""
        return {bot.source: replayer(partial(normalize_update_json, bot)) for bot in self.bots}

    @property
    def pulls(self) -> bool:
        return bool(self.pollers)

    async def poll(self, emitter: Emitter, checkpoints: CheckpointStore) -> int:
        emitted = 0
        for poller in self.pollers:
            emitted += await poller.poll(emitter, checkpoints)
        return emitted

    async def wait_for_more(self) -> None:
        tasks = [asyncio.create_task(poller.long_poll()) for poller in self.pollers]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # a fault of the long poll goes to the pull loop's backoff

    async def close(self) -> None:
        await asyncio.gather(*(poller.close() for poller in self.pollers))
