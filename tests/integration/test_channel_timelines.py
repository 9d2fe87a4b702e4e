"""What a support agent sees after Twilio callbacks, Meta and X webhooks: through ``omnitrail up``'s
HTTP port, the real broker and PostgreSQL, with requests signed as each provider signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import uuid
from typing import Any

import httpx
import pytest

from schemas import topics
from schemas.ids import interaction_id_for
from schemas.interaction import Channel, Provider
from tests import fresh
from tests.channel_payloads import (
    OUR_NUMBER,
    PAGE_ID,
    X_ACCOUNT_ID,
    X_CONSUMER_SECRET,
    call_status,
    message_status,
    messaging_event,
    meta_signed,
    page_payload,
    wa_contact,
    wa_status,
    wa_text,
    whatsapp_payload,
    whatsapp_value,
    x_dm,
    x_payload,
    x_signed,
    x_user,
)
from tests.helpers import inbound_sms, signed
from tests.integration.rows import one
from tests.integration.stack import AGENT, eventually, read_topic
from tests.interactions import outbound_message, produce

pytestmark = pytest.mark.integration
WA_ACCOUNT = "+351210000001"


async def post(stack: Any, path: str, body: bytes, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 200, response.text


async def post_twilio(stack: Any, path: str, params: dict[str, str]) -> None:
    await post(stack, path, *signed(stack.url + path, params))


async def api(stack: Any, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        response = await http.get(path, params=params, headers=AGENT)
    assert response.status_code == 200, response.text
    return response.json()


async def timeline_of(stack: Any, q: str) -> list[dict[str, Any]]:
    [contact] = (await api(stack, "/api/v1/contacts", q=q))["items"]
    return list((await api(stack, f"/api/v1/contacts/{contact['contact_id']}/timeline", order="asc"))["items"])


async def row(db: Any, interaction_id: uuid.UUID) -> tuple[str | None, dict[str, Any]] | None:
    cur = await db.execute(
        "SELECT delivery_status, document FROM interactions WHERE interaction_id = %s", (interaction_id,)
    )
    found = await cur.fetchone()
    return (found[0], found[1]) if found else None


async def settled(stack: Any, db: Any, phone: str) -> uuid.UUID:
    """Post an SMS from the same customer and wait for it: everything sent for this customer before
    it (same routing key, same partition, processed in order) has been processed by then. The marker's id."""
    sid = f"SM{uuid.uuid4().hex}"
    await post_twilio(stack, "/webhooks/twilio/messages", inbound_sms(sid, phone))
    marker = interaction_id_for("sms", OUR_NUMBER, sid)
    await eventually(lambda: row(db, marker), what="the marker message")
    return marker


async def test_whatsapp_cloud_statuses_before_and_after_the_message_end_as_one_row_with_the_final_status(
    webhook_stack: Any, db: Any, broker: Any
) -> None:
    customer = fresh.phone()
    wa_id, wamid = customer[1:], f"wamid.{uuid.uuid4().hex}"
    target = interaction_id_for("whatsapp", WA_ACCOUNT, wamid)
    # "read" overtakes the message it is about: it must wait for it, not vanish.
    await post(
        webhook_stack,
        "/webhooks/meta",
        *meta_signed(whatsapp_payload(whatsapp_value(statuses=[wa_status(wamid, "read", wa_id)]))),
    )

    async def parked() -> bool:
        cur = await db.execute("SELECT count(*) FROM parked_updates WHERE target_interaction_id = %s", (target,))
        return bool((await one(cur))[0] == 1)

    await eventually(parked, what="the early status parked")
    await produce(broker.bootstrap, [outbound_message(Channel.whatsapp, Provider.meta, WA_ACCOUNT, wamid, customer)])
    # Late and repeated lower states arrive after it.
    late = [wa_status(wamid, "delivered", wa_id), wa_status(wamid, "sent", wa_id), wa_status(wamid, "sent", wa_id)]
    await post(webhook_stack, "/webhooks/meta", *meta_signed(whatsapp_payload(whatsapp_value(statuses=late))))
    marker = await settled(webhook_stack, db, customer)

    stored = await row(db, target)
    assert stored is not None
    assert stored[0] == "read"
    [message] = [i for i in await timeline_of(webhook_stack, customer) if i["direction"] == "outbound"]
    assert (message["external_id"], message["direction"], message["delivery_status"]) == (wamid, "outbound", "read")
    assert not await parked()

    async def published() -> list[str] | None:
        """The target's interaction.updated statuses, once the outbox has published them and the marker's
        interaction.added (a row commits before its events go out, whoever drains them)."""
        events = [json.loads(v) for _, v in await read_topic(broker.bootstrap, topics.TIMELINE) if v]
        updated = [
            e["interaction"]["status"]["status"]
            for e in events
            if e["type"] == "interaction.updated" and e["interaction"]["status"]["target_interaction_id"] == str(target)
        ]
        out = any(
            e["type"] == "interaction.added" and e["interaction"]["interaction_id"] == str(marker) for e in events
        )
        return updated if updated and out else None

    # The parked status, published when its message landed; the late ones changed nothing.
    assert await eventually(published, what="the status's interaction.updated and the marker's event") == ["read"]
    cur = await db.execute("SELECT count(*) FROM interactions WHERE document->>'external_id' LIKE %s", (f"{wamid}%",))
    assert (await cur.fetchone())[0] == 1  # statuses never became rows


