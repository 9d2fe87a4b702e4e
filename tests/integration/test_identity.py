"""Contacts that stay right, through `omnitrail up`, the real broker and PostgreSQL: merges caused by an
interaction, unmerge that restores both timelines exactly, one party = one person, blocked values,
review items for phone pitfalls, custom attributes."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from omnitrail.local_stack import EmbeddedBroker
from pipeline import resolver
from pipeline.stages.identity import Claim
from pipeline.stages.policy import Policy
from schemas import topics
from schemas.identifiers import Identifier
from schemas.interaction import Channel, Direction, Party, PartyRole
from sinks import erasure, review_store
from sinks.connection import Conn
from sinks.review_store import Proposal
from tests import fresh
from tests.helpers import inbound_sms, signed
from tests.integration.identity_helpers import (
    US_EMAIL,
    born,
    cause,
    email_from,
    find_contact,
    found_contact,
    minutes_ago,
    new_email,
    review_between,
    reviews_naming,
    sms_from,
    timeline_ids,
)
from tests.integration.stack import ADMIN, AGENT, Stack, StartStack, eventually, read_topic
from tests.interactions import produce

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(private_broker: EmbeddedBroker) -> EmbeddedBroker:
    """This module's stack runs an identity policy of its own (blocked values, caps): its records must
    reach only its worker, not the workers of other stacks in the session's consumer group."""
    return private_broker


@pytest.fixture(scope="module")
def database_url(private_database_url: str) -> str:
    """A database of its own too, as its broker is: every worker on a database drains that database's outbox
    to its own broker (after each batch, and on each suggestion tick), so on the session's database the
    webhook stack's worker could publish this stack's contact.merged or contact.unmerged on the session
    broker, where the tests below never see it."""
    return private_database_url


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Stack:
    return start_stack(OMNITRAIL_IDENTITY_OWN_IDENTIFIERS="+351210000000,support@shop.example")


async def contact_when(client: httpx.AsyncClient, q: str, n_items: int) -> dict[str, Any]:
    """The contact found by ``q`` once its timeline holds ``n_items`` interactions."""

    async def ready() -> dict[str, Any] | None:
        contact = await find_contact(client, q)
        if contact and len(await timeline_ids(client, contact["contact_id"])) == n_items:
            return contact
        return None

    return await eventually(ready, what=f"contact with {n_items} interactions")


async def lands(client: httpx.AsyncClient, q: str, interaction_id: str) -> dict[str, Any]:
    """The contact found by ``q`` once the interaction is in its timeline."""

    async def ready() -> dict[str, Any] | None:
        contact = await find_contact(client, q)
        return contact if contact and interaction_id in await timeline_ids(client, contact["contact_id"]) else None

    return await eventually(ready, what="interaction in the contact's timeline")


async def timeline_events(bootstrap: str, contact_id: str, kind: str) -> list[dict[str, Any]]:
    events = [json.loads(v) for k, v in await read_topic(bootstrap, topics.TIMELINE) if v]
    return [e for e in events if e["type"] == kind and e["contact_id"] == contact_id]


