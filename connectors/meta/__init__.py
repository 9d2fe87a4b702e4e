"""Meta: Messenger, Instagram and WhatsApp Cloud API webhooks (``/webhooks/meta``)."""

from __future__ import annotations

from connectors.meta.connector import MetaConnector
from connectors.meta.settings import MetaSettings

__all__ = ["MetaConnector", "MetaSettings"]
