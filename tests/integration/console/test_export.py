"""The GDPR export holds everything held about the person: each kind of data is created through the
API and pipeline, then found in ``GET /api/v1/contacts/{id}/export`` (and ``omnitrail gdpr export``)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
import uuid
import zipfile
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from connectors.email.threads import ThreadEntry
from connectors.twilio.status import normalize_message_status
from console.session import fingerprint
from omnitrail.local_stack import EmbeddedBroker
from sinks.contact_export import _SECTIONS, COLUMNS_NOT_EXPORTED, NO_PERSONAL_DATA, NOT_EXPORTED
from sinks.thread_index import PostgresThreadIndex
from tests.channel_payloads import message_status
from tests.integration.console.data import MAILBOX, a_customer, a_possible_duplicate, chat_and_email, contact_of
from tests.integration.rows import one
from tests.integration.stack import ADMIN, AGENT, clean_env, eventually
from tests.interactions import produce

pytestmark = pytest.mark.integration


async def test_the_export_holds_attributes_notes_suggestions_assignments_consents_and_audit(
    client: httpx.AsyncClient, broker: EmbeddedBroker, database_url: str
) -> None:
    person = a_customer()
    chat, _ = chat_and_email(person, email_html="<p>hi</p>", email_subject="Hi")
    await produce(broker.bootstrap, [chat])  # 30 minutes old and unanswered: a suggestion opens
    cid = (await contact_of(client, person.email))["contact_id"]
    attribute = f"tier_{uuid.uuid4().hex[:6]}"
    definition = {"name": attribute, "type": "string"}
    assert (await client.post("/api/v1/attributes", json=definition, headers=ADMIN)).status_code == 201
    value = f"vip-{uuid.uuid4().hex[:6]}"
    patched = await client.patch(f"/api/v1/contacts/{cid}/attributes", json={attribute: value}, headers=ADMIN)
    assert patched.status_code == 200
    note = f"Visited the shop {uuid.uuid4().hex[:6]}"
    body = {"note_id": str(uuid.uuid4()), "text": note}
    assert (await client.post(f"/api/v1/contacts/{cid}/notes", json=body, headers=AGENT)).status_code == 202
    consent = {"purpose": "marketing", "granted": False, "source": "call"}
    assert (await client.post(f"/api/v1/contacts/{cid}/consents", json=consent, headers=ADMIN)).status_code == 201

    async def suggestion() -> str | None:
        items = (await client.get(f"/api/v1/contacts/{cid}/suggestions", headers=AGENT)).json()["items"]
        return next((s["suggestion_id"] for s in items if s["rule"] == "unanswered"), None)

    sid = await eventually(suggestion, what="an unanswered suggestion")
    assignee = f"Rui {uuid.uuid4().hex[:4]}"
    assigned = await client.post(f"/api/v1/suggestions/{sid}/assign", json={"assignee": assignee}, headers=AGENT)
    assert assigned.status_code == 200

    async def exported() -> dict[str, Any] | None:
        document = (await client.get(f"/api/v1/contacts/{cid}/export", headers=ADMIN)).json()
        texts = {i["document"].get("text") for i in document["interactions"]}
        return document if note in texts else None  # the note went through the pipeline

    document = await eventually(exported, what="the note in the export")
    assert [(a["name"], a["value"]) for a in document["attributes"]] == [(attribute, value)]
    assert sid in {s["suggestion_id"] for s in document["suggestions"]}
    assert {s["rule"] for s in document["suggestions"]} >= {"unanswered"}
    assert [(a["suggestion_id"], a["assignee"]) for a in document["assignments"]] == [(sid, assignee)]
    assert chat.interaction_id.hex in {a["interaction_id"].replace("-", "") for a in document["suggestion_activity"]}
    assert [(c["purpose"], c["granted"]) for c in document["consents"]] == [("marketing", False)]
    audit = {(a["action"], a["actor"]) for a in document["audit"]}
    admin, agent = fingerprint("admin-token"), fingerprint("agent-token")
    assert {("attributes.set", admin), ("note.add", agent), ("suggestion.assign", agent)} <= audit
    assert {("consent.record", admin), ("contact.export", admin)} <= audit

    # The operators' command writes the same sections.
    env = clean_env(OMNITRAIL_DATABASE_URL=database_url, OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap)
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "omnitrail", "gdpr", "export", cid, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await cli.communicate()
    assert cli.returncode == 0
    from_cli = json.loads(out)
    assert [(a["name"], a["value"]) for a in from_cli["attributes"]] == [(attribute, value)]
    assert set(from_cli) == set(document)


async def test_the_export_with_files_of_a_person_without_files_holds_only_the_export(
    client: httpx.AsyncClient, broker: EmbeddedBroker
) -> None:
    person = a_customer()
    chat, _ = chat_and_email(person, email_html="<p>hi</p>", email_subject="Hi")
    await produce(broker.bootstrap, [chat])
    cid = (await contact_of(client, person.email))["contact_id"]
    zipped = await client.get(f"/api/v1/contacts/{cid}/export", params={"include": "files"}, headers=ADMIN)
    assert zipped.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert archive.namelist() == ["export.json"]
    document = json.loads(archive.read("export.json"))
    assert (document["contact_id"], len(document["interactions"])) == (cid, 1)
    assert (await client.get(f"/api/v1/contacts/{uuid.uuid4()}/export?include=files", headers=ADMIN)).status_code == 404


def test_every_table_is_exported_or_said_to_hold_nothing_more_and_every_column_is_read(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        columns = conn.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t"
            " USING (table_schema, table_name) WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
        ).fetchall()
    tables = {t for t, _ in columns}
    exported = {t for sql in _SECTIONS.values() for t in re.findall(r"(?:FROM|JOIN) (\w+)", sql)}
    # A table holding personal data without a contact_id column (her identifiers, her addresses) is a
    # section too, or it is declared to hold none: a new table fails here until it is classified.
    unclassified = tables - exported - set(NOT_EXPORTED) - set(NO_PERSONAL_DATA)
    assert unclassified == set(), "add a section to sinks/contact_export.py or declare the table"
    assert {"parked_updates", "email_threads"} <= exported
    # Each column of a table a section reads is read, or declared not exported (with why).
    read = {
        re.findall(r"FROM (\w+)", sql)[0]: set(re.findall(r"\w+", sql.split(" FROM ")[0])) for sql in _SECTIONS.values()
    }
    missing = {
        (t, c) for t, c in columns if t in read and c not in read[t] and c not in COLUMNS_NOT_EXPORTED.get(t, {})
    }
    assert missing == set(), "export the columns in sinks/contact_export.py or declare them"


async def test_the_export_holds_her_parked_updates_email_threads_and_how_she_was_linked_and_reviewed(
    client: httpx.AsyncClient, broker: EmbeddedBroker, database_url: str
) -> None:
    person, other = a_customer(), a_customer()
    await produce(broker.bootstrap, chat_and_email(person, email_html="<p>hi</p>", email_subject="Hi")[:1])
    await produce(broker.bootstrap, chat_and_email(other, email_html="<p>hi</p>", email_subject="Hi")[:1])
    cid = (await contact_of(client, person.email))["contact_id"]
    other_cid = (await contact_of(client, other.email))["contact_id"]
    review = await a_possible_duplicate(database_url, cid, other_cid)
    # A delivery receipt of a message to her that has not landed: parked, carrying her phone number.
    receipt = normalize_message_status(
        message_status(f"SM{uuid.uuid4().hex}", "delivered", person.e164),
        default_region="PT",
        received_at=datetime.now(UTC),
    )
    await produce(broker.bootstrap, [receipt])
    # The email connector's thread memory of a message she was on, and of one she was not.
    theirs, hers = f"<{uuid.uuid4().hex}@x>", f"<{uuid.uuid4().hex}@x>"
    async with AsyncConnectionPool(database_url, min_size=1, max_size=1, open=False) as pool:
        index = PostgresThreadIndex(pool, ThreadEntry)
        await index.remember(
            [
                ThreadEntry(hers, f"email:{hers}", "new", "invoice", (person.email, MAILBOX), None, None),
                ThreadEntry(theirs, f"email:{theirs}", "new", "invoice", (other.email, MAILBOX), None, None),
            ]
        )

    async def exported() -> dict[str, Any] | None:
        document = (await client.get(f"/api/v1/contacts/{cid}/export", headers=ADMIN)).json()
        return document if document.get("pending_updates") else None

    document = await eventually(exported, what="the parked receipt in her export")
    assert [u["update_id"] for u in document["pending_updates"]] == [str(receipt.interaction_id)]
    assert [(t["message_id"], t["subject_key"], t["participants"]) for t in document["email_threads"]] == [
        (hers, "invoice", [person.email, MAILBOX])
    ]
    phone = next(i for i in document["identifiers"] if i["kind"] == "phone")
    assert (phone["value"], phone["shared"], phone["touched"], type(phone["evidence"])) == (person.e164, False, 1, dict)
    assert [(r["review_id"], r["decided_by"]) for r in document["identity_reviews"]] == [(review, None)]
    decided = await client.post(f"/api/v1/identity/reviews/{review}/reject", headers=ADMIN)
    assert decided.is_success, decided.text
    after = (await client.get(f"/api/v1/contacts/{cid}/export", headers=ADMIN)).json()
    assert [r["decided_by"] for r in after["identity_reviews"]] == [fingerprint("admin-token")]
    # The other person's export holds neither her receipt nor her thread.
    theirs_export = (await client.get(f"/api/v1/contacts/{other_cid}/export", headers=ADMIN)).json()
    assert (theirs_export["pending_updates"], [t["message_id"] for t in theirs_export["email_threads"]]) == (
        [],
        [theirs],
    )


async def test_erasure_leaves_no_assignment_and_then_no_suggestion_in_the_export(
    client: httpx.AsyncClient, broker: EmbeddedBroker, database_url: str
) -> None:
    person = a_customer()
    chat, _ = chat_and_email(person, email_html="<p>hi</p>", email_subject="Hi")
    await produce(broker.bootstrap, [chat])
    cid = (await contact_of(client, person.email))["contact_id"]

    async def suggestion() -> str | None:
        items = (await client.get(f"/api/v1/contacts/{cid}/suggestions", headers=AGENT)).json()["items"]
        return next((s["suggestion_id"] for s in items if s["rule"] == "unanswered"), None)

    sid = await eventually(suggestion, what="an unanswered suggestion")
    outcome = f"Called {person.name} back"
    assert (await client.post(f"/api/v1/suggestions/{sid}/close", json={"outcome": outcome}, headers=AGENT)).is_success

    async def closing_note() -> bool:
        page = await client.get(f"/api/v1/contacts/{cid}/timeline", params={"channel": "other"}, headers=AGENT)
        return any(outcome in (i["text"] or "") for i in page.json()["items"])

    await eventually(closing_note, what="the closing note stored")  # erased with the rest, not after it
    assert (await client.delete(f"/api/v1/contacts/{cid}", headers=ADMIN)).status_code == 200
    after = (await client.get(f"/api/v1/contacts/{cid}/export", headers=ADMIN)).json()
    for section in ("attributes", "assignments", "interactions"):
        assert after[section] == [], section

    async def forgotten() -> dict[str, Any] | None:  # the suggestions agent, once contact.erased reached it
        document = (await client.get(f"/api/v1/contacts/{cid}/export", headers=ADMIN)).json()
        return document if document["suggestions"] == document["suggestion_activity"] == [] else None

    after = await eventually(forgotten, what="the suggestions agent forgetting her")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:  # staff's words gone, not just unlinked
        cur = await conn.execute("SELECT count(*) FROM suggestion_handling WHERE suggestion_id = %s", (sid,))
        assert (await one(cur))[0] == 0
    assert person.name not in json.dumps(after, ensure_ascii=False)
    assert "contact.erase" in {a["action"] for a in after["audit"]}  # who erased her stays on record
