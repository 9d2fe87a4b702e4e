"""Live chat: our documented widget event format and the Chatwoot adapter (``/webhooks/livechat...``)."""

from __future__ import annotations

from connectors.livechat.connector import LivechatConnector
from connectors.livechat.settings import LivechatSettings

__all__ = ["LivechatConnector", "LivechatSettings"]