async def test_twilio_failure_is_final_and_keeps_its_error_code(webhook_stack: Any, db: Any, broker: Any) -> None:
    customer, sid = fresh.phone(), f"SM{uuid.uuid4().hex}"
    await produce(broker.bootstrap, [outbound_message(Channel.sms, Provider.twilio, OUR_NUMBER, sid, customer)])
    for status in ("queued", "sent", "undelivered", "delivered", "sent"):
        await post_twilio(webhook_stack, "/webhooks/twilio/status", message_status(sid, status, customer))
    await settled(webhook_stack, db, customer)
    stored = await row(db, interaction_id_for("sms", OUR_NUMBER, sid))
    assert stored is not None
    assert stored[0] == "undelivered"
    assert stored[1]["metadata"]["delivery_error_code"] == "30003"


async def test_call_callbacks_in_random_order_end_as_one_call_with_duration_and_final_status(
    webhook_stack: Any, db: Any
) -> None:
    customer, sid = fresh.phone(), f"CA{uuid.uuid4().hex}"
    callbacks = [
        call_status(sid, "initiated", customer, sequence=0),
        call_status(sid, "ringing", customer, sequence=1),
        call_status(sid, "in-progress", customer, sequence=2),
        call_status(sid, "completed", customer, sequence=3, duration=42),
    ]
    # The final callback first (the case a last-writer-wins store gets wrong), then the rest
    # shuffled, with some retried.
    rest = callbacks[:3] + random.sample(callbacks, 2)
    random.shuffle(rest)
    order = [callbacks[3], *rest]
    for params in order:
        await post_twilio(webhook_stack, "/webhooks/twilio/voice", params)
    await settled(webhook_stack, db, customer)

    [call] = [i for i in await timeline_of(webhook_stack, customer) if i["kind"] == "call"]
    assert call["interaction_id"] == str(interaction_id_for("voice", OUR_NUMBER, sid))
    assert (call["kind"], call["channel"], call["direction"]) == ("call", "voice", "inbound")
    assert call["call"] == {"duration_seconds": 42, "status": "completed"}
    assert call["delivery_status"] == "completed"


async def test_one_phone_on_twilio_sms_twilio_whatsapp_and_cloud_api_is_one_contact(
    webhook_stack: Any, db: Any
) -> None:
    customer = fresh.phone()
    sms, twa, wamid = f"SM{uuid.uuid4().hex}", f"SM{uuid.uuid4().hex}", f"wamid.{uuid.uuid4().hex}"
    await post_twilio(webhook_stack, "/webhooks/twilio/messages", inbound_sms(sms, customer))
    await post_twilio(
        webhook_stack,
        "/webhooks/twilio/messages",
        inbound_sms(twa, f"whatsapp:{customer}", To=f"whatsapp:{OUR_NUMBER}", ProfileName="Ana", WaId=customer[1:]),
    )
    value = whatsapp_value(
        contacts=[wa_contact(customer[1:], "Ana Silva")], messages=[wa_text(wamid, customer[1:], "Olá")]
    )
    await post(webhook_stack, "/webhooks/meta", *meta_signed(whatsapp_payload(value)))

    async def all_three() -> list[dict[str, Any]] | None:
        found = (await api(webhook_stack, "/api/v1/contacts", q=customer))["items"]
        items = await timeline_of(webhook_stack, customer) if found else []
        return items if len(items) == 3 else None

    items = await eventually(all_three, what="three interactions on one contact")
    assert sorted((i["channel"], i["provider"], i["external_id"]) for i in items) == sorted(
        [("sms", "twilio", sms), ("whatsapp", "twilio", twa), ("whatsapp", "meta", wamid)]
    )
    assert len({i["contact_id"] for i in items}) == 1


