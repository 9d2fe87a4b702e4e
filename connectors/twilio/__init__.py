"""Twilio: SMS, MMS and WhatsApp webhooks (``/webhooks/twilio/...``)."""

from __future__ import annotations

from connectors.twilio.connector import TwilioConnector
from connectors.twilio.settings import TwilioSettings

__all__ = ["TwilioConnector", "TwilioSettings"]
