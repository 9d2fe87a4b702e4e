"""X's direct-message route passes the webhook contract."""

from __future__ import annotations

import uuid

from schemas.ids import interaction_id_for
from tests.channel_payloads import X_ACCOUNT_ID, X_CONSUMER_SECRET, x_dm, x_payload, x_signed, x_user
from tests.contract import WebhookCall, WebhookContract

PATH = "/webhooks/x"
USERS = {"3001969357": x_user("3001969357", "FuriousCamper", "Jordan Brinks")}


class TestXContract(WebhookContract):
    source = "x"
    signature_headers = ("x-twitter-webhooks-signature",)

    def call(self, base_url: str, event: str, *, secret: str | None = None) -> WebhookCall:
        payload = x_payload(x_dm(f"9{int(event, 16)}", "3001969357", X_ACCOUNT_ID, "Olá"), users=USERS)
        body, headers = x_signed(payload, secret or X_CONSUMER_SECRET)
        return WebhookCall(PATH, body, headers)

    def expected_ids(self, event: str) -> list[uuid.UUID]:
        return [interaction_id_for("other", X_ACCOUNT_ID, f"9{int(event, 16)}")]

    def malformed(self, base_url: str) -> WebhookCall:
        payload = x_payload(x_dm("1", "3001969357", X_ACCOUNT_ID, "x"), users=USERS)
        payload["direct_message_events"][0]["created_timestamp"] = "yesterday"
        body, headers = x_signed(payload)
        return WebhookCall(PATH, body, headers)
