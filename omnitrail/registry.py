"""Which connectors exist, and which are enabled by the current settings."""

from __future__ import annotations

from connectors.base import PushConnector
from connectors.twilio import TwilioConnector, TwilioSettings
from omnitrail.settings import AppSettings, KafkaSettings
from schemas.config import OmnitrailSettings, load

PUSH_CONNECTORS: dict[str, type[PushConnector]] = {TwilioConnector.name: TwilioConnector}
SETTINGS_CLASSES: list[type[OmnitrailSettings]] = [AppSettings, KafkaSettings, TwilioSettings]


def build_push(name: str, app: AppSettings) -> PushConnector:
    if name == TwilioConnector.name:
        return TwilioConnector(load(TwilioSettings), default_region=app.default_region)
    raise KeyError(name)


def enabled_push(app: AppSettings) -> list[PushConnector]:
    """Connectors whose credentials are configured (a connector without them mounts no routes)."""
    enabled: list[PushConnector] = []
    if load(TwilioSettings).auth_token is not None:
        enabled.append(build_push(TwilioConnector.name, app))
    return enabled
