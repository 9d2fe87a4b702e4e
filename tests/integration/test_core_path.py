"""A customer's SMS becomes exactly one entry in their unified timeline: through `omnitrail up`,
the real broker and PostgreSQL, with requests signed the way Twilio signs them."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.ids import interaction_id_for
from sinks.connection import Conn
from tests import fresh
from tests.helpers import inbound_sms, signed
from tests.integration.identity_helpers import find_contact, found_contact
from tests.integration.rows import one
from tests.integration.stack import AGENT, Stack, StartStack, eventually, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Stack:
    return start_stack()


def a_phone() -> tuple[str, str]:
    """A fresh Portuguese mobile, as (national spelling, E.164)."""
    e164 = fresh.phone()
    return fresh.national(e164), e164


async def post_sms(client: httpx.AsyncClient, stack: Stack, params: dict[str, str]) -> httpx.Response:
    body, headers = signed(stack.url + "/webhooks/twilio/messages", params)
    return await client.post("/webhooks/twilio/messages", content=body, headers=headers)


async def test_ready_health_metrics_and_openapi(client: httpx.AsyncClient) -> None:
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"broker": "ok", "database": "ok", "pipeline": "ok"}
    assert (await client.get("/healthz")).status_code == 200
    assert "omnitrail_webhook" in (await client.get("/metrics")).text
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/webhooks/twilio/messages", "/api/v1/contacts", "/api/v1/contacts/{contact_id}/timeline"} <= set(paths)


async def test_signed_sms_appears_in_the_customers_timeline(client: httpx.AsyncClient, stack: Stack) -> None:
    national, e164 = a_phone()
    sid = f"SM{uuid.uuid4().hex}"
    response = await post_sms(client, stack, inbound_sms(sid, national, body="Olá! A encomenda 123 não chegou."))
    assert response.status_code == 200
    assert response.text.startswith("<?xml")
    assert "<Response" in response.text

    contact = await eventually(lambda: find_contact(client, e164), what="contact")
    assert contact["identifiers"] == [{"kind": "phone", "value": e164}]
    assert (await found_contact(client, national))["contact_id"] == contact["contact_id"]  # any spelling finds it
    assert (await found_contact(client, e164.replace("+", "00")))["contact_id"] == contact["contact_id"]

    page = (await client.get(f"/api/v1/contacts/{contact['contact_id']}/timeline", headers=AGENT)).json()
    [item] = page["items"]
    assert item["external_id"] == sid
    assert item["channel"] == "sms"
    assert item["direction"] == "inbound"
    assert item["provider"] == "twilio"
    assert item["text"] == "Olá! A encomenda 123 não chegou."
    assert item["contact_id"] == contact["contact_id"]
    assert page["next_cursor"] is None


async def test_twilio_retries_give_one_row_and_one_interaction_added(
    client: httpx.AsyncClient, stack: Stack, broker: EmbeddedBroker, db: Conn
) -> None:
    national, e164 = a_phone()
    sid = f"SM{uuid.uuid4().hex}"
    for _ in range(3):
        assert (await post_sms(client, stack, inbound_sms(sid, national))).status_code == 200
    interaction_id = interaction_id_for("sms", "+351210000000", sid)

    async def stored() -> int:
        cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = %s", (interaction_id,))
        return int((await one(cur))[0])

    assert await eventually(stored, what="row") == 1

    async def added_events() -> list[dict[str, Any]]:
        events = [json.loads(v) for _, v in await read_topic(broker.bootstrap, topics.TIMELINE) if v]
        return [
            e for e in events if e.get("interaction", {}) and e["interaction"]["interaction_id"] == str(interaction_id)
        ]

    # A barrier: a later message from the same phone has the same Kafka key, so the pipeline handles it after
    # the three copies, and the timeline event it makes (keyed by the same contact) comes after any of theirs.
    marker_sid = f"SM{uuid.uuid4().hex}"
    assert (await post_sms(client, stack, inbound_sms(marker_sid, national))).status_code == 200
    marker_id = str(interaction_id_for("sms", "+351210000000", marker_sid))

    async def marker_added() -> bool:
        events = [json.loads(v) for _, v in await read_topic(broker.bootstrap, topics.TIMELINE) if v]
        return any((e.get("interaction") or {}).get("interaction_id") == marker_id for e in events)

    await eventually(marker_added, what="the later message's interaction.added")
    events = await added_events()
    assert [e["type"] for e in events] == ["interaction.added"]
    contact = await found_contact(client, e164)
    assert events[0]["contact_id"] == contact["contact_id"]
    snapshots = [json.loads(v) for k, v in await read_topic(broker.bootstrap, topics.CONTACTS) if v]
    assert any(s["contact_id"] == contact["contact_id"] for s in snapshots)
    timeline = (await client.get(f"/api/v1/contacts/{contact['contact_id']}/timeline", headers=AGENT)).json()
    assert sorted(i["external_id"] for i in timeline["items"]) == sorted([sid, marker_sid])


async def test_bad_signature_is_403_and_nothing_is_stored(client: httpx.AsyncClient, stack: Stack, db: Conn) -> None:
    national, e164 = a_phone()
    sid = f"SM{uuid.uuid4().hex}"
    body, headers = signed(stack.url + "/webhooks/twilio/messages", inbound_sms(sid, national), token="wrong-token")
    response = await client.post("/webhooks/twilio/messages", content=body, headers=headers)
    assert response.status_code == 403
    # A correctly signed message sent afterwards is stored: proof the pipeline was flowing meanwhile.
    marker_sid = f"SM{uuid.uuid4().hex}"
    assert (await post_sms(client, stack, inbound_sms(marker_sid, national))).status_code == 200
    contact = await eventually(lambda: find_contact(client, e164), what="contact")
    timeline = (await client.get(f"/api/v1/contacts/{contact['contact_id']}/timeline", headers=AGENT)).json()
    assert [i["external_id"] for i in timeline["items"]] == [marker_sid]
    cur = await db.execute(
        "SELECT count(*) FROM interactions WHERE interaction_id = %s",
        (interaction_id_for("sms", "+351210000000", sid),),
    )
    assert (await one(cur))[0] == 0


async def test_unnormalizable_payload_is_400_and_dead_lettered_with_raw_bytes(
    client: httpx.AsyncClient, stack: Stack, broker: EmbeddedBroker
) -> None:
    marker = f"SM{uuid.uuid4().hex}"
    params = inbound_sms(marker, "call me maybe")
    body, headers = signed(stack.url + "/webhooks/twilio/messages", params)
    response = await client.post("/webhooks/twilio/messages", content=body, headers=headers)
    assert response.status_code == 400
    assert "phone" in response.json()["reason"]

    async def dead_letter() -> dict[str, Any] | None:
        for _, value in await read_topic(broker.bootstrap, topics.DEADLETTER):
            assert value is not None  # every record on these topics has a value
            record: dict[str, Any] = json.loads(value)
            if marker.encode() in base64.b64decode(record["raw_base64"]):
                return record
        return None

    record = await eventually(dead_letter, what="dead letter")
    assert base64.b64decode(record["raw_base64"]) == body
    assert record["source"] == "twilio.messages"
    assert "phone" in record["reason"]


async def test_api_requires_a_valid_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/contacts", params={"q": "x"})).status_code == 401
    bad = await client.get("/api/v1/contacts", params={"q": "x"}, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    missing = await client.get(f"/api/v1/contacts/{uuid.uuid4()}/timeline", headers=AGENT)
    assert missing.status_code == 404


async def test_timeline_pages_with_a_cursor_in_both_orders(client: httpx.AsyncClient, stack: Stack) -> None:
    national, e164 = a_phone()
    sids = [f"SM{n}{uuid.uuid4().hex}" for n in range(5)]
    for sid in sids:  # sequential: each gets a later occurred_at
        assert (await post_sms(client, stack, inbound_sms(sid, national))).status_code == 200
    contact = await eventually(lambda: find_contact(client, e164), what="contact")
    url = f"/api/v1/contacts/{contact['contact_id']}/timeline"

    async def all_five() -> bool:
        return len((await client.get(url, headers=AGENT, params={"limit": 10})).json()["items"]) == 5

    await eventually(all_five, what="5 rows")
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(url, headers=AGENT, params=params)).json()
        seen += [i["external_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(sids))
    ascending = (await client.get(url, headers=AGENT, params={"order": "asc", "limit": 10})).json()
    assert [i["external_id"] for i in ascending["items"]] == sids
    assert (await client.get(url, headers=AGENT, params={"cursor": "garbage"})).status_code == 400


def test_log_output_has_no_personal_data(stack: Stack) -> None:
    """Everything `omnitrail up` logged during the tests above: no phone numbers, no message text."""
    text = Path(stack.log_path).read_text()
    assert "+351210000000" not in text
    assert "Olá" not in text
    assert "encomenda" not in text
