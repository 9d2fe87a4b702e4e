"""Twilio's incoming-message webhook passes the webhook contract every connector passes."""

from __future__ import annotations

import uuid

from schemas.ids import interaction_id_for
from tests.contract import WebhookCall, WebhookContract
from tests.helpers import AUTH_TOKEN, inbound_sms, signed

PATH = "/webhooks/twilio/messages"
OUR_NUMBER = "+351210000000"


class TestTwilioMessagesContract(WebhookContract):
    source = "twilio.messages"
    signature_headers = ("X-Twilio-Signature",)

    def call(self, base_url: str, event: str, *, secret: str | None = None) -> WebhookCall:
        params = inbound_sms(f"SM{event}", "+351912345678")
        body, headers = signed(base_url + PATH, params, secret or AUTH_TOKEN)
        return WebhookCall(PATH, body, headers)

    def expected_ids(self, event: str) -> list[uuid.UUID]:
        return [interaction_id_for("sms", OUR_NUMBER, f"SM{event}")]

    def malformed(self, base_url: str) -> WebhookCall:
        params = inbound_sms(f"SM{uuid.uuid4().hex}", "+351912345678")
        del params["From"]
        body, headers = signed(base_url + PATH, params)
        return WebhookCall(PATH, body, headers)