async def test_an_interaction_carrying_two_contacts_identifiers_merges_them_and_unmerge_restores_both(
    client: httpx.AsyncClient, stack: Stack, broker: EmbeddedBroker
) -> None:
    phone, address = fresh.phone(), new_email("ana")
    # The first SMS goes through the real webhook, signed as Twilio signs it.
    params = inbound_sms(f"SM{uuid.uuid4().hex}", phone)
    body, headers = signed(stack.url + "/webhooks/twilio/messages", params)
    assert (await client.post("/webhooks/twilio/messages", content=body, headers=headers)).status_code == 200
    older = await contact_when(client, phone, 1)
    mail = email_from(Identifier(kind="email", value=address), name="Ana Silva", at=minutes_ago(5))
    await produce(broker.bootstrap, [mail])
    younger = await contact_when(client, address, 1)
    assert older["contact_id"] != younger["contact_id"]
    before = {c: await timeline_ids(client, c) for c in (older["contact_id"], younger["contact_id"])}

    both = email_from(Identifier(kind="email", value=address), Identifier(kind="phone", value=phone), at=minutes_ago(1))
    await produce(broker.bootstrap, [both])
    merged = await contact_when(client, address, 3)
    assert merged["contact_id"] == older["contact_id"]  # the older survives
    assert {i["value"] for i in merged["identifiers"]} == {phone, address}
    assert (await client.get(f"/api/v1/contacts/{younger['contact_id']}", headers=AGENT)).json()["contact_id"] == older[
        "contact_id"
    ]  # a merged-away id resolves to its survivor
    [event] = await eventually(
        lambda: timeline_events(broker.bootstrap, older["contact_id"], "contact.merged"), what="contact.merged"
    )
    assert event["related_contact_id"] == younger["contact_id"]
    tombstones = [k for k, v in await read_topic(broker.bootstrap, topics.CONTACTS) if v is None]
    assert younger["contact_id"].encode() in tombstones

    # A later SMS from the phone joins the survivor's timeline; unmerge takes the email side back.
    late = sms_from(phone)
    await produce(broker.bootstrap, [late])
    await contact_when(client, phone, 4)
    response = await client.post(f"/api/v1/contacts/{older['contact_id']}/unmerge", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["merged_id"] == younger["contact_id"]
    after_older = await timeline_ids(client, older["contact_id"])
    after_younger = await timeline_ids(client, younger["contact_id"])
    # The interaction that carried both stays visible to both; everything else is exactly as before.
    assert [i for i in after_older if i != str(both.interaction_id)] == [
        *before[older["contact_id"]],
        str(late.interaction_id),
    ]
    assert [i for i in after_younger if i != str(both.interaction_id)] == before[younger["contact_id"]]
    restored = (await client.get(f"/api/v1/contacts/{younger['contact_id']}", headers=AGENT)).json()
    assert restored["merged_into"] is None
    assert [i["value"] for i in restored["identifiers"]] == [address]
    # Published after the commit by whichever drainer takes the outbox rows first (the API's or a worker's).
    await eventually(
        lambda: timeline_events(broker.bootstrap, younger["contact_id"], "contact.unmerged"), what="contact.unmerged"
    )
    assert len(await timeline_events(broker.bootstrap, younger["contact_id"], "contact.unmerged")) == 1

    async def restored_snapshot() -> bool:
        # The latest record under the contact's key (what compaction keeps) is a live snapshot again,
        # not the merge's tombstone.
        key = younger["contact_id"].encode()
        mine = [v for k, v in await read_topic(broker.bootstrap, topics.CONTACTS) if k == key]
        return bool(mine) and mine[-1] is not None and json.loads(mine[-1])["merged_into"] is None

    await eventually(restored_snapshot, what="the restored contact's snapshot")

    # The same evidence again does not undo the staff's decision: a review item instead of a merge.
    again = email_from(Identifier(kind="email", value=address), Identifier(kind="phone", value=phone))
    await produce(broker.bootstrap, [again])
    await contact_when(client, address, len(after_younger) + 1)
    assert (await found_contact(client, phone))["contact_id"] == older["contact_id"]
    reviews = await reviews_naming(client, older["contact_id"])
    pair = {older["contact_id"], younger["contact_id"]}
    assert [r["rule"] for r in reviews if {r["contact_a"], r["contact_b"]} == pair] == ["separated_by_unmerge"]


async def test_manual_merge_then_unmerge_restores_both_timelines_exactly(
    client: httpx.AsyncClient, broker: EmbeddedBroker
) -> None:
    a_phone, b_phone = fresh.phone(), fresh.phone()
    await produce(broker.bootstrap, [sms_from(a_phone, minutes_ago(30)), sms_from(a_phone, minutes_ago(20))])
    await produce(broker.bootstrap, [sms_from(b_phone, minutes_ago(25)), sms_from(b_phone, minutes_ago(10))])
    a, b = await contact_when(client, a_phone, 2), await contact_when(client, b_phone, 2)
    before_a, before_b = await timeline_ids(client, a["contact_id"]), await timeline_ids(client, b["contact_id"])

    forbidden = await client.post(
        f"/api/v1/contacts/{a['contact_id']}/merge", json={"contact_id": b["contact_id"]}, headers=AGENT
    )
    assert forbidden.status_code == 403
    response = await client.post(
        f"/api/v1/contacts/{a['contact_id']}/merge", json={"contact_id": b["contact_id"]}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    merge_id = response.json()["merge_id"]
    combined = await timeline_ids(client, a["contact_id"])
    assert sorted(combined) == sorted(before_a + before_b)
    assert await timeline_ids(client, b["contact_id"]) == combined
    again = await client.post(
        f"/api/v1/contacts/{b['contact_id']}/merge", json={"contact_id": a["contact_id"]}, headers=ADMIN
    )
    assert again.status_code == 409

    # A message from B's phone while merged belongs to B once the merge is undone.
    while_merged = sms_from(b_phone)
    await produce(broker.bootstrap, [while_merged])
    await contact_when(client, a_phone, 5)
    response = await client.post(
        f"/api/v1/contacts/{b['contact_id']}/unmerge", json={"merge_id": merge_id}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    assert await timeline_ids(client, a["contact_id"]) == before_a
    assert await timeline_ids(client, b["contact_id"]) == [*before_b, str(while_merged.interaction_id)]
    none_left = await client.post(f"/api/v1/contacts/{a['contact_id']}/unmerge", json={}, headers=ADMIN)
    assert none_left.status_code == 404


async def test_chain_unmerge_of_a_middle_link_keeps_one_hop(
    client: httpx.AsyncClient, broker: EmbeddedBroker, db: Conn
) -> None:
    phones = [fresh.phone() for _ in range(3)]
    await produce(broker.bootstrap, [sms_from(p, minutes_ago(9 - i)) for i, p in enumerate(phones)])
    a, b, c = [await contact_when(client, p, 1) for p in phones]
    for target, other in ((b, c), (a, b)):  # c -> b, then b (with c) -> a
        response = await client.post(
            f"/api/v1/contacts/{target['contact_id']}/merge", json={"contact_id": other["contact_id"]}, headers=ADMIN
        )
        assert response.status_code == 200
    rows = await (
        await db.execute(
            "SELECT contact_id::text, merged_into::text FROM contacts WHERE contact_id = ANY(%s::uuid[])",
            ([a["contact_id"], b["contact_id"], c["contact_id"]],),
        )
    ).fetchall()
    assert dict(rows) == {a["contact_id"]: None, b["contact_id"]: a["contact_id"], c["contact_id"]: a["contact_id"]}
    merges = await (
        await db.execute("SELECT merge_id::text FROM contact_merges WHERE merged_id = %s", (b["contact_id"],))
    ).fetchall()
    response = await client.post(
        f"/api/v1/contacts/{a['contact_id']}/unmerge", json={"merge_id": merges[0][0]}, headers=ADMIN
    )
    assert response.status_code == 200
    rows = await (
        await db.execute(
            "SELECT contact_id::text, merged_into::text FROM contacts WHERE contact_id = ANY(%s::uuid[])",
            ([a["contact_id"], b["contact_id"], c["contact_id"]],),
        )
    ).fetchall()
    assert dict(rows) == {a["contact_id"]: None, b["contact_id"]: None, c["contact_id"]: b["contact_id"]}
    assert len(await timeline_ids(client, b["contact_id"])) == 2


async def test_two_customers_on_one_outbound_email_are_two_contacts_who_both_see_it(
    client: httpx.AsyncClient, broker: EmbeddedBroker
) -> None:
    ana, rui = new_email("ana"), new_email("rui")
    outbound = email_from(US_EMAIL).model_copy(
        update={
            "direction": Direction.outbound,
            "sender": Party(identifiers=[US_EMAIL]),
            "recipients": [
                Party(display_name="Ana", identifiers=[Identifier(kind="email", value=ana)]),
                Party(display_name="Rui", identifiers=[Identifier(kind="email", value=rui)], role=PartyRole.customer),
            ],
        }
    )
    await produce(broker.bootstrap, [outbound])
    first, second = await contact_when(client, ana, 1), await contact_when(client, rui, 1)
    assert first["contact_id"] != second["contact_id"]
    for contact in (first, second):
        assert await timeline_ids(client, contact["contact_id"]) == [str(outbound.interaction_id)]
        # And each one's GDPR export holds it, as their timeline does (the second customer's too).
        export = (await client.get(f"/api/v1/contacts/{contact['contact_id']}/export", headers=ADMIN)).json()
        assert [i["document"]["interaction_id"] for i in export["interactions"]] == [str(outbound.interaction_id)]

    async def added() -> list[str] | None:
        """The contacts of the email's interaction.added events, once two are out: the row commits before the
        outbox publishes its events."""
        events = (json.loads(v) for _, v in await read_topic(broker.bootstrap, topics.TIMELINE) if v)
        wanted = str(outbound.interaction_id)
        found = [
            e["contact_id"]
            for e in events
            if e["type"] == "interaction.added" and e["interaction"]["interaction_id"] == wanted
        ]
        return sorted(found) if len(found) >= 2 else None

    assert await eventually(added, what="both interaction.added") == sorted([first["contact_id"], second["contact_id"]])


async def test_blocked_values_never_identify_a_customer_and_their_mail_still_lands(
    client: httpx.AsyncClient, broker: EmbeddedBroker, db: Conn
) -> None:
    ana = new_email("ana")
    await produce(broker.bootstrap, [email_from(Identifier(kind="email", value=ana))])
    await contact_when(client, ana, 1)
    # Our own address and a noreply sender alongside a customer's: only the customer is linked.
    noise = email_from(
        Identifier(kind="email", value="noreply@notifications.example"),
        Identifier(kind="email", value=ana),
        Identifier(kind="phone", value="+351210000000"),
    )
    only_blocked = email_from(Identifier(kind="email", value="no-reply@bank.example"), name="Bank")
    await produce(broker.bootstrap, [noise, only_blocked])
    contact = await contact_when(client, ana, 2)
    assert [i["value"] for i in contact["identifiers"]] == [ana]
    row = await eventually(
        lambda: _row(db, "SELECT contact_id FROM interactions WHERE interaction_id = %s", only_blocked.interaction_id),
        what="blocked-only interaction stored",
    )
    # Scoped to this test's contacts: the module's other tests share its database.
    owned = await (
        await db.execute(
            "SELECT count(*) FROM contact_identifiers WHERE value IN ('noreply@notifications.example',"
            " 'no-reply@bank.example', '+351210000000') AND contact_id IN"
            " (SELECT contact_id FROM interactions WHERE interaction_id = ANY(%s))",
            ([noise.interaction_id, only_blocked.interaction_id],),
        )
    ).fetchone()
    assert owned == (0,)
    assert await timeline_ids(client, str(row[0])) == [str(only_blocked.interaction_id)]


async def _row(db: Conn, query: str, *params: object) -> tuple[Any, ...] | None:
    return await (await db.execute(query, params)).fetchone()


async def test_phone_pitfalls_become_review_items_that_staff_accept_or_reject(
    client: httpx.AsyncClient, broker: EmbeddedBroker
) -> None:
    area, digits = "11", f"8{uuid.uuid4().int % 10**7:07d}"  # a São Paulo mobile
    with_ninth, without_ninth = f"+55{area}9{digits}", f"+55{area}{digits}"
    await produce(broker.bootstrap, [sms_from(with_ninth, minutes_ago(3))])
    sms_side = await contact_when(client, with_ninth, 1)
    whatsapp = sms_from(without_ninth).model_copy(update={"channel": Channel.whatsapp})
    await produce(broker.bootstrap, [whatsapp])
    wa_side = await contact_when(client, without_ninth, 1)
    assert wa_side["contact_id"] != sms_side["contact_id"]  # never merged automatically

    async def item() -> dict[str, Any] | None:
        return await review_between(client, sms_side["contact_id"], wa_side["contact_id"])

    review = await eventually(item, what="review item")
    assert review["rule"] == "phone_br_ninth_digit"
    assert (
        await client.post(f"/api/v1/identity/reviews/{review['review_id']}/accept", headers=AGENT)
    ).status_code == 403
    accepted = await client.post(f"/api/v1/identity/reviews/{review['review_id']}/accept", headers=ADMIN)
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    merged = await found_contact(client, without_ninth)
    assert merged["contact_id"] == sms_side["contact_id"]  # the older survives
    assert (
        await client.post(f"/api/v1/identity/reviews/{review['review_id']}/reject", headers=ADMIN)
    ).status_code == 409

    # A second pitfall pair, rejected: the contacts stay apart.
    pt = fresh.phone()
    await produce(broker.bootstrap, [sms_from(pt, minutes_ago(2))])
    a = await contact_when(client, pt, 1)
    es = "+34" + pt[4:]
    await produce(broker.bootstrap, [sms_from(es)])
    b = await contact_when(client, es, 1)
    sms_side, wa_side = a, b
    review = await eventually(item, what="other-region review item")
    assert review["rule"] == "phone_other_region"
    rejected = await client.post(f"/api/v1/identity/reviews/{review['review_id']}/reject", headers=ADMIN)
    assert rejected.json()["status"] == "rejected"
    assert (await found_contact(client, es))["contact_id"] == b["contact_id"]


async def test_a_phone_in_an_email_signature_is_a_review_item_not_a_merge(
    client: httpx.AsyncClient, broker: EmbeddedBroker
) -> None:
    phone, address = fresh.phone(), new_email("joana")
    await produce(broker.bootstrap, [sms_from(phone, minutes_ago(5))])
    by_phone = await contact_when(client, phone, 1)
    national = f"{phone[4:7]} {phone[7:10]} {phone[10:]}"
    signed_mail = email_from(Identifier(kind="email", value=address)).model_copy(
        update={"text": f"Bom dia,\npreciso de ajuda.\n\n--\nJoana Reis\nTel. {national}"}
    )
    await produce(broker.bootstrap, [signed_mail])
    by_email = await contact_when(client, address, 1)
    assert by_email["contact_id"] != by_phone["contact_id"]

    review = await eventually(
        lambda: review_between(client, by_phone["contact_id"], by_email["contact_id"]), what="signature review item"
    )
    assert review["rule"] == "phone_in_signature"
    assert review["evidence"] == {"existing": f"phone:{phone}"}
    # Listing a contact's review items reads that contact's data: audited under it.
    audit = await client.get("/api/v1/audit", params={"contact_id": by_phone["contact_id"]}, headers=ADMIN)
    assert "reviews.list" in {row["action"] for row in audit.json()["items"]}


async def test_a_contacts_review_items_are_found_by_any_id_of_the_person_merged_ids_included(
    client: httpx.AsyncClient, database_url: str
) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        x, b, c, d = [await born(db, Identifier(kind="email", value=new_email(n))) for n in "xbcd"]  # x the oldest
        await review_store.open_items(db, [Proposal(b, c, "same_name", {})])
        merged = await client.post(f"/api/v1/contacts/{x}/merge", json={"contact_id": str(b)}, headers=ADMIN)
        assert merged.json()["survivor_id"] == str(x), merged.text
        await review_store.open_items(db, [Proposal(x, d, "same_name", {})])

    async def pairs(contact: uuid.UUID) -> list[set[str]]:
        found = await client.get("/api/v1/identity/reviews", params={"contact_id": str(contact)}, headers=AGENT)
        assert found.status_code == 200, found.text
        return [{r["contact_a"], r["contact_b"]} for r in found.json()["items"]]

    opened_before, opened_after = {str(b), str(c)}, {str(x), str(d)}
    # A stale link (b, merged into x) and the survivor find the same person's items, oldest first.
    assert await pairs(b) == await pairs(x) == [opened_before, opened_after]
    assert await pairs(c) == [opened_before]
    assert await pairs(d) == [opened_after]


async def test_a_phone_marked_shared_or_past_the_cap_links_but_never_merges_people(
    client: httpx.AsyncClient, broker: EmbeddedBroker
) -> None:
    family, mum, kid = fresh.phone(), new_email("mum"), new_email("kid")
    both = [Identifier(kind="email", value=mum), Identifier(kind="phone", value=family)]
    await produce(broker.bootstrap, [email_from(*both, at=minutes_ago(9))])
    mum_contact = await contact_when(client, mum, 1)
    body = {"kind": "phone", "value": f"{family[4:7]} {family[7:10]} {family[10:]}"}  # any spelling
    assert (await client.post("/api/v1/identity/shared", json=body, headers=AGENT)).status_code == 403
    marked = await client.post("/api/v1/identity/shared", json=body, headers=ADMIN)
    assert marked.status_code == 200, marked.text
    assert marked.json()["contact_id"] == mum_contact["contact_id"]
    unknown = await client.post(
        "/api/v1/identity/shared", json={"kind": "phone", "value": fresh.phone()}, headers=ADMIN
    )
    assert unknown.status_code == 404

    await produce(
        broker.bootstrap, [email_from(Identifier(kind="email", value=kid), Identifier(kind="phone", value=family))]
    )
    kid_contact = await contact_when(client, kid, 1)
    assert kid_contact["contact_id"] != mum_contact["contact_id"]
    assert [i["value"] for i in kid_contact["identifiers"]] == [kid]
    await produce(broker.bootstrap, [sms_from(family)])
    await contact_when(client, mum, 2)  # the phone alone reaches its own contact

    # Not marked: after joining as many contacts as the cap (5), a phone stops merging.
    shop_phone = fresh.phone()
    emails = [new_email(f"buyer{n}") for n in range(6)]
    for n, address in enumerate(emails):
        await produce(broker.bootstrap, [email_from(Identifier(kind="email", value=address), at=minutes_ago(30 - n))])
        await contact_when(client, address, 1)
    first = await found_contact(client, emails[0])
    for address in emails:
        with_phone = email_from(Identifier(kind="email", value=address), Identifier(kind="phone", value=shop_phone))
        await produce(broker.bootstrap, [with_phone])
        await lands(client, address, str(with_phone.interaction_id))
    merged = {(await found_contact(client, a))["contact_id"] for a in emails}
    assert merged == {first["contact_id"], (await found_contact(client, emails[5]))["contact_id"]}
    assert (await found_contact(client, emails[5]))["contact_id"] != first["contact_id"]


async def test_custom_attributes_are_defined_as_data_validated_searchable_and_exported(
    client: httpx.AsyncClient, broker: EmbeddedBroker
) -> None:
    phone = fresh.phone()
    await produce(broker.bootstrap, [sms_from(phone)])
    contact = await contact_when(client, phone, 1)
    name = f"tier_{uuid.uuid4().hex[:6]}"
    define = {"name": name, "type": "enum", "values": ["gold", "silver"]}
    assert (await client.post("/api/v1/attributes", json=define, headers=AGENT)).status_code == 403
    assert (await client.post("/api/v1/attributes", json=define, headers=ADMIN)).status_code == 201
    assert (await client.post("/api/v1/attributes", json=define, headers=ADMIN)).status_code == 201  # idempotent
    clash = {"name": name, "type": "string"}
    assert (await client.post("/api/v1/attributes", json=clash, headers=ADMIN)).status_code == 409
    listed = (await client.get("/api/v1/attributes", headers=AGENT)).json()["items"]
    assert define in listed

    path = f"/api/v1/contacts/{contact['contact_id']}/attributes"
    # Agents read attributes; only admins change what is recorded about a person (README, HTTP).
    refused = await client.patch(path, json={name: "gold"}, headers=AGENT)
    assert refused.status_code == 403
    assert not (await client.get(f"/api/v1/contacts/{contact['contact_id']}", headers=AGENT)).json()["attributes"]
    bad = await client.patch(path, json={name: "platinum"}, headers=ADMIN)
    assert bad.status_code == 400
    assert "one of ['gold', 'silver']" in bad.json()["detail"]
    assert (await client.patch(path, json={"undefined_attr": 1}, headers=ADMIN)).status_code == 400
    updated = await client.patch(path, json={name: "gold"}, headers=ADMIN)
    assert updated.status_code == 200
    assert updated.json()["attributes"] == {name: "gold"}
    found = (await client.get(f"/api/v1/attributes/{name}/contacts", params={"value": "gold"}, headers=AGENT)).json()
    assert [c["contact_id"] for c in found["items"]] == [contact["contact_id"]]
    assert (await client.get(f"/api/v1/contacts/{contact['contact_id']}", headers=AGENT)).json()["attributes"] == {
        name: "gold"
    }

    async def gold_snapshot() -> bool:
        # The API drains the outbox before it answers, unless a worker's drain took the row first.
        snapshots = [json.loads(v) for k, v in await read_topic(broker.bootstrap, topics.CONTACTS) if v]
        return any(
            s["contact_id"] == contact["contact_id"] and s.get("attributes") == {name: "gold"} for s in snapshots
        )

    await eventually(gold_snapshot, what="the contact's snapshot with the attribute")


async def test_an_erased_contact_closes_her_reviews_and_staff_cannot_merge_her_until_she_writes_again(
    client: httpx.AsyncClient, database_url: str
) -> None:
    mine = Identifier(kind="email", value=new_email("her"))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        live, her = await born(db, Identifier(kind="email", value=new_email("live"))), await born(db, mine)
        await review_store.open_items(db, [Proposal(live, her, "same_name", {})])
        [review] = await reviews_naming(client, str(her))
        assert await erasure.erase(db, her, erasure.IdentifierHasher(b"k" * 32), requested_by="test") is not None

        # Her open review closed with her: nobody is asked to merge her any more, and accepting it is refused.
        assert await reviews_naming(client, str(her)) == []
        closed = await client.get(
            "/api/v1/identity/reviews", params={"contact_id": str(her), "status": "rejected"}, headers=AGENT
        )
        assert [(r["review_id"], r["decided_by"]) for r in closed.json()["items"]] == [(review["review_id"], "erasure")]
        accepted = await client.post(f"/api/v1/identity/reviews/{review['review_id']}/accept", headers=ADMIN)
        assert accepted.status_code == 409, accepted.text

        # A staff merge either way is refused with the reason; the live person stays as they were.
        for target, other in ((live, her), (her, live)):
            merged = await client.post(
                f"/api/v1/contacts/{target}/merge", json={"contact_id": str(other)}, headers=ADMIN
            )
            assert merged.status_code == 409, merged.text
            assert "erased" in merged.json()["detail"]
        cur = await db.execute("SELECT merged_into FROM contacts WHERE contact_id = ANY(%s)", ([live, her],))
        assert [row[0] for row in await cur.fetchall()] == [None, None]

        # She writes again: her contact id comes back (ids are deterministic) with her new identifier, and is a
        # person staff may merge again.
        async with db.transaction():
            await resolver.resolve(db, [Claim(0, (mine,))], Policy(), source="test", cause=cause)
        merged = await client.post(f"/api/v1/contacts/{live}/merge", json={"contact_id": str(her)}, headers=ADMIN)
        assert merged.status_code == 200, merged.text
        assert {merged.json()["survivor_id"], merged.json()["merged_id"]} == {str(live), str(her)}
