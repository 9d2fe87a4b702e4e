"""Several bots on one route: the path picks the bot, and only that bot's secret opens it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from connectors.telegram import TelegramConnector, TelegramSettings
from connectors.testing import InMemoryEmitter
from connectors.webhook import WebhookIngest
from schemas.config import load
from tests.telegram_updates import BOT_ID, BOT_TOKEN, WEBHOOK_SECRET, encode, text_update, webhook_headers

SALES_SECRET = "sales-secret-42"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FastAPI, InMemoryEmitter]:
    config = tmp_path / "omnitrail.toml"
    config.write_text(
        f'[telegram.bots.sales]\nbot_token = "7000000002:{"B" * 35}"\nwebhook_secret = "{SALES_SECRET}"\n'
        f'[telegram.bots.poller]\nbot_token = "7000000003:{"C" * 35}"\nmode = "polling"\n'
    )
    monkeypatch.setenv("OMNITRAIL_CONFIG", str(config))
    monkeypatch.setenv("OMNITRAIL_TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("OMNITRAIL_TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET)
    connector = TelegramConnector(load(TelegramSettings))
    emitter = InMemoryEmitter()
    app = FastAPI()
    router = connector.router(WebhookIngest(emitter, public_url="http://test", max_body_bytes=65536))
    assert router is not None
    app.include_router(router)
    return app, emitter


async def post(app: FastAPI, bot: str, secret: str, update_id: int) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(
            f"/webhooks/telegram/{bot}",
            content=encode(text_update(update_id, update_id)),
            headers=webhook_headers(secret),
        )


async def test_each_bot_answers_on_its_own_path_with_its_own_secret(app: tuple[FastAPI, InMemoryEmitter]) -> None:
    http, emitter = app
    assert (await post(http, "sales", SALES_SECRET, 1)).status_code == 200
    assert (await post(http, "default", WEBHOOK_SECRET, 2)).status_code == 200
    assert [i.account for i in emitter.interactions] == ["7000000002", str(BOT_ID)]
    # Another bot's secret does not open this bot's path.
    assert (await post(http, "sales", WEBHOOK_SECRET, 3)).status_code == 403
    assert len(emitter.interactions) == 2


async def test_a_polling_bot_or_an_unknown_name_has_no_webhook(app: tuple[FastAPI, InMemoryEmitter]) -> None:
    http, emitter = app
    assert (await post(http, "poller", SALES_SECRET, 4)).status_code == 404
    assert (await post(http, "nobody", SALES_SECRET, 5)).status_code == 404
    assert emitter.interactions == []
    assert emitter.dead_letters == []


async def test_a_broker_outage_is_503_so_telegram_retries(app: tuple[FastAPI, InMemoryEmitter]) -> None:
    http, emitter = app
    emitter.fail = True
    response = await post(http, "sales", SALES_SECRET, 6)
    assert response.status_code == 503
    assert response.headers["retry-after"]
