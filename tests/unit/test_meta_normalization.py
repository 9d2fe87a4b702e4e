"""Meta webhooks: signature first, then Messenger, Instagram and WhatsApp Cloud API payloads as documented."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.webhook import Normalized, RawRequest
from schemas.errors import InvalidPayload, InvalidSignature
from schemas.ids import interaction_id_for
from schemas.interaction import Channel, Direction, InteractionKind
from tests.channel_payloads import (
    IG_ACCOUNT_ID,
    PAGE_ID,
    messaging_event,
    meta_connector,
    meta_signed,
    page_payload,
    wa_contact,
    wa_status,
    wa_text,
    whatsapp_payload,
    whatsapp_value,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CONNECTOR = meta_connector()


def raw(body: bytes, headers: dict[str, str]) -> RawRequest:
    return RawRequest(body=body, headers=headers, public_url="http://x/webhooks/meta", received_at=NOW)


def normalize(payload: dict[str, object]) -> Normalized:
    request = raw(*meta_signed(payload))
    CONNECTOR.verify(request)
    return CONNECTOR.normalize(request)


def test_signature_is_checked_on_the_raw_bytes() -> None:
    body, headers = meta_signed(page_payload("page", PAGE_ID, messaging_event("m_1", "6213", PAGE_ID)))
    CONNECTOR.verify(raw(body, headers))
    with pytest.raises(InvalidSignature):
        CONNECTOR.verify(raw(body + b" ", headers))  # one byte more: the same JSON, not the same signature
    with pytest.raises(InvalidSignature, match="missing"):
        CONNECTOR.verify(raw(body, {}))
    with pytest.raises(InvalidSignature):
        CONNECTOR.verify(raw(*meta_signed(json.loads(body), secret="someone-else")))


def test_messenger_message_with_text_and_attachment_is_inbound_from_the_psid() -> None:
    event = messaging_event(
        "m_abc",
        "6213419858674542",
        PAGE_ID,
        text="A encomenda chegou partida",
        attachments=[{"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/v/photo.jpg"}}],
    )
    [i] = normalize(page_payload("page", PAGE_ID, event)).interactions
    assert (i.channel, i.direction, i.account, i.external_id) == (
        Channel.messenger,
        Direction.inbound,
        PAGE_ID,
        "m_abc",
    )
    assert [x.key for x in i.customer_identifiers()] == ["messenger:6213419858674542"]
    assert i.text == "A encomenda chegou partida"
    assert [a.location for a in i.attachments] == ["https://scontent.xx.fbcdn.net/v/photo.jpg"]
    assert i.metadata["attachment_types"] == ["image"]
    assert i.occurred_at == datetime.fromtimestamp(1763888400, UTC)


def test_echo_of_our_reply_is_outbound_to_the_customer() -> None:
    event = messaging_event("m_echo", "6213419858674542", PAGE_ID, text="Vamos enviar outra", echo=True)
    [i] = normalize(page_payload("page", PAGE_ID, event)).interactions
    assert i.direction is Direction.outbound
    assert i.account == PAGE_ID
    assert [x.key for x in i.customer_identifiers()] == ["messenger:6213419858674542"]


def test_instagram_message_uses_the_instagram_identifier() -> None:
    event = messaging_event("aWdfZAG1", "1254459154682919", IG_ACCOUNT_ID, text="Olá")
    [i] = normalize(page_payload("instagram", IG_ACCOUNT_ID, event)).interactions
    assert i.channel is Channel.instagram
    assert [x.key for x in i.customer_identifiers()] == ["instagram:1254459154682919"]


def test_a_batch_keeps_every_good_event_and_rejects_the_bad_one_alone() -> None:
    bad = messaging_event("m_bad", "6213", PAGE_ID)
    del bad["sender"]
    deliveries = {"sender": {"id": "6213"}, "recipient": {"id": PAGE_ID}, "delivery": {"mids": ["m_1"]}}
    payload = page_payload("page", PAGE_ID, messaging_event("m_1", "6213", PAGE_ID), bad, deliveries)
    payload["entry"].append({"id": PAGE_ID, "time": 1, "messaging": [messaging_event("m_2", "7777", PAGE_ID)]})
    result = normalize(payload)
    assert [i.external_id for i in result.interactions] == ["m_1", "m_2"]
    [rejected] = result.rejected
    assert "sender" in rejected.reason
    # Dead-lettered as a body holding only it, in its entry: replay reads it like any body.
    alone = json.loads(rejected.raw)
    assert alone == {"object": "page", "entry": [{**payload["entry"][0], "messaging": [bad]}]}
    with pytest.raises(InvalidPayload, match="sender"):
        CONNECTOR.normalize(raw(rejected.raw, {}))
    alone["entry"][0]["messaging"][0]["sender"] = {"id": "6213"}  # what a fixed normalizer would read
    assert [i.external_id for i in CONNECTOR.normalize(raw(json.dumps(alone).encode(), {})).interactions] == ["m_bad"]


def test_unknown_object_is_invalid() -> None:
    with pytest.raises(InvalidPayload, match="object"):
        normalize({"object": "permissions", "entry": []})


def test_whatsapp_message_is_the_senders_phone_with_the_profile_name() -> None:
    value = whatsapp_value(
        contacts=[wa_contact("351912345678", "Ana Silva")],
        messages=[wa_text("wamid.HBgM1", "351912345678", "Bom dia")],
    )
    [i] = normalize(whatsapp_payload(value)).interactions
    assert (i.channel, i.direction, i.account) == (Channel.whatsapp, Direction.inbound, "+351210000001")
    assert [x.key for x in i.customer_identifiers()] == ["phone:+351912345678"]
    assert i.customer_display_name() == "Ana Silva"
    assert i.text == "Bom dia"
    assert i.interaction_id == interaction_id_for("whatsapp", "+351210000001", "wamid.HBgM1")


def test_whatsapp_document_becomes_attachment_metadata() -> None:
    message = {
        "from": "351912345678",
        "id": "wamid.DOC",
        "timestamp": "1763888400",
        "type": "document",
        "document": {
            "caption": "fatura",
            "filename": "fatura.pdf",
            "mime_type": "application/pdf",
            "sha256": "a" * 64,
            "id": "1234567890",
        },
    }
    [i] = normalize(whatsapp_payload(whatsapp_value(messages=[message]))).interactions
    [a] = i.attachments
    assert (a.name, a.content_type, a.sha256, a.location) == (
        "fatura.pdf",
        "application/pdf",
        "a" * 64,
        "whatsapp-media:1234567890",
    )
    assert i.text == "fatura"


def test_whatsapp_statuses_update_our_message_and_a_bad_one_is_rejected_alone() -> None:
    bad = wa_status("wamid.OUT", "read", "351912345678")
    del bad["recipient_id"]
    value = whatsapp_value(statuses=[wa_status("wamid.OUT", "delivered", "351912345678"), bad])
    result = normalize(whatsapp_payload(value))
    [update] = result.interactions
    assert update.kind is InteractionKind.status
    assert update.status is not None
    assert update.status.target_interaction_id == interaction_id_for("whatsapp", "+351210000001", "wamid.OUT")
    assert update.status.status == "delivered"
    assert [x.key for x in update.customer_identifiers()] == ["phone:+351912345678"]
    [rejected] = result.rejected
    # Alone in its change, with the value's metadata: the good status and the contacts are not in it.
    [change] = json.loads(rejected.raw)["entry"][0]["changes"]
    assert change["value"]["statuses"] == [bad]
    assert "contacts" not in change["value"]
    assert change["value"]["metadata"] == value["metadata"]
    with pytest.raises(InvalidPayload):
        CONNECTOR.normalize(raw(rejected.raw, {}))


def test_failed_whatsapp_status_carries_the_error_code() -> None:
    value = whatsapp_value(statuses=[wa_status("wamid.OUT", "failed", "351912345678")])
    [update] = normalize(whatsapp_payload(value)).interactions
    assert update.status is not None
    assert update.status.error_code == "131026"


def test_a_body_with_nothing_good_is_rejected_whole() -> None:
    bad = messaging_event("m_bad", "6213", PAGE_ID)
    del bad["sender"]
    with pytest.raises(InvalidPayload, match="sender"):
        normalize(page_payload("page", PAGE_ID, bad))


def test_events_that_are_not_messages_are_skipped_not_rejected() -> None:
    reads = {"sender": {"id": "6213"}, "recipient": {"id": PAGE_ID}, "timestamp": 1, "read": {"watermark": 1}}
    assert normalize(page_payload("page", PAGE_ID, reads)) == Normalized([])


def test_standby_messages_are_stored_feed_entries_skipped_and_an_entry_with_nothing_is_rejected() -> None:
    standby = {"id": PAGE_ID, "time": 1, "standby": [messaging_event("m_s", "6213", PAGE_ID)]}
    feed = {"id": PAGE_ID, "time": 1, "changes": [{"field": "feed", "value": {"item": "status"}}]}
    [message] = normalize({"object": "page", "entry": [standby, feed]}).interactions
    # Another app holds the thread, but what the customer wrote is still a customer message.
    assert (message.external_id, message.direction, message.text) == ("m_s", Direction.inbound, "Olá")
    assert [i.key for i in message.customer_identifiers()] == ["messenger:6213"]
    assert message.metadata["standby"] is True
    with pytest.raises(InvalidPayload, match="messaging"):
        normalize({"object": "page", "entry": [{"id": PAGE_ID, "time": 1}]})
