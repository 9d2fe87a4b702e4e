"""Webhook secrets: an empty one means the route is not mounted (an HMAC under the empty key is anyone's), and
one a forger could guess, or an example's placeholder, stops the start naming the setting, never quoting it."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import Connector
from connectors.events import EventsConnector, EventsSettings
from connectors.livechat import LivechatConnector, LivechatSettings
from connectors.meta import MetaConnector, MetaSettings
from connectors.twilio import TwilioConnector, TwilioSettings
from connectors.x import XConnector, XSettings
from schemas.config import OmnitrailSettings, load
from schemas.errors import FatalError

#: Each connector's settings and the secret that enables its route.
SECRETS: list[tuple[type[OmnitrailSettings], type[Connector[Any]], str]] = [
    (MetaSettings, MetaConnector, "OMNITRAIL_META_APP_SECRET"),
    (TwilioSettings, TwilioConnector, "OMNITRAIL_TWILIO_AUTH_TOKEN"),
    (XSettings, XConnector, "OMNITRAIL_X_CONSUMER_SECRET"),
    (EventsSettings, EventsConnector, "OMNITRAIL_EVENTS_SECRET"),
    (LivechatSettings, LivechatConnector, "OMNITRAIL_LIVECHAT_SECRET"),
]


@pytest.mark.parametrize(("settings", "connector", "variable"), SECRETS)
def test_an_empty_secret_mounts_nothing(
    monkeypatch: pytest.MonkeyPatch, settings: type[OmnitrailSettings], connector: type[Connector[Any]], variable: str
) -> None:
    monkeypatch.setenv(variable, "")  # compose's ${VAR} of an unset variable: was a key anyone could sign with
    loaded = load(settings)
    assert not connector.configured(loaded)


@pytest.mark.parametrize(("settings", "connector", "variable"), SECRETS)
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("s3cret-value", "shorter than 16 characters"),
        ("CHANGE-ME", "shorter than 16 characters"),
        ("CHANGE-ME-before-going-live", "still the example's CHANGE-ME"),
        (" a-long-enough-secret-value ", "spaces or a line end around it"),
    ],
)
def test_a_secret_anyone_could_guess_stops_the_start_by_name(
    monkeypatch: pytest.MonkeyPatch,
    settings: type[OmnitrailSettings],
    connector: type[Connector[Any]],
    variable: str,
    value: str,
    reason: str,
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(FatalError, match=variable) as stopped:
        load(settings)
    assert reason in str(stopped.value)
    assert value.strip() not in str(stopped.value)


@pytest.mark.parametrize(("settings", "connector", "variable"), SECRETS)
def test_a_provider_length_secret_is_taken(
    monkeypatch: pytest.MonkeyPatch, settings: type[OmnitrailSettings], connector: type[Connector[Any]], variable: str
) -> None:
    monkeypatch.setenv(variable, "0123456789abcdef0123456789abcdef")  # Twilio's and Meta's are 32 hex characters
    assert connector.configured(load(settings))
