"""Suggestions through the real process tree: `omnitrail up` runs the worker whose suggestions
agent opens an "unanswered" suggestion for a signed Twilio SMS once its (short) SLA passed, and
closes it when our outbound reply flows through the pipeline."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.interaction import Channel, Direction, Interaction
from tests import fresh
from tests.helpers import inbound_sms, signed
from tests.integration.stack import AGENT, Stack, StartStack, eventually, read_topic
from tests.interactions import interaction

pytestmark = pytest.mark.integration
OUR_NUMBER = "+351210000000"


@pytest.fixture(scope="module")
def stack(private_broker: EmbeddedBroker, private_database_url: str, start_stack: StartStack) -> Stack:
    # The broker and database first: set up before the stack, so torn down after it.
    return start_stack(
        bootstrap=private_broker.bootstrap,
        database_url=private_database_url,
        OMNITRAIL_SUGGESTIONS_SLA_S='{"sms": 2}',
        OMNITRAIL_SUGGESTIONS_TICK_INTERVAL_S="0.5",
    )


def reply_to(e164: str) -> Interaction:
    """Our outbound SMS to the customer, as a connector would produce it."""
    return interaction(Channel.sms, e164, direction=Direction.outbound, text="Olá, já verificámos a encomenda.")


async def test_openapi_lists_the_suggestion_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/api/v1/contacts/{contact_id}/suggestions", "/api/v1/suggestions"} <= set(paths)


async def test_unanswered_sms_opens_a_suggestion_and_our_reply_closes_it(
    client: httpx.AsyncClient, stack: Stack, private_broker: EmbeddedBroker
) -> None:
    e164 = fresh.phone()
    body, headers = signed(stack.url + "/webhooks/twilio/messages", inbound_sms(f"SM{uuid.uuid4().hex}", e164))
    assert (await client.post("/webhooks/twilio/messages", content=body, headers=headers)).status_code == 200

    async def contact_id() -> str | None:
        items = (await client.get("/api/v1/contacts", params={"q": e164}, headers=AGENT)).json()["items"]
        return items[0]["contact_id"] if items else None

    contact = await eventually(contact_id, what="contact")
    url = f"/api/v1/contacts/{contact}/suggestions"

    async def listed(status: str) -> list[dict[str, Any]]:
        response = await client.get(url, params={"status": status}, headers=AGENT)
        assert response.status_code == 200
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    [opened] = await eventually(lambda: listed("open"), what="open suggestion")
    assert opened["rule"] == "unanswered"
    assert opened["reason"].startswith("The customer's SMS message has had no reply for ")
    assert opened["reason"].endswith("; SMS messages should be answered within 2 seconds.")
    everyone = (await client.get("/api/v1/suggestions", params={"status": "open"}, headers=AGENT)).json()["items"]
    assert opened["suggestion_id"] in {s["suggestion_id"] for s in everyone}

    reply = reply_to(e164)
    producer = AIOKafkaProducer(bootstrap_servers=private_broker.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topics.INTERACTIONS, reply.model_dump_json().encode(), key=reply.routing_key())
    finally:
        await producer.stop()

    [closed] = await eventually(lambda: listed("closed"), what="closed suggestion")
    assert (closed["suggestion_id"], closed["close_reason"]) == (opened["suggestion_id"], "answered")
    assert await listed("open") == []

    async def published() -> list[str] | None:
        records = [json.loads(v) for k, v in await read_topic(private_broker.bootstrap, topics.SUGGESTIONS) if v]
        statuses = [r["status"] for r in records if r["suggestion_id"] == opened["suggestion_id"]]
        return statuses if "closed" in statuses else None

    assert await eventually(published, what="closed on the topic") == ["open", "closed"]
