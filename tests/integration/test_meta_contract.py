"""Meta's route passes the webhook contract for each of its three products."""

from __future__ import annotations

import uuid

from schemas.ids import interaction_id_for
from tests.channel_payloads import (
    IG_ACCOUNT_ID,
    META_APP_SECRET,
    PAGE_ID,
    messaging_event,
    meta_signed,
    page_payload,
    wa_contact,
    wa_text,
    whatsapp_payload,
    whatsapp_value,
)
from tests.contract import WebhookCall, WebhookContract

PATH = "/webhooks/meta"


class _MetaContract(WebhookContract):
    source = "meta"
    signature_headers = ("X-Hub-Signature-256",)

    def payload(self, event: str) -> dict[str, object]:
        raise NotImplementedError

    def call(self, base_url: str, event: str, *, secret: str | None = None) -> WebhookCall:
        body, headers = meta_signed(self.payload(event), secret or META_APP_SECRET)
        return WebhookCall(PATH, body, headers)

    def malformed(self, base_url: str) -> WebhookCall:
        payload = self.payload(uuid.uuid4().hex)
        payload["entry"] = [{"id": "1", "time": 1}]  # an entry with neither messaging nor changes
        body, headers = meta_signed(payload)
        return WebhookCall(PATH, body, headers)


class TestMessengerContract(_MetaContract):
    def payload(self, event: str) -> dict[str, object]:
        # Two messages in one POST: both must land, each exactly once.
        return page_payload(
            "page",
            PAGE_ID,
            messaging_event(f"m_{event}_1", "6213419858674542", PAGE_ID),
            messaging_event(f"m_{event}_2", "6213419858674542", PAGE_ID, echo=True),
        )

    def expected_ids(self, event: str) -> list[uuid.UUID]:
        return [interaction_id_for("messenger", PAGE_ID, f"m_{event}_{n}") for n in (1, 2)]


class TestInstagramContract(_MetaContract):
    def payload(self, event: str) -> dict[str, object]:
        return page_payload(
            "instagram", IG_ACCOUNT_ID, messaging_event(f"ig_{event}", "1254459154682919", IG_ACCOUNT_ID)
        )

    def expected_ids(self, event: str) -> list[uuid.UUID]:
        return [interaction_id_for("instagram", IG_ACCOUNT_ID, f"ig_{event}")]


class TestWhatsAppCloudContract(_MetaContract):
    def payload(self, event: str) -> dict[str, object]:
        value = whatsapp_value(
            contacts=[wa_contact("351912000222", "Rita")],
            messages=[wa_text(f"wamid.{event}", "351912000222", "Olá")],
        )
        return whatsapp_payload(value)

    def expected_ids(self, event: str) -> list[uuid.UUID]:
        return [interaction_id_for("whatsapp", "+351210000001", f"wamid.{event}")]
