"""Which connectors exist, and which are enabled by the current settings.

Adding a channel is one line in ``CONNECTORS``: its settings class is then validated (unknown
``OMNITRAIL_*`` variables rejected), ``omnitrail connector NAME`` runs it alone and
``omnitrail up`` runs it whenever its settings say it is configured.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from psycopg_pool import AsyncConnectionPool

from connectors.base import AnyConnector
from connectors.email import EmailConnector
from connectors.email.threads import ThreadEntry
from connectors.events import EventsConnector
from connectors.livechat import LivechatConnector
from connectors.meta import MetaConnector
from connectors.spool_settings import SpoolSettings
from connectors.telegram import TelegramConnector
from connectors.twilio import TwilioConnector
from connectors.x import XConnector
from console.settings import AuthSettings, ConsoleSettings
from omnitrail.gdpr_settings import GdprSettings
from omnitrail.settings import AppSettings
from pipeline.identity_settings import IdentitySettings
from pipeline.suggestion_settings import SuggestionSettings
from schemas.config import OmnitrailSettings, load
from sinks.kafka.settings import KafkaSettings
from sinks.media.settings import MediaSettings
from sinks.subscriptions.settings import SubscriptionSettings
from sinks.thread_index import PostgresThreadIndex

CONNECTORS: dict[str, type[AnyConnector]] = {
    cls.name: cls
    for cls in (
        TwilioConnector,
        MetaConnector,
        XConnector,
        LivechatConnector,
        EventsConnector,
        TelegramConnector,
        EmailConnector,
    )
}
#: Settings of the roles themselves (every process, the pipeline), besides each connector's own.
ROLE_SETTINGS: list[type[OmnitrailSettings]] = [
    AppSettings,
    KafkaSettings,
    SuggestionSettings,
    IdentitySettings,
    SubscriptionSettings,
    ConsoleSettings,
    SpoolSettings,
    GdprSettings,
    AuthSettings,
    MediaSettings,
]
SETTINGS_CLASSES: list[type[OmnitrailSettings]] = [
    *ROLE_SETTINGS,
    *(cls.settings_cls for cls in CONNECTORS.values()),
]


def build(name: str, app_settings: AppSettings) -> AnyConnector:
    """The connector from its validated settings; FatalError naming the variable when one it needs is missing."""
    cls = CONNECTORS[name]
    return cls(load(cls.settings_cls), default_region=app_settings.default_region)


def share_memory(connectors: list[AnyConnector], pool: AsyncConnectionPool[Any]) -> None:
    """What connectors remember across processes, kept in PostgreSQL: email thread memory."""
    for connector in connectors:
        if isinstance(connector, EmailConnector):
            connector.use_thread_index(PostgresThreadIndex(pool, ThreadEntry))


def keep_attachments(connectors: list[AnyConnector], keep: Callable[[str, bytes], Awaitable[None]]) -> None:
    """Where connectors whose attachments arrive inside the message (email) write their bytes: the media store."""
    for connector in connectors:
        if isinstance(connector, EmailConnector):
            connector.keep_attachments(keep)


def enabled(app_settings: AppSettings) -> list[AnyConnector]:
    """Connectors whose credentials are configured (one without them mounts no routes and pulls nothing)."""
    return [build(name, app_settings) for name, cls in CONNECTORS.items() if cls.configured(load(cls.settings_cls))]
