"""The Telegram connector: webhook mode (``/webhooks/telegram/{bot}``), polling mode, or both.

Each configured bot is in one mode. Webhook bots share one route; the path names the bot, so
Telegram must be pointed at ``<OMNITRAIL_PUBLIC_URL>/webhooks/telegram/<bot>`` with
``setWebhook(url, secret_token=<webhook secret>)``. A path naming no webhook-mode bot answers
404 before the body is read. Polling bots run in the shared pull loop
(:mod:`connectors.pull`): ``poll`` drains every bot with short ``getUpdates`` calls and
``wait_for_more`` long-polls all of them at once, returning as soon as one has something.
"""

from __future__ import annotations

import asyncio
import hmac
from functools import partial
from typing import ClassVar, Self

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from telegram.error import Conflict, NetworkError

from connectors import json_payload
from connectors.base import Connector
from connectors.checkpoints import CheckpointStore
from connectors.emitter import Emitter
from connectors.telegram.polling import BotPoller
from connectors.telegram.settings import BotConfig, TelegramSettings
from connectors.telegram.updates import normalize_update, parse_update
from connectors.webhook import RawRequest, WebhookIngest
from schemas.config import OmnitrailSettings
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


def normalize_webhook(bot: BotConfig, raw: RawRequest) -> list[Interaction]:
    return normalize_update(parse_update(json_payload.parse(raw.body)), bot_id=bot.bot_id, received_at=raw.received_at)


def _ok(_: list[Interaction]) -> Response:
    # Any 2xx tells Telegram the update was delivered; a body could carry a reply method, we send none.
    return Response(status_code=200)


class TelegramConnector(Connector):
    name: ClassVar[str] = "telegram"
    settings_cls: ClassVar[type[TelegramSettings]] = TelegramSettings
    #: PTB's network faults (TimedOut is one) and 409 (another getUpdates consumer): try again later.
    retriable: ClassVar[tuple[type[BaseException], ...]] = (NetworkError, Conflict)

    def __init__(self, settings: TelegramSettings) -> None:
        bots = settings.bots_configured()
        if not bots:
            raise FatalError(
                "OMNITRAIL_TELEGRAM_BOT_TOKEN (or a [telegram.bots.NAME] table) is required for the telegram connector"
            )
        self.webhooks = {bot.name: bot for bot in bots if bot.mode == "webhook"}
        self.pollers = [BotPoller(bot, poll_timeout_s=settings.poll_timeout_s) for bot in bots if bot.mode == "polling"]

    @classmethod
    def create(cls, settings: OmnitrailSettings, *, default_region: str) -> Self:
        assert isinstance(settings, TelegramSettings)
        return cls(settings)  # Telegram identifies people by user id: no phone numbers to localize.

    @classmethod
    def configured(cls, settings: OmnitrailSettings) -> bool:
        return isinstance(settings, TelegramSettings) and (settings.bot_token is not None or bool(settings.bots))

    def router(self, ingest: WebhookIngest) -> APIRouter | None:
        if not self.webhooks:
            return None
        router = APIRouter(prefix="/webhooks/telegram", tags=["webhooks"])

        @router.post("/{bot}", summary="Telegram Bot API update (webhook mode)")
        async def update(bot: str, request: Request) -> Response:
            config = self.webhooks.get(bot)
            if config is None:
                return JSONResponse(
                    {"error": "not_found", "reason": "no Telegram bot in webhook mode by that name"}, 404
                )
            return await ingest.handle(
                request,
                source="telegram.webhook",
                verify=partial(verify_secret, config),
                normalize=partial(normalize_webhook, config),
                respond=_ok,
            )

        return router

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
