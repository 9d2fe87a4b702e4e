"""GDPR through the real stack: consent with history, export, erasure of a merged person, the
erasure's events, replays of the person's old interactions that must not bring data back, and her
identifiers taken out of other customers' interactions."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from console.session import fingerprint
from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.identifiers import Identifier, IdentifierKind
from schemas.ids import interaction_id_for
from schemas.interaction import Attachment, Channel, ContactCard, Interaction, Location, Party, PartyRole
from schemas.timeline import TimelineEvent, TimelineEventType
from sinks.connection import Conn
from sinks.subscriptions import undelivered
from sinks.subscriptions.delivery import Delivery
from tests import fresh
from tests.helpers import inbound_sms, signed
from tests.integration.identity_helpers import find_contact, timeline_ids
from tests.integration.rows import one
from tests.integration.stack import ADMIN, AGENT, Stack, StartStack, eventually, read_topic
from tests.interactions import interaction, produce

pytestmark = pytest.mark.integration
HASH_KEY = "gdpr-test-hash-key-0123456789"
OUR_MAILBOX = "support@omnitrail.example"


@pytest.fixture(scope="module")
def broker(private_broker: EmbeddedBroker) -> EmbeddedBroker:
    """A broker and a database of this module's own. The erasure guard hashes with its worker's key
    (HASH_KEY here): on the session broker, a worker of another stack (the session's webhook stack, another
    key, none of this person's ids in its memory) takes the replays' partitions once this stack's worker is
    killed, and lets them back in. In the session database, every other worker drains this stack's outbox
    to its own broker."""
    return private_broker


@pytest.fixture(scope="module")
def database_url(private_database_url: str) -> str:
    return private_database_url


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Stack:
    return start_stack(OMNITRAIL_GDPR_HASH_KEY=HASH_KEY)


def email(external_id: str, identifiers: list[Identifier], *, text: str, at: datetime) -> Interaction:
    return interaction(
        Channel.email,
        identifiers,
        account=OUR_MAILBOX,
        external_id=external_id,
        at=at,
        name="Maria Gdpr-Testa",
        thread_key=f"<{external_id}>",
        subject="Reclamação da fatura",
        text=text,
        html=f"<p>{text}</p>",
        attachments=[Attachment(name="fatura-maria.pdf", content_type="application/pdf", size=1234)],
    )


async def test_consent_export_erasure_and_replays(
    client: httpx.AsyncClient, stack: Stack, broker: EmbeddedBroker, db: Conn
) -> None:
    tag = uuid.uuid4().hex[:8]
    phone = fresh.phone()
    mail = f"maria.{tag}@example.org"
    phone_id = Identifier(kind=IdentifierKind.phone, value=phone)
    mail_id = Identifier(kind=IdentifierKind.email, value=mail)
    sms_text = f"A minha morada nova é Rua {tag}"
    mail_text = f"Segue a fatura {tag} em anexo"
    url = stack.url + "/webhooks/twilio/messages"

    # Two contacts (a phone via a real signed webhook, an email), then one message links both: a merge.
    sid = f"SM{uuid.uuid4().hex}"
    body, headers = signed(url, inbound_sms(sid, phone, body=sms_text))
    assert (await client.post(url, content=body, headers=headers)).status_code == 200
    by_phone = await eventually(lambda: find_contact(client, phone), what="phone contact")
    old = datetime.now(UTC) - timedelta(days=3)
    mail_only = email(f"m1.{uuid.uuid4().hex}@mail.example", [mail_id], text=mail_text, at=old)
    both = email(
        f"m2.{uuid.uuid4().hex}@mail.example", [mail_id, phone_id], text=mail_text + " (2)", at=old + timedelta(hours=1)
    )
    await produce(broker.bootstrap, [mail_only])
    by_mail = await eventually(lambda: find_contact(client, mail), what="email contact")
    assert by_mail["contact_id"] != by_phone["contact_id"]
    await produce(broker.bootstrap, [both])

    async def merged() -> dict[str, Any] | None:
        found = await find_contact(client, mail)
        return found if found and len(found["identifiers"]) == 2 else None

    person = await eventually(merged, what="the merge")
    survivor = person["contact_id"]
    loser = ({by_phone["contact_id"], by_mail["contact_id"]} - {survivor}).pop()

    # Consent: agents read, admins record; history kept, latest wins; a merged-away id resolves.
    consents = f"/api/v1/contacts/{loser}/consents"
    assert (
        await client.post(consents, json={"purpose": "profiling", "granted": True, "source": "form"}, headers=AGENT)
    ).status_code == 403
    for granted in (True, False):
        response = await client.post(
            consents, json={"purpose": "profiling", "granted": granted, "source": "call"}, headers=ADMIN
        )
        assert response.status_code == 201
    history = (await client.get(consents, headers=AGENT)).json()
    assert history["current"] == {"profiling": False}
    assert [h["granted"] for h in history["history"]] == [True, False]
    assert {h["recorded_by"] for h in history["history"]} == {fingerprint("admin-token")}  # who, not "an admin"
    assert (
        await client.post(consents, json={"purpose": "Bad Purpose!", "granted": True, "source": "x"}, headers=ADMIN)
    ).status_code == 422

    # Export: admin only; everything about the person.
    assert (await client.get(f"/api/v1/contacts/{survivor}/export", headers=AGENT)).status_code == 403
    export = (await client.get(f"/api/v1/contacts/{loser}/export", headers=ADMIN)).json()
    assert export["format"] == "omnitrail.contact-export.v1"
    assert export["contact_id"] == survivor
    assert {(i["kind"], i["value"]) for i in export["identifiers"]} == {("phone", phone), ("email", mail)}
    assert {c["contact_id"] for c in export["contacts"]} == {survivor, loser}
    assert len(export["merges"]) == 1
    assert [c["granted"] for c in export["consents"]] == [True, False]
    texts = sorted(i["document"]["text"] for i in export["interactions"])
    assert texts == sorted([sms_text, mail_text, mail_text + " (2)"])

    # Erasure: admin only.
    assert (await client.delete(f"/api/v1/contacts/{survivor}", headers=AGENT)).status_code == 403
    response = await client.delete(f"/api/v1/contacts/{loser}", headers=ADMIN)
    assert response.status_code == 200
    erased = response.json()
    assert erased["contact_id"] == survivor
    assert set(erased["erased_contact_ids"]) == {survivor, loser}
    assert (erased["identifiers_erased"], erased["interactions_erased"]) == (2, 3)

    # Nothing findable, nothing left in PostgreSQL that is about her...
    assert await find_contact(client, phone) is None
    assert await find_contact(client, mail) is None
    after = (await client.get(f"/api/v1/contacts/{survivor}/export", headers=ADMIN)).json()
    dump = json.dumps(after, ensure_ascii=False)
    for personal in (phone, phone[4:], mail, tag, "Maria", "fatura-maria.pdf", "Reclamação"):
        assert personal not in dump, personal
    assert after["identifiers"] == []
    assert after["interactions"] == []
    assert [c["granted"] for c in after["consents"]] == [True, False]  # proof of what she asked, no identifier
    for table in ("contacts", "contact_merges", "interactions", "contact_erasures", "erased_identifiers"):
        query = f"SELECT count(*) FROM {table} t WHERE t::text LIKE %s OR t::text LIKE %s"  # noqa: S608  # fixed names
        cur = await db.execute(query.encode(), (f"%{tag}%", f"%{phone[4:]}%"))
        assert (await one(cur))[0] == 0, table

    # ... but an erasure record with keyed hashes of her identifiers.
    cur = await db.execute(
        "SELECT identifier_hash FROM erased_identifiers WHERE erasure_id = %s", (erased["erasure_id"],)
    )
    expected = {
        hmac.new(HASH_KEY.encode(), k.encode(), hashlib.sha256).hexdigest() for k in (phone_id.key, mail_id.key)
    }
    assert {r[0] for r in await cur.fetchall()} == expected

    # contact.erased on the timeline topic, a tombstone for each id on the compacted contacts topic.
    async def erased_events() -> bool:
        timeline = [json.loads(v) for _, v in await read_topic(broker.bootstrap, topics.TIMELINE) if v]
        tombstones = {k.decode() for k, v in await read_topic(broker.bootstrap, topics.CONTACTS) if v is None and k}
        said = any(e["type"] == "contact.erased" and e["contact_id"] == survivor for e in timeline)
        return said and {survivor, loser} <= tombstones

    await eventually(erased_events, timeout=30, what="contact.erased and tombstones")

    # A fresh worker, so the replays below meet no in-memory dedupe: only the erasure guard stands between.
    [worker] = stack.worker_pids()
    os.kill(worker, signal.SIGTERM)

    async def restarted() -> bool:
        return bool(stack.worker_pids()) and stack.worker_pids() != [worker]

    await eventually(restarted, timeout=30, what="the worker restarted by the supervisor")

    # Replays: Twilio retries the old SMS (new arrival time, same id); the old email comes back
    # (dead-letter replay, re-import, mailbox resync). Then she writes again, as a new customer.
    assert (await client.post(url, content=body, headers=headers)).status_code == 200
    await produce(broker.bootstrap, [mail_only, both])
    new_sid = f"SM{uuid.uuid4().hex}"
    new_body, new_headers = signed(url, inbound_sms(new_sid, phone, body="Olá outra vez"))
    assert (await client.post(url, content=new_body, headers=new_headers)).status_code == 200
    new_mail = email(f"m3.{uuid.uuid4().hex}@mail.example", [mail_id], text="new", at=datetime.now(UTC))
    await produce(broker.bootstrap, [new_mail])

    async def returned() -> tuple[dict[str, Any], dict[str, Any]] | None:
        a, b = await find_contact(client, phone), await find_contact(client, mail)
        return (a, b) if a and b else None

    again_phone, again_mail = await eventually(returned, what="the new messages, processed after the replays")
    for contact, expected_ids in ((again_phone, {new_sid}), (again_mail, {new_mail.external_id})):
        page = (await client.get(f"/api/v1/contacts/{contact['contact_id']}/timeline", headers=AGENT)).json()
        assert {i["external_id"] for i in page["items"]} == expected_ids
    cur = await db.execute(
        "SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)",
        ([interaction_id_for("sms", "+351210000000", sid), mail_only.interaction_id, both.interaction_id],),
    )
    assert (await one(cur))[0] == 0


async def test_erasure_takes_her_identifiers_out_of_other_customers_interactions(
    client: httpx.AsyncClient, stack: Stack, broker: EmbeddedBroker, db: Conn
) -> None:
    tag = uuid.uuid4().hex[:8]
    ana = Identifier(kind=IdentifierKind.email, value=f"ana.{tag}@example.org")
    bruno = Identifier(kind=IdentifierKind.email, value=f"bruno.{tag}@example.org")
    now = datetime.now(UTC)
    own = email(f"own.{tag}@mail.example", [ana], text="Ana's own message", at=now - timedelta(hours=2))
    # Bruno writes to support with Ana in Cc and her address in the text: it is in both timelines.
    text = f"Please also answer {ana.value} about order {tag}."
    cc = email(f"cc.{tag}@mail.example", [bruno], text=text, at=now - timedelta(hours=1)).model_copy(
        update={
            "sender": Party(display_name="Bruno Outro", identifiers=[bruno]),
            "recipients": [
                Party(identifiers=[Identifier(kind=IdentifierKind.email, value=OUR_MAILBOX)], role=PartyRole.us),
                Party(display_name="Ana Apagada", identifiers=[ana], role=PartyRole.customer),
            ],
            "subject": f"Order {tag} for Ana",
            "html": f'<p>Please also answer <a href="mailto:{ana.value}">{ana.value}</a></p>',
            "metadata": {"reply_to": ana.value},
        }
    )
    await produce(broker.bootstrap, [own, cc])

    async def contact(q: str, interactions: int) -> str | None:
        items = (await client.get("/api/v1/contacts", params={"q": q}, headers=AGENT)).json()["items"]
        if not items:
            return None
        page = (await client.get(f"/api/v1/contacts/{items[0]['contact_id']}/timeline", headers=AGENT)).json()
        return items[0]["contact_id"] if len(page["items"]) == interactions else None

    ana_id = await eventually(lambda: contact(ana.value, 2), what="Ana with her email and the Cc")
    bruno_id = await eventually(lambda: contact(bruno.value, 1), what="Bruno with his email")

    async def search(q: str) -> list[dict[str, Any]]:
        url = f"/api/v1/contacts/{bruno_id}/timeline"
        items: list[dict[str, Any]] = (await client.get(url, params={"q": q}, headers=AGENT)).json()["items"]
        return items

    assert len(await search(ana.value)) == 1  # findable by her address before the erasure

    erased = await client.delete(f"/api/v1/contacts/{ana_id}", headers=ADMIN)
    assert erased.status_code == 200
    assert (erased.json()["interactions_erased"], erased.json()["interactions_redacted"]) == (1, 1)

    [kept] = (await client.get(f"/api/v1/contacts/{bruno_id}/timeline", headers=AGENT)).json()["items"]
    assert kept["interaction_id"] == str(cc.interaction_id)  # Bruno keeps his email...
    assert kept["sender"]["identifiers"] == [{"kind": "email", "value": bruno.value}]
    assert kept["text"] == f"Please also answer [erased] about order {tag}."
    assert kept["subject"] == f"Order {tag} for Ana"  # a name in free text is not an identifier
    for personal in (ana.value, "Ana Apagada"):
        assert personal not in json.dumps(kept, ensure_ascii=False), personal  # ...without hers anywhere
    assert await search(ana.value) == []
    assert len(await search(tag)) == 1
    cur = await db.execute(
        "SELECT document::text, search::text FROM interactions WHERE interaction_id = %s", (cc.interaction_id,)
    )
    document, words = await one(cur)
    assert ana.value not in document
    assert f"ana.{tag}" not in words

    async def redacted_event() -> dict[str, Any] | None:
        timeline = [json.loads(v) for _, v in await read_topic(broker.bootstrap, topics.TIMELINE) if v]
        return next(
            (
                e
                for e in timeline
                if e["type"] == "interaction.redacted" and e["interaction"]["interaction_id"] == str(cc.interaction_id)
            ),
            None,
        )

    event = await eventually(redacted_event, timeout=30, what="interaction.redacted on the timeline topic")
    assert event["contact_id"] == bruno_id
    assert ana.value not in json.dumps(event)
    schema = json.loads((Path(__file__).parents[2] / "schemas/json/timeline_event.v1.json").read_text())
    Draft202012Validator(schema).validate(event)


async def test_erasure_scrubs_every_field_of_other_customers_interactions_and_their_undelivered_webhooks(
    client: httpx.AsyncClient, stack: Stack, broker: EmbeddedBroker, db: Conn
) -> None:
    tag = uuid.uuid4().hex[:8]
    phone = fresh.phone()
    ana_mail = Identifier(kind=IdentifierKind.email, value=f"ana.card.{tag}@example.org")
    ana_phone = Identifier(kind=IdentifierKind.phone, value=phone)
    bruno = Identifier(kind=IdentifierKind.email, value=f"bruno.card.{tag}@example.org")
    now = datetime.now(UTC)
    own = email(f"own.{tag}@mail.example", [ana_mail, ana_phone], text="Ana's own message", at=now - timedelta(hours=2))
    national = fresh.national(phone)  # "912 345 678"
    spelled = [phone, national, national.replace(" ", ""), "00" + phone[1:], f"+351-{national.replace(' ', '-')}"]
    # Bruno writes with Ana in Cc, forwarding her contact card, her CV and where to meet her.
    cc = email(f"cc.{tag}@mail.example", [bruno], text=f"Ana: {' / '.join(spelled)}", at=now - timedelta(hours=1))
    cc = cc.model_copy(
        update={
            "sender": Party(display_name="Bruno Outro", identifiers=[bruno]),
            "recipients": [
                Party(identifiers=[Identifier(kind=IdentifierKind.email, value=OUR_MAILBOX)], role=PartyRole.us),
                Party(display_name="Ana Apagada", identifiers=[ana_mail], role=PartyRole.customer),
            ],
            "quoted_text": f"Ana wrote: call me on {national}",
            "contact_cards": [ContactCard(name="Ana", emails=[ana_mail.value], phones=[f"+351 {national}"])],
            "attachments": [Attachment(name=f"cv-{ana_mail.value}.pdf", content_type="application/pdf", size=3)],
            "location": Location(latitude=38.7, longitude=-9.1, address=f"ask {ana_mail.value} at the door"),
        }
    )
    await produce(broker.bootstrap, [own, cc])

    async def with_timeline(q: str, interactions: int) -> str | None:
        found = await find_contact(client, q)
        if found is None or len(await timeline_ids(client, found["contact_id"])) != interactions:
            return None
        return str(found["contact_id"])

    ana_id = await eventually(lambda: with_timeline(ana_mail.value, 2), what="Ana with her message and the Cc")
    bruno_id = await eventually(lambda: with_timeline(bruno.value, 1), what="Bruno with his email")
    # A webhook receiver was down when Bruno's copy went out: it waits to be sent again. Another event of his
    # (a reply naming the Cc email) has none of her data and stays.
    subscriber = f"gdpr-{tag}"
    reply = email(f"reply.{tag}@mail.example", [bruno], text="thanks", at=now).model_copy(
        update={"in_reply_to": cc.interaction_id}
    )
    for n, item in enumerate((cc, reply)):
        event = TimelineEvent(
            event_id=uuid.uuid4(),
            type=TimelineEventType.interaction_added,
            contact_id=uuid.UUID(bruno_id),
            occurred_at=now,
            interaction=item,
        )
        origin = undelivered.Origin(topics.TIMELINE, 0, n, bruno_id, str(event.event_id), event.type.value)
        await undelivered.add(db, subscriber, origin, event.model_dump_json().encode(), Delivery(False, 8, 500, "500"))

    erased = await client.delete(f"/api/v1/contacts/{ana_id}", headers=ADMIN)
    assert erased.status_code == 200
    assert erased.json()["interactions_redacted"] == 1

    cur = await db.execute("SELECT document FROM interactions WHERE interaction_id = %s", (cc.interaction_id,))
    kept = json.dumps((await one(cur))[0])
    for personal in (ana_mail.value, phone[1:], national, national.replace(" ", ""), "Ana Apagada"):
        assert personal not in kept, personal
    assert "Bruno Outro" in kept
    assert bruno.value in kept
    [left] = await undelivered.listing(db, subscriber)  # nothing with her data can be sent again
    assert json.loads(left.body)["interaction"]["interaction_id"] == str(reply.interaction_id)
