"""Live-chat events, Chatwoot messages and other systems' v1 interactions, normalized."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.events.connector import EventsConnector
from connectors.livechat.chatwoot import normalize_chatwoot
from connectors.livechat.events import normalize_body
from connectors.webhook import RawRequest, Rejected
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, unverified_in
from schemas.ids import interaction_id_for
from schemas.interaction import Direction, Interaction, InteractionKind
from tests.livechat_payloads import IDENTITY_SECRET, chat_event, chatwoot_message, v1_interaction, vouched

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
VISITOR = {"id": "v-42", "name": "Ana Silva", "email": " Ana.Silva@Example.PT ", "phone": "912 345 678"}


def livechat(*events: dict[str, Any], identity_secret: bytes | None = None) -> list[Interaction]:
    body = json.dumps(list(events) if len(events) > 1 else events[0]).encode()
    return normalize_body(
        body, account="website", received_at=NOW, default_region="PT", identity_secret=identity_secret
    ).interactions


def test_a_session_is_one_thread_with_the_prechat_identifiers_on_the_visitor() -> None:
    start, question, answer, end = livechat(
        chat_event("e1", "session.started", "s1", VISITOR),
        chat_event("e2", "message", "s1", {"id": "v-42"}, text="A encomenda não chegou"),
        chat_event("e3", "message", "s1", {"id": "v-42"}, author="agent", agent={"name": "Rui"}, text="Vou ver"),
        chat_event("e4", "session.ended", "s1", {"id": "v-42"}),
    )
    assert {i.thread_key for i in (start, question, answer, end)} == {"livechat:website:s1"}
    assert [i.kind for i in (start, question, answer, end)] == [
        InteractionKind.note,
        InteractionKind.message,
        InteractionKind.message,
        InteractionKind.note,
    ]
    # What the visitor typed is unverified: never an identifier of the party, only a claim to review.
    assert start.customer_identifiers() == [Identifier(kind="livechat", value="website:v-42")]
    assert unverified_in(start.metadata) == [
        Identifier(kind="email", value="ana.silva@example.pt"),
        Identifier(kind="phone", value="+351912345678"),
    ]
    assert start.customer_display_name() == "Ana Silva"
    assert question.direction is Direction.inbound
    assert answer.direction is Direction.outbound
    assert answer.sender.display_name == "Rui"
    # The agent's reply is attached to the visitor, not to us.
    assert answer.customer_identifiers() == [Identifier(kind="livechat", value="website:v-42")]
    assert question.interaction_id == interaction_id_for("livechat", "website", "e2")


def test_a_typo_in_the_prechat_form_drops_that_field_not_the_chat() -> None:
    [start] = livechat(chat_event("e1", "session.started", "s1", {**VISITOR, "email": "ana at example"}))
    assert [i.kind.value for i in start.customer_identifiers()] == ["livechat"]
    assert [i.kind.value for i in unverified_in(start.metadata)] == ["phone"]
    assert start.metadata["invalid_prechat_fields"] == ["email"]


def test_an_email_the_site_vouches_for_is_an_identifier_and_the_phone_stays_a_claim() -> None:
    secret = IDENTITY_SECRET.encode()
    [start] = livechat(chat_event("e1", "session.started", "s1", vouched(VISITOR)), identity_secret=secret)
    assert start.customer_identifiers() == [
        Identifier(kind="livechat", value="website:v-42"),
        Identifier(kind="email", value="ana.silva@example.pt"),
    ]
    assert unverified_in(start.metadata) == [Identifier(kind="phone", value="+351912345678")]
    not_hex = {**vouched(VISITOR), "identity_hash": "é" * 64}  # was a TypeError: the chat event lost
    for forged in (vouched(VISITOR, "another-secret"), {**vouched(VISITOR), "email": "bruno@example.pt"}, not_hex):
        [chat] = livechat(chat_event("e1", "session.started", "s1", forged), identity_secret=secret)
        assert [i.kind.value for i in chat.customer_identifiers()] == ["livechat"], forged
    [unconfigured] = livechat(chat_event("e1", "session.started", "s1", vouched(VISITOR)))
    assert [i.kind.value for i in unconfigured.customer_identifiers()] == ["livechat"]


def test_one_bad_event_in_a_batch_is_rejected_alone_with_its_own_bytes() -> None:
    bad = chat_event("e2", "typing", "s1", VISITOR)
    result = normalize_body(
        json.dumps([chat_event("e1", "message", "s1", VISITOR, text="olá"), bad]).encode(),
        account="website",
        received_at=NOW,
        default_region="PT",
    )
    assert [i.external_id for i in result.interactions] == ["e1"]
    [rejected] = result.rejected
    assert rejected.reason == "invalid live-chat event 1: type: enum"
    assert json.loads(rejected.raw) == bad
    assert "ana" not in rejected.reason.lower()


def test_a_body_that_is_not_json_is_invalid() -> None:
    with pytest.raises(InvalidPayload, match="not JSON"):
        normalize_body(b"{nope", account="website", received_at=NOW, default_region="PT")


def test_chatwoot_incoming_and_outgoing_messages_share_the_conversation_thread() -> None:
    contact = {"id": 12, "name": "jane", "email": "jane@acme.inc", "phone_number": "+351912000111"}
    [incoming] = normalize_chatwoot(
        json.dumps(chatwoot_message(118, contact=contact)).encode(), received_at=NOW, default_region="PT"
    )
    [outgoing] = normalize_chatwoot(
        json.dumps(chatwoot_message(119, contact=contact, message_type="outgoing", content="Olá Jane")).encode(),
        received_at=NOW,
        default_region="PT",
    )
    assert incoming.thread_key == outgoing.thread_key == "livechat:chatwoot:1:10"
    assert incoming.direction is Direction.inbound
    assert outgoing.direction is Direction.outbound
    assert incoming.occurred_at == datetime(2021, 7, 23, 18, 2, 48, tzinfo=UTC)
    # Chatwoot's webhooks do not say whether it verified the contact's email and phone: claims only.
    assert {i.key for i in incoming.customer_identifiers()} == {"livechat:chatwoot:1:12"}
    assert {i.key for i in unverified_in(incoming.metadata)} == {"email:jane@acme.inc", "phone:+351912000111"}
    assert outgoing.customer_identifiers() == incoming.customer_identifiers()
    assert outgoing.sender.display_name == "John"
    assert incoming.external_id == "message:118"


def test_chatwoot_events_without_a_customer_conversation_are_acknowledged_not_ingested() -> None:
    for payload in (
        chatwoot_message(1, private=True),
        chatwoot_message(2, message_type="activity"),
        {**chatwoot_message(3), "event": "message_updated"},
        {"event": "conversation_status_changed", "id": 10},
    ):
        assert normalize_chatwoot(json.dumps(payload).encode(), received_at=NOW, default_region="PT") == []


def test_a_chatwoot_message_without_its_conversation_is_invalid() -> None:
    payload = chatwoot_message(4)
    del payload["conversation"]
    with pytest.raises(InvalidPayload, match="conversation"):
        normalize_chatwoot(json.dumps(payload).encode(), received_at=NOW, default_region="PT")


def events(body: object) -> tuple[list[Interaction], list[Rejected]]:
    raw = RawRequest(json.dumps(body).encode(), {}, "http://x/webhooks/events", NOW)
    result = EventsConnector._normalize(raw)
    return result.interactions, result.rejected


def test_other_systems_post_v1_interactions_singly_or_batched_and_get_deterministic_ids() -> None:
    [single], _ = events(v1_interaction("Q-1", "ana@example.pt"))
    assert single.interaction_id == interaction_id_for("other", "erp", "Q-1")
    assert single.received_at == NOW
    batch, rejected = events(
        [v1_interaction("Q-2", "ana@example.pt"), v1_interaction("Q-3", "Ana@Example.pt"), {"channel": "fax"}]
    )
    assert [i.external_id for i in batch] == ["Q-2"]
    assert [r.reason for r in rejected] == [
        "invalid interaction 1: recipients.0.identifiers.0: value_error",
        "invalid interaction 2: account: missing",
    ]
    assert "ana" not in " ".join(r.reason.lower() for r in rejected)


def test_an_interaction_naming_no_customer_is_refused_at_the_door() -> None:
    item = v1_interaction("Q-9", "ana@example.pt")
    item["recipients"] = []
    [rejected] = events([item])[1]
    assert rejected.reason == "invalid interaction 0: interaction names no customer identifier to attach it to"
