"""The console's API through `omnitrail up`, the real broker and PostgreSQL: timeline filters and
accent-blind full-text search, staff notes through the pipeline, the audit log, live events,
the page's cookie session with CSRF, and sanitized email HTML."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from console.session import fingerprint
from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from tests.integration.console.data import (
    STAFF_PASSWORD,
    Customer,
    a_customer,
    a_possible_duplicate,
    a_staff_account,
    chat_and_email,
    contact_of,
    live_stream,
    sms,
    whatsapp,
)
from tests.integration.console.test_staff import sign_in
from tests.integration.stack import ADMIN, AGENT, Stack, eventually, read_topic
from tests.interactions import produce

pytestmark = pytest.mark.integration


@pytest.fixture
async def customer(client: httpx.AsyncClient, console_stack: Stack) -> Customer:
    person = a_customer()
    await sms(client, console_stack, person, "Olá! A encomenda não chegou, podem verificar?")
    await sms(client, console_stack, person, "The parcel arrived damaged")
    await whatsapp(client, console_stack, person, "Obrigada pela ajuda")
    found = await contact_of(client, person.e164, channels=2)
    person.contact_id = found["contact_id"]
    await eventually(lambda: texts(client, person.contact_id), what="three messages")
    return person


async def texts(client: httpx.AsyncClient, contact_id: str, **params: str | list[str]) -> list[str]:
    response = await client.get(f"/api/v1/contacts/{contact_id}/timeline", params=params, headers=AGENT)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return [i["text"] for i in items] if len(items) >= (0 if params else 3) else []


async def test_timeline_filters_by_channel_direction_and_accent_blind_words(
    client: httpx.AsyncClient, customer: Customer
) -> None:
    cid = customer.contact_id
    assert await texts(client, cid, channel="whatsapp") == ["Obrigada pela ajuda"]
    assert len(await texts(client, cid, channel=["sms", "whatsapp"])) == 3
    assert await texts(client, cid, direction="outbound") == []
    assert len(await texts(client, cid, direction="inbound")) == 3
    # Accents ignored both ways: staff typing "nao" find "não", and "nâo" finds it too.
    for q in ("nao", "não", "ENCOMENDA nao", '"encomenda nao chegou"'):
        assert await texts(client, cid, q=q) == ["Olá! A encomenda não chegou, podem verificar?"], q
    assert await texts(client, cid, q="parcel damaged") == ["The parcel arrived damaged"]
    assert await texts(client, cid, q="parcel -damaged") == []
    assert await texts(client, cid, q="obrigada", channel="sms") == []
    bad = await client.get(f"/api/v1/contacts/{cid}/timeline", params={"channel": "fax"}, headers=AGENT)
    assert bad.status_code == 422


async def test_note_goes_through_the_pipeline_once_onto_timeline_and_topic(
    client: httpx.AsyncClient, customer: Customer, broker: EmbeddedBroker
) -> None:
    cid = customer.contact_id
    [first] = (await client.get(f"/api/v1/contacts/{cid}/timeline", params={"limit": 1}, headers=AGENT)).json()["items"]
    note = {
        "note_id": str(uuid.uuid4()),
        "text": "Visited the shop, replaced the parcel",
        "about": first["interaction_id"],
    }
    accepted = [await client.post(f"/api/v1/contacts/{cid}/notes", json=note, headers=AGENT) for _ in range(2)]
    assert [r.status_code for r in accepted] == [202, 202]
    assert accepted[0].json() == accepted[1].json()  # the retry is the same interaction
    note_id = accepted[0].json()["interaction_id"]

    async def stored() -> list[dict[str, Any]]:
        page = await client.get(f"/api/v1/contacts/{cid}/timeline", params={"channel": "other"}, headers=AGENT)
        items: list[dict[str, Any]] = page.json()["items"]
        return items

    [item] = await eventually(stored, what="the note in the timeline")
    assert item["interaction_id"] == note_id
    assert (item["kind"], item["provider"], item["direction"]) == ("note", "console", "outbound")
    assert item["thread_key"] == first["thread_key"]  # shown in the thread of the entry it is about
    assert item["in_reply_to"] == first["interaction_id"]
    assert item["metadata"]["author"] == fingerprint("agent-token")

    async def on_topic() -> list[dict[str, Any]]:
        events = [orjson.loads(v) for _, v in await read_topic(broker.bootstrap, topics.TIMELINE) if v]
        return [e for e in events if (e.get("interaction") or {}).get("interaction_id") == note_id]

    [event] = await eventually(on_topic, what="the note on the timeline topic")
    assert (event["type"], event["contact_id"]) == ("interaction.added", cid)

    missing = await client.post(f"/api/v1/contacts/{uuid.uuid4()}/notes", json=note, headers=AGENT)
    assert missing.status_code == 404
    foreign = {**note, "note_id": str(uuid.uuid4()), "about": str(uuid.uuid4())}
    assert (await client.post(f"/api/v1/contacts/{cid}/notes", json=foreign, headers=AGENT)).status_code == 404


async def test_every_contact_read_is_audited_and_only_admins_read_the_log(
    client: httpx.AsyncClient, customer: Customer
) -> None:
    cid = customer.contact_id
    await client.get(f"/api/v1/contacts/{cid}", headers=AGENT)
    await client.get(f"/api/v1/contacts/{cid}/suggestions", headers=AGENT)
    assert (await client.get("/api/v1/audit", headers=AGENT)).status_code == 403
    response = await client.get("/api/v1/audit", params={"contact_id": cid}, headers=ADMIN)
    assert response.status_code == 200
    entries = response.json()["items"]
    actions = {(e["action"], e["actor"], e["role"], e["via"]) for e in entries}
    agent = fingerprint("agent-token")
    assert {("contact.read", agent, "agent", "token"), ("suggestions.read", agent, "agent", "token")} <= actions
    assert ("timeline.read", agent, "agent", "token") in actions
    assert "agent-token" not in response.text
    assert customer.e164 not in response.text
    searches = (await client.get("/api/v1/audit", params={"actor": agent, "limit": 1000}, headers=ADMIN)).json()
    assert any(e["action"] == "contacts.search" and e["contact_id"] is None for e in searches["items"])


async def test_live_events_deliver_a_new_sms_of_the_open_contact_only(
    client: httpx.AsyncClient, customer: Customer, console_stack: Stack
) -> None:
    other = a_customer()
    received: list[dict[str, Any]] = []
    events: list[str] = []
    subscribed = asyncio.Event()

    async def listen() -> None:
        url = f"/api/v1/contacts/{customer.contact_id}/events"
        async with client.stream("GET", url, headers=AGENT, timeout=httpx.Timeout(10, read=60)) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line == ": connected":  # the stream's first line: its subscription to the feed is in place
                    subscribed.set()
                elif line.startswith("data: "):
                    event = orjson.loads(line[6:])
                    events.append(event["type"])
                    if event.get("interaction"):
                        received.append(event)
                        if event["interaction"]["text"] == "Live: still waiting":
                            return

    task = asyncio.create_task(listen())
    # The message is sent once the stream is open (the feed forwards only what arrives after that): waited
    # for, not slept on, as opening it can take more than a second on a loaded machine.
    opened = asyncio.create_task(subscribed.wait())
    await asyncio.wait([opened, task], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # the stream ended before it opened: its error
    assert subscribed.is_set(), "the event stream did not open within 60 s"
    await sms(client, console_stack, other, "Someone else entirely")
    await sms(client, console_stack, customer, "Live: still waiting")
    await asyncio.wait_for(task, 60)
    # Only this contact's events; earlier messages may still be draining from the outbox (the page
    # merges them by interaction id), the other customer's message never comes.
    texts_seen = [e["interaction"]["text"] for e in received]
    assert texts_seen[-1] == "Live: still waiting", events
    assert "Someone else entirely" not in texts_seen
    assert set(texts_seen) <= {"Live: still waiting", *await texts(client, customer.contact_id)}
    assert {e["type"] for e in received} == {"interaction.added"}


async def test_the_home_views_live_stream_says_which_contact_changed_and_nothing_of_what_was_written(
    client: httpx.AsyncClient, customer: Customer, console_stack: Stack
) -> None:
    home = await live_stream(console_stack.url, "/api/v1/events", headers=AGENT)
    try:
        await sms(client, console_stack, customer, "Home: my card number is in this message")

        async def customers_message() -> bool:
            return any(e["contact_id"] == customer.contact_id and e["type"] == "interaction.added" for e in home.events)

        await eventually(customers_message, what="the customer's new message on the home stream")
    finally:
        await home.close()
    assert {"type": "interaction.added", "contact_id": customer.contact_id} in home.events
    assert all(set(e) == {"type", "contact_id"} for e in home.events), home.events  # no text, subject or parties


async def test_page_session_needs_csrf_for_changes_and_bearer_clients_do_not(
    client: httpx.AsyncClient, customer: Customer, console_stack: Stack
) -> None:
    assert (await client.post("/signin", data={"token": "wrong"})).status_code == 401
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as browser:  # keeps its cookie jar
        signin = await browser.post("/signin", data={"token": "agent-token"})
        assert signin.status_code == 303
        cookie = signin.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "agent-token" not in cookie
        page = await browser.get("/")
        assert page.status_code == 200
        csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        assert (await browser.get(f"/api/v1/contacts/{customer.contact_id}")).status_code == 200
        note = {"note_id": str(uuid.uuid4()), "text": "Called from my own phone"}
        url = f"/api/v1/contacts/{customer.contact_id}/notes"
        assert (await browser.post(url, json=note)).status_code == 403
        assert (await browser.post(url, json=note, headers={"X-CSRF-Token": "forged"})).status_code == 403
        assert (await browser.post(url, json=note, headers={"X-CSRF-Token": csrf})).status_code == 202
        evil = await browser.post("/signin", data={"token": "agent-token"}, headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403
        out = await browser.post("/signout", data={"csrf": csrf})
        assert out.status_code == 303
        assert (await browser.get(f"/api/v1/contacts/{customer.contact_id}")).status_code == 401
    assert (await client.post(url, json=note, headers=AGENT)).status_code == 202  # bearer: no CSRF token needed
    audit = await client.get("/api/v1/audit", params={"contact_id": customer.contact_id}, headers=ADMIN)
    assert ("note.add", "session") in {(e["action"], e["via"]) for e in audit.json()["items"]}


async def test_staff_assign_and_close_a_suggestion_and_both_reach_the_timeline(
    client: httpx.AsyncClient, broker: EmbeddedBroker
) -> None:
    person = a_customer()
    chat, _ = chat_and_email(person, email_html="<p>hi</p>", email_subject="Hi")
    await produce(broker.bootstrap, [chat])  # 30 minutes old and unanswered: past the live-chat SLA
    cid = (await contact_of(client, person.email))["contact_id"]

    async def open_suggestions() -> list[dict[str, Any]]:
        url = f"/api/v1/contacts/{cid}/suggestions"
        items: list[dict[str, Any]] = (await client.get(url, headers=AGENT)).json()["items"]
        return items

    [suggestion] = [s for s in await eventually(open_suggestions, what="a suggestion") if s["rule"] == "unanswered"]
    sid = suggestion["suggestion_id"]
    assigned = await client.post(f"/api/v1/suggestions/{sid}/assign", json={"assignee": "Maria"}, headers=AGENT)
    assert assigned.status_code == 200
    assert (assigned.json()["assignee"], assigned.json()["status"]) == ("Maria", "open")
    closing = {"outcome": "Called back, resolved"}
    closed = await client.post(f"/api/v1/suggestions/{sid}/close", json=closing, headers=AGENT)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["close_reason"] == "closed by staff: Called back, resolved"
    assert (await client.post(f"/api/v1/suggestions/{sid}/close", json=closing, headers=AGENT)).status_code == 200
    again = await client.post(f"/api/v1/suggestions/{sid}/close", json={"outcome": "other"}, headers=AGENT)
    assert again.status_code == 409
    late = await client.post(f"/api/v1/suggestions/{sid}/assign", json={"assignee": "Rui"}, headers=AGENT)
    assert late.status_code == 409
    assert sid not in {s["suggestion_id"] for s in await open_suggestions()}
    everything = (await client.get("/api/v1/suggestions", params={"status": "closed"}, headers=AGENT)).json()
    assert sid in {s["suggestion_id"] for s in everything["items"]}

    async def handling_notes() -> list[str]:
        page = await client.get(f"/api/v1/contacts/{cid}/timeline", params={"channel": "other"}, headers=AGENT)
        found = sorted(i["text"] for i in page.json()["items"])
        return found if len(found) == 2 else []

    assert await eventually(handling_notes, what="assignment and closing notes") == [
        f"Suggestion “{suggestion['title']}” assigned to Maria",
        f"Suggestion “{suggestion['title']}” closed: Called back, resolved",
    ]
    missing = await client.post(f"/api/v1/suggestions/{uuid.uuid4()}/close", json=closing, headers=AGENT)
    assert missing.status_code == 404


async def test_summary_gives_first_and_last_seen_channels_and_phones_as_people_write_them(
    client: httpx.AsyncClient, console_stack: Stack, broker: EmbeddedBroker
) -> None:
    person = a_customer()
    await sms(client, console_stack, person, "Olá")
    await whatsapp(client, console_stack, person, "Olá de novo")
    found = await contact_of(client, person.e164, channels=2)
    summary = (await client.get(f"/api/v1/contacts/{found['contact_id']}/summary", headers=AGENT)).json()
    assert [c["channel"] for c in summary["channels"]] == ["whatsapp", "sms"]  # most recently used first
    assert all(c["interactions"] == 1 for c in summary["channels"])
    assert summary["first_seen"] <= summary["last_seen"]
    phones = [i for i in summary["identifiers"] if i["kind"] == "phone"]
    assert [(p["value"], p["display"]) for p in phones] == [(person.e164, person.national)]  # the default region, PT
    timeline = (await client.get(f"/api/v1/contacts/{found['contact_id']}/timeline", headers=AGENT)).json()
    assert {i["sender_display"] for i in timeline["items"]} >= {person.name}  # WhatsApp gives the profile name
    assert (await client.get(f"/api/v1/contacts/{uuid.uuid4()}/summary", headers=AGENT)).status_code == 404


async def test_a_possible_duplicate_is_one_item_naming_both_contacts_handled_from_either_side(
    client: httpx.AsyncClient, console_stack: Stack, database_url: str
) -> None:
    named, unnamed = a_customer(), a_customer()
    await whatsapp(client, console_stack, named, "Olá")  # WhatsApp gives her name
    await sms(client, console_stack, unnamed, "Olá")  # SMS does not: the number stands for him
    a = (await contact_of(client, named.e164))["contact_id"]
    b = (await contact_of(client, unnamed.e164))["contact_id"]
    review_id = await a_possible_duplicate(database_url, a, b)

    async def pair_in_inbox() -> list[dict[str, Any]]:
        inbox = (await client.get("/api/v1/inbox", headers=AGENT)).json()
        return [s for s in inbox["suggestions"] if s["review_id"] == review_id]

    [item] = await eventually(pair_in_inbox, what="the possible duplicate on the home view")
    # Once, naming both: each by name, else by its number as people write it, with its id for a link.
    assert {item["contact_id"]: item["label"], item["other_contact"]["contact_id"]: item["other_contact"]["label"]} == {
        a: named.name,
        b: unnamed.national,
    }
    # Each side names the other.
    sides = {}
    for contact, other, label in ((a, b, unnamed.national), (b, a, named.name)):
        url = f"/api/v1/contacts/{contact}/suggestions"
        [side] = [s for s in (await client.get(url, headers=AGENT)).json()["items"] if s["review_id"] == review_id]
        assert side["other_contact"] == {"contact_id": other, "label": label}
        sides[contact] = side["suggestion_id"]

    # Assigned from one side to a staff account: one item, assigned on both sides, "mine" for her only.
    maria = await a_staff_account(database_url, "Maria Sousa")
    assign = f"/api/v1/suggestions/{sides[a]}/assign"
    assigned = await client.post(assign, json={"assignee_id": maria.upper()}, headers=AGENT)
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["assignee"], assigned.json()["assignee_id"]) == ("Maria Sousa", maria)
    other_side = (await client.get(f"/api/v1/contacts/{b}/suggestions", headers=AGENT)).json()["items"]
    assert [(s["assignee"], s["assignee_id"]) for s in other_side if s["review_id"] == review_id] == [
        ("Maria Sousa", maria)
    ]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE staff SET name = 'Maria S. Costa' WHERE email = %s", (maria,))  # she renamed
    async with sign_in(console_stack.url, maria, STAFF_PASSWORD) as her:
        inbox = (await her.get("/api/v1/inbox")).json()
    assert inbox["me_id"] == maria
    [mine] = [s for s in inbox["suggestions"] if s["review_id"] == review_id]
    assert (mine["mine"], mine["assignee"]) == (True, "Maria S. Costa")
    assert inbox["suggestions"][0]["mine"] is True  # hers first
    [theirs] = [
        s
        for s in (await client.get("/api/v1/inbox", headers=AGENT)).json()["suggestions"]
        if s["review_id"] == review_id
    ]
    assert (theirs["mine"], theirs["assignee"]) == (False, "Maria S. Costa")
    colleagues = (await client.get("/api/v1/staff", headers=AGENT)).json()["items"]
    assert {"id": maria, "name": "Maria S. Costa"} in colleagues
    for refused in ({"assignee_id": "nobody@acme.example"}, {"assignee_id": maria, "assignee": "Maria"}, {}):
        assert (await client.post(assign, json=refused, headers=AGENT)).status_code == 422, refused

    # Closed from the other side: the one item is closed on both.
    closed = await client.post(
        f"/api/v1/suggestions/{sides[b]}/close", json={"outcome": "Not the same person"}, headers=AGENT
    )
    assert closed.status_code == 200
    for contact in (a, b):
        still = (await client.get(f"/api/v1/contacts/{contact}/suggestions", headers=AGENT)).json()["items"]
        assert review_id not in {s["review_id"] for s in still}
    assert await pair_in_inbox() == []
