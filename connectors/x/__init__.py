"""X (Twitter): direct messages through the Account Activity API webhook (``/webhooks/x``)."""

from __future__ import annotations

from connectors.x.connector import XConnector
from connectors.x.settings import XSettings

__all__ = ["XConnector", "XSettings"]
