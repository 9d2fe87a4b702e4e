"""Several bots on one route: the path picks the bot, and only that bot's secret opens it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from connectors.telegram import TelegramConnector, TelegramSettings
from connectors.testing import InMemoryEmitter, webhook_app
from connectors.webhook import RawRequest
from schemas.config import load
from tests.telegram_updates import BOT_ID, BOT_TOKEN, WEBHOOK_SECRET, encode, text_update, webhook_headers

SALES_SECRET = "sales-secret-0123456789"


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
    connector = TelegramConnector(load(TelegramSettings), default_region="PT")
    emitter = InMemoryEmitter()
    return webhook_app(connector, emitter), emitter


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


async def test_each_bots_dead_letters_name_it_and_replay_as_that_bot(app: tuple[FastAPI, InMemoryEmitter]) -> None:
    http, emitter = app
    broken = {"update_id": 7, "message": {"message_id": 1, "date": 1767261600, "text": "no chat"}}
    transport = httpx.ASGITransport(app=http)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.post(
            "/webhooks/telegram/sales", content=encode(broken), headers=webhook_headers(SALES_SECRET)
        )
    assert refused.status_code == 400
    assert [d.source for d in emitter.dead_letters] == ["telegram.webhook.sales"]
    replayers = TelegramConnector(load(TelegramSettings), default_region="PT").replayers()
    assert sorted(replayers) == ["telegram.polling.poller", "telegram.webhook", "telegram.webhook.sales"]
    update = encode(text_update(8, 8))
    accounts = {}
    for source, replay in replayers.items():
        raw = RawRequest(body=update, headers={}, public_url="", received_at=datetime.now(UTC))
        replayed = await replay(raw)
        assert isinstance(replayed, list)
        [interaction] = replayed
        accounts[source] = interaction.account
    assert accounts == {
        "telegram.webhook": str(BOT_ID),
        "telegram.webhook.sales": "7000000002",
        "telegram.polling.poller": "7000000003",
    }
