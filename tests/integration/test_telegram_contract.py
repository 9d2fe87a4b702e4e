"""Telegram passes the contracts every connector passes: webhook mode through ``omnitrail up``,
polling mode against a local Bot API server playing Telegram's answers."""

from __future__ import annotations

import itertools
import uuid

import pytest

from connectors.base import AnyConnector
from connectors.telegram import TelegramConnector, TelegramSettings
from schemas.ids import interaction_id_for
from tests.contract import PullContract, WebhookCall, WebhookContract
from tests.fake_bot_api import FakeBotApi, bot_api_fixture  # noqa: F401  # registers the bot_api fixture
from tests.telegram_updates import BOT_ID, encode, message, text_update, user, webhook_headers

PATH = "/webhooks/telegram/default"
_numbers = itertools.count(1)


def person_for(event: str) -> dict[str, object]:
    """A distinct customer per event, so contract events do not share contacts."""
    return user(user_id=500_000_000 + int(event[:7], 16), first="Rui", last="Costa", username=None)


class TestTelegramWebhookContract(WebhookContract):
    source = "telegram.webhook"
    signature_headers = ("X-Telegram-Bot-Api-Secret-Token",)

    def call(self, base_url: str, event: str, *, secret: str | None = None) -> WebhookCall:
        update = text_update(int(event[:8], 16), int(event[8:14], 16), person_for(event))
        headers = webhook_headers(secret) if secret else webhook_headers()
        return WebhookCall(PATH, encode(update), headers)

    def expected_ids(self, event: str) -> list[uuid.UUID]:
        chat_id = person_for(event)["id"]
        return [interaction_id_for("telegram", str(BOT_ID), f"{chat_id}:{int(event[8:14], 16)}")]

    def malformed(self, base_url: str) -> WebhookCall:
        # Verified, valid JSON, but a Message without its required chat: not a Bot API Update.
        broken = message(next(_numbers))
        del broken["chat"]
        return WebhookCall(
            PATH, encode({"update_id": 900000000 + next(_numbers), "message": broken}), webhook_headers()
        )


class _BotSource:
    """A new bot on the fake Bot API server; each connector() is a fresh process's connector."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api
        self.token = api.add_bot(7_100_000_000 + next(_numbers))
        self.messages = itertools.count(1)

    def connector(self) -> AnyConnector:
        settings = TelegramSettings(bot_token=self.token, mode="polling", api_url=self.api.url, poll_timeout_s=1)
        return TelegramConnector(settings, default_region="PT")

    async def add(self, count: int) -> None:
        for _ in range(count):
            self.api.push(self.token, {"message": message(next(self.messages))})


class TestTelegramPollingContract(PullContract):
    @pytest.fixture(autouse=True)
    def _api(self, bot_api: FakeBotApi) -> None:
        self.api = bot_api

    async def source(self) -> _BotSource:
        return _BotSource(self.api)
