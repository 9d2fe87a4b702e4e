"""Provider payloads that used to be answered 2xx and then lost, or refused, or stored without their
content: through ``omnitrail up``'s HTTP port, the real broker, the worker and PostgreSQL, signed as
each provider signs them."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest

from schemas.ids import interaction_id_for
from tests import fresh
from tests.channel_payloads import (
    meta_signed,
    wa_contact,
    wa_message,
    wa_number_change,
    wa_reaction,
    whatsapp_payload,
    whatsapp_value,
)
from tests.helpers import inbound_sms, signed
from tests.integration.identity_helpers import review_between
from tests.integration.stack import ADMIN, AGENT, eventually

pytestmark = pytest.mark.integration
OUR_NUMBER = "+351210000000"
WA_ACCOUNT = "+351210000001"


def a_user_id() -> str:
    return f"BR.{random.randint(10**15, 10**16 - 1)}"


async def post(stack: Any, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        return await http.post(path, content=body, headers=headers)


async def post_whatsapp(stack: Any, *messages: dict[str, Any], contacts: list[dict[str, Any]] | None = None) -> None:
    payload = whatsapp_payload(whatsapp_value(contacts=contacts, messages=list(messages)))
    response = await post(stack, "/webhooks/meta", *meta_signed(payload))
    assert response.status_code == 200, response.text


async def document(db: Any, interaction_id: uuid.UUID) -> dict[str, Any] | None:
    cur = await db.execute("SELECT document FROM interactions WHERE interaction_id = %s", (interaction_id,))
    found = await cur.fetchone()
    return found[0] if found else None


async def contacts(stack: Any, q: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        response = await http.get("/api/v1/contacts", params={"q": q}, headers=AGENT)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_sms_with_nul_bytes_is_stored_with_its_at_signs_and_a_nul_elsewhere_is_stored_too(
    webhook_stack: Any, db: Any
) -> None:
    phone, sid = fresh.phone(), f"SM{uuid.uuid4().hex}"
    path = "/webhooks/twilio/messages"
    # GSM-7 encodes "@" as 0x00: Twilio delivers the body with NULs.
    response = await post(
        webhook_stack, path, *signed(webhook_stack.url + path, inbound_sms(sid, phone, "ana\x00example.pt"))
    )
    assert response.status_code == 200, response.text
    stored = await eventually(lambda: document(db, interaction_id_for("sms", OUR_NUMBER, sid)), what="the SMS row")
    assert stored["text"] == "ana@example.pt"
    wa_id, wamid = phone[1:], f"wamid.{uuid.uuid4().hex}"
    await post_whatsapp(
        webhook_stack,
        wa_message(wamid, wa_id, "text", text={"body": "a\x00b"}),
        contacts=[wa_contact(wa_id, "Ana\x00Silva")],
    )
    stored = await eventually(lambda: document(db, interaction_id_for("whatsapp", WA_ACCOUNT, wamid)), what="the row")
    assert stored["text"] == "a\ufffdb"
    assert stored["sender"]["display_name"] == "Ana\ufffdSilva"


async def test_a_whatsapp_order_is_stored_with_the_note_and_the_products_ordered(webhook_stack: Any, db: Any) -> None:
    wa_id, wamid = fresh.phone()[1:], f"wamid.{uuid.uuid4().hex}"
    items = [{"product_retailer_id": "SKU-MUG-01", "quantity": 2, "item_price": 12.5, "currency": "EUR"}]
    order = {"catalog_id": "194836987003835", "text": "Gift-wrap, please", "product_items": items}
    await post_whatsapp(webhook_stack, wa_message(wamid, wa_id, "order", order=order))
    stored = await eventually(lambda: document(db, interaction_id_for("whatsapp", WA_ACCOUNT, wamid)), what="the row")
    assert stored["text"] == "Gift-wrap, please\n2 x SKU-MUG-01 (12.5 EUR)"
    assert stored["metadata"]["order"] == {"catalog_id": "194836987003835", "product_items": items}


async def test_whatsapp_user_known_only_by_user_id_is_stored_and_findable_then_linked_to_their_phone(
    webhook_stack: Any, db: Any
) -> None:
    user_id, phone = a_user_id(), fresh.phone()
    username = f"ana.{uuid.uuid4().hex[:8]}"
    first, second = f"wamid.{uuid.uuid4().hex}", f"wamid.{uuid.uuid4().hex}"
    hidden = wa_contact(None, "Ana Username", user_id=user_id, username=username)
    await post_whatsapp(
        webhook_stack, wa_message(first, None, "text", user_id=user_id, text={"body": "Olá"}), contacts=[hidden]
    )
    await eventually(lambda: document(db, interaction_id_for("whatsapp", WA_ACCOUNT, first)), what="the message")
    [by_id] = await contacts(webhook_stack, user_id)
    assert [c["contact_id"] for c in await contacts(webhook_stack, username)] == [by_id["contact_id"]]
    assert [c["contact_id"] for c in await contacts(webhook_stack, "@" + username)] == [by_id["contact_id"]]
    assert by_id["contact_id"] in [c["contact_id"] for c in await contacts(webhook_stack, "Ana Username")]
    # Later the same user writes with their number shared too: one party, so one contact.
    both = wa_contact(phone[1:], "Ana Username", user_id=user_id)
    await post_whatsapp(
        webhook_stack, wa_message(second, phone[1:], "text", user_id=user_id, text={"body": "Eu"}), contacts=[both]
    )
    await eventually(lambda: document(db, interaction_id_for("whatsapp", WA_ACCOUNT, second)), what="the second")
    [by_phone] = await contacts(webhook_stack, phone)
    assert by_phone["contact_id"] == by_id["contact_id"]
    assert {(i["kind"], i["value"]) for i in by_phone["identifiers"]} >= {
        ("whatsapp_user_id", user_id),
        ("whatsapp_username", username),
        ("phone", phone),
    }


async def test_twilio_whatsapp_from_a_user_id_is_acknowledged_and_stored(webhook_stack: Any, db: Any) -> None:
    user_id, sid = a_user_id(), f"SM{uuid.uuid4().hex}"
    path = "/webhooks/twilio/messages"
    params = inbound_sms(sid, f"whatsapp:{user_id}", "Olá", To=f"whatsapp:{OUR_NUMBER}", ProfileName="Rui")
    response = await post(webhook_stack, path, *signed(webhook_stack.url + path, params))
    assert response.status_code == 200, response.text
    await eventually(lambda: document(db, interaction_id_for("whatsapp", OUR_NUMBER, sid)), what="the message")
    [contact] = await contacts(webhook_stack, user_id)
    assert {"kind": "whatsapp_user_id", "value": user_id} in contact["identifiers"]


async def test_number_change_links_the_new_number_to_the_contact_with_the_notice_as_evidence(
    webhook_stack: Any, db: Any
) -> None:
    old, new = fresh.phone(), fresh.phone()
    first, notice, later = (f"wamid.{uuid.uuid4().hex}" for _ in range(3))
    await post_whatsapp(
        webhook_stack, wa_message(first, old[1:], "text", text={"body": "Olá"}), contacts=[wa_contact(old[1:], "Ana")]
    )
    await eventually(lambda: document(db, interaction_id_for("whatsapp", WA_ACCOUNT, first)), what="the message")
    await post_whatsapp(webhook_stack, wa_number_change(notice, old[1:], new[1:]))
    await post_whatsapp(
        webhook_stack,
        wa_message(later, new[1:], "text", text={"body": "Número novo"}),
        contacts=[wa_contact(new[1:], "Ana")],
    )
    await eventually(lambda: document(db, interaction_id_for("whatsapp", WA_ACCOUNT, later)), what="the later one")

    async def link() -> tuple[Any, ...] | None:
        cur = await db.execute(
            "SELECT contact_id, rule, source, evidence, created_at FROM contact_identifiers"
            " WHERE kind = 'phone' AND value = %s",
            (new,),
        )
        row: tuple[Any, ...] | None = await cur.fetchone()
        return row

    contact_id, rule, source, evidence, linked_at = await eventually(link, what="the new number's link")
    [before] = await contacts(webhook_stack, old)
    assert str(contact_id) == before["contact_id"]
    assert (rule, source, evidence["event"]) == ("whatsapp:user_changed_number", "interaction", "user_changed_number")
    assert evidence["interaction_id"] == str(interaction_id_for("whatsapp", WA_ACCOUNT, notice))
    assert linked_at is not None
    # The notice is no message: no row, and the later message from the new number is in the same timeline.
    assert await document(db, interaction_id_for("whatsapp", WA_ACCOUNT, notice)) is None
    [after] = await contacts(webhook_stack, new)
    assert after["contact_id"] == before["contact_id"]


async def first_message(stack: Any, db: Any, phone: str, name: str) -> dict[str, Any]:
    """The contact of a WhatsApp message from ``phone``, once it is stored."""
    wamid = f"wamid.{uuid.uuid4().hex}"
    await post_whatsapp(
        stack, wa_message(wamid, phone[1:], "text", text={"body": "Olá"}), contacts=[wa_contact(phone[1:], name)]
    )
    await eventually(lambda: document(db, interaction_id_for("whatsapp", WA_ACCOUNT, wamid)), what="the message")
    [contact] = await contacts(stack, phone)
    return contact


async def test_a_number_change_onto_another_contacts_number_merges_nobody_and_opens_a_review_with_the_notice(
    webhook_stack: Any, db: Any
) -> None:
    ana, bruno, notice = fresh.phone(), fresh.phone(), f"wamid.{uuid.uuid4().hex}"
    a, b = await first_message(webhook_stack, db, ana, "Ana"), await first_message(webhook_stack, db, bruno, "Bruno")
    assert a["contact_id"] != b["contact_id"]
    # WhatsApp says Ana moved onto Bruno's number (given to someone else since, a mistake, a hijack): no proof.
    await post_whatsapp(webhook_stack, wa_number_change(notice, ana[1:], bruno[1:]))

    async def review() -> dict[str, Any] | None:
        async with httpx.AsyncClient(base_url=webhook_stack.url, timeout=15) as http:
            return await review_between(http, a["contact_id"], b["contact_id"])

    item = await eventually(review, what="the identity review of the number change")
    assert item["rule"] == "whatsapp:user_changed_number"
    evidence = item["evidence"]
    assert evidence["event"] == "user_changed_number"
    assert evidence["interaction_id"] == str(interaction_id_for("whatsapp", WA_ACCOUNT, notice))
    assert evidence["identifiers"] == {f"phone:{ana}": a["contact_id"], f"phone:{bruno}": b["contact_id"]}
    # Neither merged, and Bruno's number is still his alone.
    assert [c["contact_id"] for c in await contacts(webhook_stack, ana)] == [a["contact_id"]]
    assert [c["contact_id"] for c in await contacts(webhook_stack, bruno)] == [b["contact_id"]]
    cur = await db.execute(
        "SELECT count(*) FROM contacts WHERE contact_id = ANY(%s) AND merged_into IS NULL",
        ([uuid.UUID(a["contact_id"]), uuid.UUID(b["contact_id"])],),
    )
    assert (await cur.fetchone())[0] == 2
    cur = await db.execute("SELECT contact_id FROM contact_identifiers WHERE kind = 'phone' AND value = %s", (bruno,))
    assert [str(row[0]) for row in await cur.fetchall()] == [b["contact_id"]]


async def test_a_number_change_onto_a_number_marked_shared_opens_no_review_and_links_nothing(
    webhook_stack: Any, db: Any
) -> None:
    ana, family, notice, later = fresh.phone(), fresh.phone(), f"wamid.{uuid.uuid4().hex}", f"wamid.{uuid.uuid4().hex}"
    a = await first_message(webhook_stack, db, ana, "Ana")
    mum = await first_message(webhook_stack, db, family, "Mãe")
    async with httpx.AsyncClient(base_url=webhook_stack.url, timeout=15) as http:
        marked = await http.post("/api/v1/identity/shared", json={"kind": "phone", "value": family}, headers=ADMIN)
        assert marked.status_code == 200, marked.text
    # Ana moves onto the family's phone: a number that merges nobody, so there is nothing for staff to decide.
    await post_whatsapp(webhook_stack, wa_number_change(notice, ana[1:], family[1:]))
    # The notice routes by the number it leaves Ana with: a message from that number comes after it.
    await post_whatsapp(webhook_stack, wa_message(later, family[1:], "text", text={"body": "Olá"}))
    await eventually(lambda: document(db, interaction_id_for("whatsapp", WA_ACCOUNT, later)), what="the later one")

    async with httpx.AsyncClient(base_url=webhook_stack.url, timeout=15) as http:
        assert await review_between(http, a["contact_id"], mum["contact_id"]) is None
    assert [c["contact_id"] for c in await contacts(webhook_stack, ana)] == [a["contact_id"]]
    assert [c["contact_id"] for c in await contacts(webhook_stack, family)] == [mum["contact_id"]]
    cur = await db.execute("SELECT contact_id FROM contact_identifiers WHERE kind = 'phone' AND value = %s", (family,))
    assert [str(row[0]) for row in await cur.fetchall()] == [mum["contact_id"]]


async def test_user_id_change_notice_without_from_is_acknowledged(webhook_stack: Any) -> None:
    system = {"body": "User changed user id", "type": "user_changed_user_id", "user_id": a_user_id()}
    payload = whatsapp_payload(
        whatsapp_value(
            messages=[wa_message(f"wamid.{uuid.uuid4().hex}", None, "system", user_id=a_user_id(), system=system)]
        )
    )
    response = await post(webhook_stack, "/webhooks/meta", *meta_signed(payload))
    assert response.status_code == 200, response.text


async def test_reaction_lands_on_the_message_it_reacts_to_even_when_it_comes_first(webhook_stack: Any, db: Any) -> None:
    phone = fresh.phone()
    target, early, late, stale, marker = (f"wamid.{uuid.uuid4().hex}" for _ in range(5))
    target_id = interaction_id_for("whatsapp", WA_ACCOUNT, target)
    await post_whatsapp(webhook_stack, wa_reaction(early, phone[1:], target, "👍"))  # before its message
    await post_whatsapp(webhook_stack, wa_message(target, phone[1:], "text", text={"body": "Chegou!"}))

    async def reacted(emoji: str | None) -> dict[str, Any] | None:
        stored = await document(db, target_id)
        reaction = ((stored or {}).get("metadata") or {}).get("reactions", {}).get("customer")
        return stored if reaction and reaction["emoji"] == emoji else None

    await eventually(lambda: reacted("👍"), what="the early reaction on its message")
    await post_whatsapp(webhook_stack, wa_reaction(late, phone[1:], target, "❤️", timestamp=1763888500))
    await eventually(lambda: reacted("❤️"), what="the new reaction replacing the first")
    # A redelivered older reaction (the customer's first, re-sent by Meta) does not undo the newer one.
    await post_whatsapp(webhook_stack, wa_reaction(stale, phone[1:], target, "😮", timestamp=1763888450))
    await post_whatsapp(webhook_stack, wa_message(marker, phone[1:], "text", text={"body": "depois"}))
    await eventually(lambda: document(db, interaction_id_for("whatsapp", WA_ACCOUNT, marker)), what="a later message")
    stored = await reacted("❤️")
    assert stored is not None
    assert stored["text"] == "Chegou!"
    cur = await db.execute(
        "SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)",
        ([interaction_id_for("whatsapp", WA_ACCOUNT, w) for w in (early, late, stale)],),
    )
    assert (await cur.fetchone())[0] == 0  # a reaction is no row of its own


async def test_location_and_contact_card_are_stored(webhook_stack: Any, db: Any) -> None:
    phone = fresh.phone()
    place, card = f"wamid.{uuid.uuid4().hex}", f"wamid.{uuid.uuid4().hex}"
    location = {"latitude": 38.7223, "longitude": -9.1393, "name": "Loja Baixa", "address": "Rua Augusta 1"}
    contact_card = {"name": {"formatted_name": "Rui Costa"}, "phones": [{"phone": "+351 934 000 000"}]}
    await post_whatsapp(
        webhook_stack,
        wa_message(place, phone[1:], "location", location=location),
        wa_message(card, phone[1:], "contacts", contacts=[contact_card]),
    )
    stored = await eventually(lambda: document(db, interaction_id_for("whatsapp", WA_ACCOUNT, place)), what="place")
    assert stored["location"] == {
        "latitude": 38.7223,
        "longitude": -9.1393,
        "name": "Loja Baixa",
        "address": "Rua Augusta 1",
    }
    stored = await eventually(lambda: document(db, interaction_id_for("whatsapp", WA_ACCOUNT, card)), what="card")
    assert stored["contact_cards"] == [
        {"name": "Rui Costa", "phones": ["+351 934 000 000"], "emails": [], "organization": None}
    ]
