"""Live chat and other systems through `omnitrail up`: a chat joins the contact whose email the site
vouches for, as one thread; what an anonymous visitor types merges nobody and only opens review
items; one invalid item of a batch of events is dead-lettered alone."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.ids import interaction_id_for
from sinks.connection import Conn
from tests.integration.identity_helpers import find_contact, found_contact, reviews_naming
from tests.integration.rows import one
from tests.integration.stack import AGENT, Stack, eventually, read_topic
from tests.livechat_payloads import (
    EVENTS_SECRET,
    LIVECHAT_SECRET,
    chat_event,
    chatwoot_message,
    chatwoot_signed,
    omnitrail_signed,
    v1_interaction,
    vouched,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(webhook_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=webhook_stack.url, timeout=15) as http:
        yield http


async def post(client: httpx.AsyncClient, path: str, payload: Any, secret: str) -> httpx.Response:
    body, headers = omnitrail_signed(payload, secret)
    return await client.post(path, content=body, headers=headers)


async def timeline(client: httpx.AsyncClient, contact_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/contacts/{contact_id}/timeline", params={"order": "asc", "limit": 50}, headers=AGENT
    )
    assert response.status_code == 200
    return list(response.json()["items"])


async def test_a_chat_whose_vouched_email_matches_a_contact_lands_in_their_timeline_as_one_thread(
    client: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:10]
    email = f"ana.{tag}@example.pt"
    start = datetime.now(UTC) - timedelta(minutes=10)
    # The contact exists already: an order confirmation another system sent them.
    order = v1_interaction(f"ORD-{tag}", email, text="Order confirmed", occurred_at=start.isoformat())
    assert (await post(client, "/webhooks/events", order, EVENTS_SECRET)).status_code == 200
    contact = await eventually(lambda: find_contact(client, email), what="the contact from the order")

    # A signed-in customer: the site's server signs her email (identity verification).
    visitor = vouched({"id": f"v-{tag}", "name": "Ana Silva", "email": f"  ANA.{tag.upper()}@Example.PT", "phone": ""})
    session = f"s-{tag}"
    events = [
        chat_event(f"{tag}-1", "session.started", session, visitor, occurred_at=start + timedelta(minutes=1)),
        chat_event(
            f"{tag}-2",
            "message",
            session,
            {"id": visitor["id"]},
            text="Where is my order?",
            occurred_at=start + timedelta(minutes=2),
        ),
        chat_event(
            f"{tag}-3",
            "message",
            session,
            {"id": visitor["id"]},
            author="agent",
            agent={"name": "Rui"},
            text="It ships today.",
            occurred_at=start + timedelta(minutes=3),
        ),
        chat_event(
            f"{tag}-4", "session.ended", session, {"id": visitor["id"]}, occurred_at=start + timedelta(minutes=4)
        ),
    ]
    for event in events[:2]:
        assert (await post(client, "/webhooks/livechat", event, LIVECHAT_SECRET)).status_code == 200
    response = await post(client, "/webhooks/livechat", events[2:], LIVECHAT_SECRET)  # a widget may batch
    assert response.status_code == 200
    assert response.json()["accepted"] == [str(interaction_id_for("livechat", "website", e["id"])) for e in events[2:]]

    async def whole_chat() -> list[dict[str, Any]] | None:
        items = await timeline(client, contact["contact_id"])
        return items if len(items) == 5 else None

    items = await eventually(whole_chat, what="the order and the four chat events in one timeline")
    assert [i["external_id"] for i in items] == [f"ORD-{tag}"] + [e["id"] for e in events]
    chat = items[1:]
    assert {i["thread_key"] for i in chat} == {f"livechat:website:{session}"}
    assert [(i["kind"], i["direction"]) for i in chat] == [
        ("note", "inbound"),
        ("message", "inbound"),
        ("message", "outbound"),
        ("note", "inbound"),
    ]
    assert [i["text"] for i in chat[1:3]] == ["Where is my order?", "It ships today."]
    # Still the one contact, now also reachable by the chat visitor id.
    linked = await find_contact(client, f"website:v-{tag}")
    assert linked is not None
    assert linked["contact_id"] == contact["contact_id"]
    assert {"kind": "livechat", "value": f"website:v-{tag}"} in linked["identifiers"]


async def test_a_batch_of_events_with_one_invalid_item_ingests_the_rest_and_dead_letters_it(
    client: httpx.AsyncClient, db: Conn, broker: EmbeddedBroker
) -> None:
    tag = uuid.uuid4().hex[:10]
    good = [v1_interaction(f"Q-{tag}-{n}", f"buyer.{tag}@example.pt") for n in range(2)]
    bad = v1_interaction(f"Q-{tag}-bad", f"buyer.{tag}@example.pt", direction="sideways")
    response = await post(client, "/webhooks/events", [good[0], bad, good[1]], EVENTS_SECRET)
    assert response.status_code == 200, response.text
    ids = [interaction_id_for("other", "erp", g["external_id"]) for g in good]
    assert response.json()["accepted"] == [str(i) for i in ids]

    async def stored() -> bool:
        cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
        return bool((await one(cur))[0] == 2)

    await eventually(stored, what="the two valid events")

    async def dead_letter() -> DeadLetter | None:
        for _, value in await read_topic(broker.bootstrap, topics.DEADLETTER):
            record = DeadLetter.model_validate_json(value or b"{}") if value else None
            # Other tests of the session dead-letter hostile "events" bodies (50,000-deep JSON): match bytes first.
            if record and record.source == "events" and bad["external_id"].encode() in record.raw:
                return record
        return None

    record = await eventually(dead_letter, what="the invalid item on the dead-letter topic")
    assert record.reason == "invalid interaction 1: direction: enum"
    assert json.loads(record.raw) == bad
    cur = await db.execute(
        "SELECT count(*) FROM interactions WHERE interaction_id = %s",
        (interaction_id_for("other", "erp", bad["external_id"]),),
    )
    assert (await one(cur))[0] == 0


async def reviews_between(client: httpx.AsyncClient, contact: str) -> dict[str, dict[str, Any]]:
    """Open review items naming the contact, by the other contact."""
    items = await reviews_naming(client, contact)
    return {item["contact_b"] if item["contact_a"] == contact else item["contact_a"]: item for item in items}


async def test_an_anonymous_prechat_form_naming_two_people_merges_nobody_and_suggests_each_merge(
    client: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:10]
    email, phone = f"ana.{tag}@example.pt", f"+3519{int(tag[:8], 16) % 10**8:08d}"
    for external_id, identifier in ((f"A-{tag}", {"email": email}), (f"B-{tag}", {"phone": phone})):
        order = v1_interaction(external_id, email, text="Order confirmed")
        order["recipients"][0]["identifiers"] = [{"kind": k, "value": v} for k, v in identifier.items()]
        assert (await post(client, "/webhooks/events", order, EVENTS_SECRET)).status_code == 200
    ana = await eventually(lambda: find_contact(client, email), what="Ana's contact")
    bruno = await eventually(lambda: find_contact(client, phone), what="Bruno's contact")
    assert ana["contact_id"] != bruno["contact_id"]

    # Someone types Ana's email and Bruno's phone into the pre-chat form, without the site vouching.
    visitor = {"id": f"v-{tag}", "name": "Whoever", "email": email, "phone": phone}
    chat = chat_event(f"{tag}-1", "session.started", f"s-{tag}", visitor, occurred_at=datetime.now(UTC))
    assert (await post(client, "/webhooks/livechat", chat, LIVECHAT_SECRET)).status_code == 200
    visitor_contact = await eventually(lambda: find_contact(client, f"website:v-{tag}"), what="the chat's contact")

    async def both() -> dict[str, dict[str, Any]] | None:
        found = await reviews_between(client, visitor_contact["contact_id"])
        return found if {ana["contact_id"], bruno["contact_id"]} <= set(found) else None

    suggested = await eventually(both, what="two review items")
    assert {i["rule"] for i in suggested.values()} == {"unverified_identifier"}
    assert suggested[ana["contact_id"]]["evidence"]["unverified"] == f"email:{email}"
    assert suggested[bruno["contact_id"]]["evidence"]["unverified"] == f"phone:{phone}"
    # Nobody merged: Ana, Bruno and the visitor are three contacts, each with only their own data.
    assert [i["value"] for i in (await found_contact(client, email))["identifiers"]] == [email]
    assert [i["value"] for i in (await found_contact(client, phone))["identifiers"]] == [phone]
    assert [i["kind"] for i in visitor_contact["identifiers"]] == ["livechat"]
    assert [i["external_id"] for i in await timeline(client, ana["contact_id"])] == [f"A-{tag}"]
    assert [i["external_id"] for i in await timeline(client, bruno["contact_id"])] == [f"B-{tag}"]


async def test_a_chatwoot_conversation_does_not_join_the_contact_its_email_names_but_suggests_it(
    client: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:10]
    email = f"jane.{tag}@acme.inc"
    order = v1_interaction(f"ORD-{tag}", email, text="Order confirmed", occurred_at="2021-07-23T18:00:00+00:00")
    assert (await post(client, "/webhooks/events", order, EVENTS_SECRET)).status_code == 200
    contact = await eventually(lambda: find_contact(client, email), what="the contact from the order")

    chatwoot_contact = {"id": int(tag[:6], 16), "name": "jane", "email": email, "phone_number": None}
    conversation = int(tag[4:10], 16)
    for message_id, message_type in ((int(tag, 16), "incoming"), (int(tag, 16) + 1, "outgoing")):
        payload = chatwoot_message(
            message_id, conversation_id=conversation, message_type=message_type, contact=chatwoot_contact
        )
        body, headers = chatwoot_signed(payload)
        assert (await client.post("/webhooks/livechat/chatwoot", content=body, headers=headers)).status_code == 200

    chatter = await eventually(
        lambda: find_contact(client, f"chatwoot:1:{chatwoot_contact['id']}"), what="the conversation's contact"
    )

    async def whole_conversation() -> list[dict[str, Any]] | None:
        items = await timeline(client, chatter["contact_id"])
        return items if len(items) == 2 else None

    items = await eventually(whole_conversation, what="the Chatwoot messages in their own timeline")
    # Both messages carry the documented sample's created_at: same instant, so compare without order.
    assert sorted((i["channel"], i["direction"]) for i in items) == [("livechat", "inbound"), ("livechat", "outbound")]
    assert {i["thread_key"] for i in items} == {f"livechat:chatwoot:1:{conversation}"}
    # Chatwoot does not say it verified the email: staff are asked, the order's contact is untouched.
    review = (await eventually(lambda: reviews_between(client, chatter["contact_id"]), what="a review item"))[
        contact["contact_id"]
    ]
    assert (review["rule"], review["evidence"]["unverified"]) == ("unverified_identifier", f"email:{email}")
    assert [i["external_id"] for i in await timeline(client, contact["contact_id"])] == [f"ORD-{tag}"]
