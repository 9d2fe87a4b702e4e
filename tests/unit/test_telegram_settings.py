"""Telegram settings: the variables the README documents, errors that name them, tokens never printed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import structlog

from connectors.telegram import TelegramConnector, TelegramSettings
from omnitrail import logs
from omnitrail.registry import SETTINGS_CLASSES
from schemas.config import load, reject_unknown_env
from schemas.errors import FatalError
from tests.telegram_updates import BOT_ID, BOT_TOKEN, WEBHOOK_SECRET


def env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"OMNITRAIL_TELEGRAM_{key.upper()}", value)


def test_the_default_bot_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env(monkeypatch, bot_token=BOT_TOKEN, webhook_secret=WEBHOOK_SECRET)
    settings = load(TelegramSettings)
    assert TelegramConnector.configured(settings)
    [bot] = settings.bots_configured()
    assert (bot.name, bot.bot_id, bot.mode, bot.api_url) == ("default", str(BOT_ID), "webhook", settings.api_url)
    connector = TelegramConnector(settings, default_region="PT")
    assert not connector.pulls
    reject_unknown_env(
        list(SETTINGS_CLASSES),
        {
            "OMNITRAIL_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "OMNITRAIL_TELEGRAM_MODE": "polling",
            "OMNITRAIL_TELEGRAM_WEBHOOK_SECRET": "s",
            "OMNITRAIL_TELEGRAM_API_URL": "http://127.0.0.1:8081/bot",
            "OMNITRAIL_TELEGRAM_POLL_TIMEOUT_S": "25",
        },
    )
    with pytest.raises(FatalError, match="OMNITRAIL_TELEGRAM_WEBHOOK_SECRETS"):
        reject_unknown_env(list(SETTINGS_CLASSES), {"OMNITRAIL_TELEGRAM_WEBHOOK_SECRETS": "s"})


def test_unset_token_means_not_configured() -> None:
    assert not TelegramConnector.configured(TelegramSettings())
    with pytest.raises(FatalError, match="OMNITRAIL_TELEGRAM_BOT_TOKEN"):
        TelegramConnector(TelegramSettings(), default_region="PT")


def test_webhook_mode_needs_a_secret_telegram_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    env(monkeypatch, bot_token=BOT_TOKEN)
    with pytest.raises(FatalError, match="OMNITRAIL_TELEGRAM_WEBHOOK_SECRET is required"):
        load(TelegramSettings).bots_configured()
    for refused in ("has spaces and is long enough!", "short_secret"):  # 12 characters: guessed in a few requests
        env(monkeypatch, webhook_secret=refused)
        with pytest.raises(FatalError, match="OMNITRAIL_TELEGRAM_WEBHOOK_SECRET: 16-256 of A-Z"):
            load(TelegramSettings).bots_configured()
    env(monkeypatch, mode="polling")
    assert load(TelegramSettings).bots_configured()[0].mode == "polling"  # polling needs no secret


def test_a_malformed_token_is_refused_by_name_without_printing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    env(monkeypatch, bot_token="not-a-token-secret-value", mode="polling")
    with pytest.raises(FatalError, match="OMNITRAIL_TELEGRAM_BOT_TOKEN is not a bot token") as caught:
        load(TelegramSettings).bots_configured()
    assert "not-a-token-secret-value" not in str(caught.value)


def test_more_bots_from_the_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "omnitrail.toml"
    config.write_text(
        "[telegram]\n"
        'api_url = "http://127.0.0.1:8081/bot"\n'
        "[telegram.bots.sales]\n"
        f'bot_token = "7000000002:{"B" * 35}"\n'
        'mode = "polling"\n'
        "[telegram.bots.support-pt]\n"
        f'bot_token = "7000000003:{"C" * 35}"\n'
        f'webhook_secret = "{WEBHOOK_SECRET}"\n'
        'api_url = "http://10.0.0.5:8081/bot"\n'
    )
    monkeypatch.setenv("OMNITRAIL_CONFIG", str(config))
    env(monkeypatch, bot_token=BOT_TOKEN, webhook_secret=WEBHOOK_SECRET)
    settings = load(TelegramSettings)
    bots = {bot.name: bot for bot in settings.bots_configured()}
    assert sorted(bots) == ["default", "sales", "support-pt"]
    assert (bots["sales"].bot_id, bots["sales"].mode, bots["sales"].api_url) == (
        "7000000002",
        "polling",
        "http://127.0.0.1:8081/bot",  # inherited from [telegram]
    )
    assert bots["support-pt"].api_url == "http://10.0.0.5:8081/bot"
    connector = TelegramConnector(settings, default_region="PT")
    assert connector.pulls
    assert sorted(connector.webhooks) == ["default", "support-pt"]


def test_a_toml_bot_without_its_secret_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "omnitrail.toml"
    config.write_text(f'[telegram.bots.sales]\nbot_token = "7000000002:{"B" * 35}"\n')
    monkeypatch.setenv("OMNITRAIL_CONFIG", str(config))
    with pytest.raises(FatalError, match=r"\[telegram.bots.sales\] webhook_secret is required"):
        load(TelegramSettings).bots_configured()


def test_two_bots_with_one_token_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "omnitrail.toml"
    config.write_text(f'[telegram.bots.sales]\nbot_token = "{BOT_TOKEN}"\nmode = "polling"\n')
    monkeypatch.setenv("OMNITRAIL_CONFIG", str(config))
    env(monkeypatch, bot_token=BOT_TOKEN, mode="polling")
    with pytest.raises(FatalError, match="same bot token"):
        load(TelegramSettings).bots_configured()


def test_bot_tokens_never_reach_the_logs(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", "json")
    try:
        url = f"https://api.telegram.org/bot{BOT_TOKEN}/getUpdates"
        logging.getLogger("httpx").warning('HTTP Request: POST %s "HTTP/1.1 502 Bad Gateway"', url)
        structlog.get_logger("test").warning("calling", url=url)
    finally:
        logging.getLogger().handlers.clear()
    err = capsys.readouterr().err
    assert "getUpdates" in err
    assert BOT_TOKEN.split(":")[1] not in err
