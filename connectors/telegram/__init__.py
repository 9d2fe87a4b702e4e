"""Telegram: Bot API updates by webhook (``/webhooks/telegram/{bot}``) or by polling ``getUpdates``."""

from __future__ import annotations

from connectors.telegram.connector import TelegramConnector
from connectors.telegram.settings import TelegramSettings

__all__ = ["TelegramConnector", "TelegramSettings"]
