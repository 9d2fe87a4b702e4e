"""Twilio: messages (SMS, MMS, WhatsApp), message status and call status callbacks (``/webhooks/twilio/...``)."""

from __future__ import annotations

from connectors.twilio.connector import TwilioConnector
from connectors.twilio.settings import TwilioSettings

__all__ = ["TwilioConnector", "TwilioSettings"]