async def test_messenger_conversation_and_x_dms_land_on_their_contacts(webhook_stack: Any) -> None:
    psid, run = str(random.randint(10**15, 10**16)), uuid.uuid4().hex
    payload = page_payload(
        "page",
        PAGE_ID,
        messaging_event(f"m_{run}_1", psid, PAGE_ID, text="Onde está a encomenda?"),
        messaging_event(f"m_{run}_2", psid, PAGE_ID, text="Segue amanhã", echo=True),
    )
    payload["entry"][0]["messaging"][1]["timestamp"] += 60_000
    await post(webhook_stack, "/webhooks/meta", *meta_signed(payload))

    async def conversation(q: str, count: int) -> list[dict[str, Any]] | None:
        if not (await api(webhook_stack, "/api/v1/contacts", q=q))["items"]:
            return None
        items = await timeline_of(webhook_stack, q)
        return items if len(items) == count else None

    items = await eventually(lambda: conversation(psid, 2), what="the Messenger conversation")
    assert [(i["direction"], i["text"]) for i in items] == [
        ("inbound", "Onde está a encomenda?"),
        ("outbound", "Segue amanhã"),
    ]

    user_id, screen = str(random.randint(10**9, 10**10)), f"Cliente{run[:8]}"
    users = {user_id: x_user(user_id, screen, "Cliente X"), X_ACCOUNT_ID: x_user(X_ACCOUNT_ID, "OurShop", "Our Shop")}
    inbound, outbound = (
        x_dm(f"1{run[:12]}", user_id, X_ACCOUNT_ID, "Olá"),
        x_dm(f"2{run[:12]}", X_ACCOUNT_ID, user_id, "Olá!"),
    )
    outbound["created_timestamp"] = str(int(inbound["created_timestamp"]) + 1000)
    await post(webhook_stack, "/webhooks/x", *x_signed(x_payload(inbound, outbound, users=users)))
    dms = await eventually(lambda: conversation("@" + screen.upper(), 2), what="the X conversation")
    assert [i["direction"] for i in dms] == ["inbound", "outbound"]
    [contact] = (await api(webhook_stack, "/api/v1/contacts", q=user_id))["items"]
    assert contact["display_name"] == "Cliente X"
    assert {(i["kind"], i["value"]) for i in contact["identifiers"]} == {("x", user_id), ("x", "@" + screen.lower())}


async def test_meta_handshake_and_x_crc(webhook_stack: Any) -> None:
    async with httpx.AsyncClient(base_url=webhook_stack.url, timeout=15) as http:
        ok = await http.get(
            "/webhooks/meta",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": "test-meta-verify-token",
                "hub.challenge": "1158201444",
            },
        )
        assert (ok.status_code, ok.text) == (200, "1158201444")
        wrong = await http.get(
            "/webhooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
        )
        assert wrong.status_code == 403
        crc = await http.get("/webhooks/x", params={"crc_token": "challenge-token"})
        assert crc.status_code == 200
        assert crc.json() == {"response_token": "sha256=" + _x_crc("challenge-token")}


async def test_x_crc_is_no_signing_oracle_for_forged_direct_messages(webhook_stack: Any) -> None:
    """The attack: ask the CRC endpoint to "answer" a forged event body, then post that body with the
    answer as its signature. The CRC is refused, the forged DM gets 403, and no contact appears."""
    forged_user = "4242424242"
    users = {forged_user: x_user(forged_user, "ForgedVictim", "Forged Victim")}
    body = json.dumps(x_payload(x_dm("77001", forged_user, X_ACCOUNT_ID, "forged"), users=users))
    async with httpx.AsyncClient(base_url=webhook_stack.url, timeout=15) as http:
        oracle = await http.get("/webhooks/x", params={"crc_token": body})
        assert oracle.status_code == 400
        stolen = oracle.json().get("response_token", "")
        for token in (body[:200], "short", "x" * 257, "abc def ghi", '{"a":1}'):
            refused = await http.get("/webhooks/x", params={"crc_token": token})
            assert refused.status_code == 400, token
            assert "response_token" not in refused.text
        forged = await http.post(
            "/webhooks/x",
            content=body.encode(),
            headers={"Content-Type": "application/json", "x-twitter-webhooks-signature": stolen},
        )
        assert forged.status_code == 403
        # A genuine-looking token is still answered (X's own challenges keep working).
        token = base64.urlsafe_b64encode(random.randbytes(32)).decode()
        ok = await http.get("/webhooks/x", params={"crc_token": token})
        assert ok.json() == {"response_token": "sha256=" + _x_crc(token)}
    assert (await api(webhook_stack, "/api/v1/contacts", q=forged_user))["items"] == []


def _x_crc(token: str) -> str:
    return base64.b64encode(hmac.new(X_CONSUMER_SECRET.encode(), token.encode(), hashlib.sha256).digest()).decode()


def test_channel_logs_hold_no_personal_data(webhook_stack: Any) -> None:
    """Everything the shared stack logged while the channel tests above ran (they run first in this module)."""
    text = webhook_stack.log_path.read_text()
    for personal in ("Onde está a encomenda", "Segue amanhã", "Ana Silva", "Cliente X", "@cliente", "+3519"):
        assert personal not in text
    # A test phone without its '+' (3519 and 8 digits), not any '3519' (a timestamp's microseconds hold one).
    assert re.search(r"(?<![\d.])3519\d{8}(?!\d)", text) is None
