"""Other systems: v1 interactions posted to ``/webhooks/events``."""

from __future__ import annotations

from connectors.events.connector import EventsConnector
from connectors.events.settings import EventsSettings

__all__ = ["EventsConnector", "EventsSettings"]
