"""Twilio's message status and call status routes pass the webhook contract every connector passes."""

from __future__ import annotations

import uuid
from typing import Any

from schemas.ids import interaction_id_for
from schemas.interaction import Channel, Provider
from tests.channel_payloads import OUR_NUMBER, call_status, message_status
from tests.contract import WebhookCall, WebhookContract
from tests.helpers import AUTH_TOKEN, signed
from tests.interactions import outbound_message, produce

CUSTOMER = "+351912000111"


class TestTwilioStatusContract(WebhookContract):
    """A status callback adds no row: the one row is the outbound message it updates."""

    source = "twilio.status"
    signature_headers = ("X-Twilio-Signature",)
    path = "/webhooks/twilio/status"

    async def arrange(self, event: str, broker: Any) -> None:
        await produce(
            broker.bootstrap, [outbound_message(Channel.sms, Provider.twilio, OUR_NUMBER, f"SM{event}", CUSTOMER)]
        )

    def call(self, base_url: str, event: str, *, secret: str | None = None) -> WebhookCall:
        body, headers = signed(
            base_url + self.path, message_status(f"SM{event}", "delivered", CUSTOMER), secret or AUTH_TOKEN
        )
        return WebhookCall(self.path, body, headers)

    def expected_ids(self, event: str) -> list[uuid.UUID]:
        return [interaction_id_for("sms", OUR_NUMBER, f"SM{event}")]

    async def replayed(self, db: Any, event: str) -> bool:
        """The replayed callback is applied: the message it names reads delivered."""
        [message] = self.expected_ids(event)
        cur = await db.execute("SELECT delivery_status FROM interactions WHERE interaction_id = %s", (message,))
        row = await cur.fetchone()
        return row is not None and row[0] == "delivered"

    def malformed(self, base_url: str) -> WebhookCall:
        params = message_status(f"SM{uuid.uuid4().hex}", "sent", CUSTOMER)
        del params["MessageStatus"], params["SmsStatus"]
        body, headers = signed(base_url + self.path, params)
        return WebhookCall(self.path, body, headers)


class TestTwilioVoiceContract(WebhookContract):
    source = "twilio.voice"
    signature_headers = ("X-Twilio-Signature",)
    path = "/webhooks/twilio/voice"

    def call(self, base_url: str, event: str, *, secret: str | None = None) -> WebhookCall:
        params = call_status(f"CA{event}", "completed", CUSTOMER, sequence=3, duration=17)
        body, headers = signed(base_url + self.path, params, secret or AUTH_TOKEN)
        return WebhookCall(self.path, body, headers)

    def expected_ids(self, event: str) -> list[uuid.UUID]:
        return [interaction_id_for("voice", OUR_NUMBER, f"CA{event}")]

    def malformed(self, base_url: str) -> WebhookCall:
        params = call_status(f"CA{uuid.uuid4().hex}", "completed", CUSTOMER, sequence=3, duration=17)
        params["Direction"] = ""
        body, headers = signed(base_url + self.path, params)
        return WebhookCall(self.path, body, headers)
