"""Live chat, the Chatwoot adapter and other systems' events pass the webhook contract every connector passes."""

from __future__ import annotations

import uuid

from schemas.ids import interaction_id_for
from tests.contract import WebhookCall, WebhookContract
from tests.livechat_payloads import (
    CHATWOOT_SECRET,
    EVENTS_SECRET,
    LIVECHAT_SECRET,
    chat_event,
    chatwoot_message,
    chatwoot_signed,
    omnitrail_signed,
    v1_interaction,
)

VISITOR = {"id": "visitor-contract", "name": "Ana", "email": "ana.contract@example.pt"}


class TestLivechatContract(WebhookContract):
    source = "livechat"
    signature_headers = ("X-Omnitrail-Signature", "X-Omnitrail-Timestamp")

    def call(self, base_url: str, event: str, *, secret: str | None = None) -> WebhookCall:
        payload = chat_event(f"ev-{event}", "message", f"s-{event}", VISITOR, text="Olá")
        body, headers = omnitrail_signed(payload, secret or LIVECHAT_SECRET)
        return WebhookCall("/webhooks/livechat", body, headers)

    def expected_ids(self, event: str) -> list[uuid.UUID]:
        return [interaction_id_for("livechat", "website", f"ev-{event}")]

    def malformed(self, base_url: str) -> WebhookCall:
        payload = chat_event(f"ev-{uuid.uuid4().hex}", "typing", "s-bad", VISITOR)
        body, headers = omnitrail_signed(payload, LIVECHAT_SECRET)
        return WebhookCall("/webhooks/livechat", body, headers)


class TestChatwootContract(WebhookContract):
    source = "livechat.chatwoot"
    signature_headers = ("X-Chatwoot-Signature",)

    def call(self, base_url: str, event: str, *, secret: str | None = None) -> WebhookCall:
        body, headers = chatwoot_signed(chatwoot_message(int(event, 16)), secret or CHATWOOT_SECRET)
        return WebhookCall("/webhooks/livechat/chatwoot", body, headers)

    def expected_ids(self, event: str) -> list[uuid.UUID]:
        return [interaction_id_for("livechat", "chatwoot:1", f"message:{int(event, 16)}")]

    def malformed(self, base_url: str) -> WebhookCall:
        payload = chatwoot_message(uuid.uuid4().int >> 80)
        del payload["conversation"]
        body, headers = chatwoot_signed(payload)
        return WebhookCall("/webhooks/livechat/chatwoot", body, headers)


class TestEventsContract(WebhookContract):
    source = "events"
    signature_headers = ("X-Omnitrail-Signature",)

    def call(self, base_url: str, event: str, *, secret: str | None = None) -> WebhookCall:
        body, headers = omnitrail_signed(
            v1_interaction(f"Q-{event}", "erp.contract@example.pt"), secret or EVENTS_SECRET
        )
        return WebhookCall("/webhooks/events", body, headers)

    def expected_ids(self, event: str) -> list[uuid.UUID]:
        return [interaction_id_for("other", "erp", f"Q-{event}")]

    def malformed(self, base_url: str) -> WebhookCall:
        body, headers = omnitrail_signed({"channel": "fax", "external_id": uuid.uuid4().hex}, EVENTS_SECRET)
        return WebhookCall("/webhooks/events", body, headers)
