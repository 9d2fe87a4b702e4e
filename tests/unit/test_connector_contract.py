"""Every connector, all configured: each route and dead-letter source is declared once, and replay reads
every source a connector dead-letters under with the normalizer that source's route serves."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from connectors.base import AnyConnector
from omnitrail import registry
from omnitrail.settings import AppSettings
from schemas.config import load
from tests.channel_env import CHANNEL_ENV


@pytest.fixture
def every_connector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[AnyConnector]:
    config = tmp_path / "omnitrail.toml"
    config.write_text(f'[telegram.bots.sales]\nbot_token = "7000000002:{"B" * 35}"\nmode = "polling"\n')
    monkeypatch.setenv("OMNITRAIL_CONFIG", str(config))
    for name, value in {
        **CHANNEL_ENV,
        "OMNITRAIL_IMAP_HOST": "127.0.0.1",
        "OMNITRAIL_IMAP_USERNAME": "support@acme.example",
        "OMNITRAIL_IMAP_PASSWORD": "never-used",
    }.items():
        monkeypatch.setenv(name, value)
    connectors = registry.enabled(load(AppSettings))
    assert sorted(c.name for c in connectors) == sorted(registry.CONNECTORS)
    return connectors


def test_sources_and_paths_are_unique_and_every_route_is_replayable(every_connector: list[AnyConnector]) -> None:
    routes = [route for connector in every_connector for route in connector.routes()]
    replayable = [source for connector in every_connector for source in connector.replayers()]
    assert [s for s, n in Counter(replayable).items() if n > 1] == []
    assert [p for p, n in Counter(r.path for r in routes).items() if n > 1] == []
    assert {r.source for r in routes} <= set(replayable)
    # Pull sources are replayable too: the named polling bot and the mailbox.
    assert {"telegram.polling.sales", "email.imap"} <= set(replayable)
    assert len(routes) == 9  # Twilio (3), Meta, X, live chat, Chatwoot, events, the default Telegram bot
