"""`omnitrail import contacts FILE` as a user runs it, against the real broker and PostgreSQL, with the
stack's worker and API: cross-channel merge via import then messages, merges caused by an imported
record, re-runs that change nothing, rejected rows reported with their line numbers."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.identifiers import Identifier
from sinks.connection import Conn
from tests import fresh
from tests.helpers import inbound_sms, signed
from tests.integration.identity_helpers import (
    email_from,
    find_contact,
    found_contact,
    minutes_ago,
    new_email,
    timeline_ids,
)
from tests.integration.rows import one
from tests.integration.stack import ADMIN, AGENT, Stack, StartStack, clean_env, eventually, read_topic
from tests.interactions import produce

pytestmark = pytest.mark.integration
GDPR = {"OMNITRAIL_GDPR_HASH_KEY": "contact-import-hash-key-0123456789"}


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Stack:
    return start_stack()


def omnitrail(
    broker: EmbeddedBroker, database_url: str, *args: str, erasure_key: bool = True, **settings: str
) -> subprocess.CompletedProcess[str]:
    """``omnitrail ARGS`` with erasure configured (the session's database holds other tests' erasures, and an
    import into a database with erasures needs the key), or without it (``erasure_key=False``)."""
    env = clean_env(
        **{
            "OMNITRAIL_KAFKA_BOOTSTRAP": broker.bootstrap,
            "OMNITRAIL_KAFKA_IDEMPOTENCE": "false",
            "OMNITRAIL_DATABASE_URL": database_url,
            **(GDPR if erasure_key else {}),
            **settings,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "omnitrail", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def plan_attribute(broker: EmbeddedBroker, database_url: str) -> str:
    name = f"plan_{uuid.uuid4().hex[:6]}"
    done = omnitrail(broker, database_url, "attributes", "define", name, "enum", "--values", "free,pro")
    assert done.returncode == 0, done.stderr
    assert "defined" in done.stdout
    return name


async def state(db: Conn, values: list[str]) -> list[tuple[Any, ...]]:
    """Everything an import may touch for these identifier values, timestamps included."""
    contacts = await (
        await db.execute(
            """
            SELECT c.contact_id, c.display_name, c.merged_into, c.updated_at,
                   (SELECT jsonb_object_agg(a.name, jsonb_build_array(a.value, a.updated_at)) FROM contact_attributes a
                     WHERE a.contact_id = c.contact_id)
              FROM contacts c WHERE c.contact_id IN (SELECT contact_id FROM contact_identifiers WHERE value = ANY(%s))
             ORDER BY c.contact_id
            """,
            (values,),
        )
    ).fetchall()
    links = await (
        await db.execute(
            "SELECT kind, value, contact_id, created_at FROM contact_identifiers WHERE value = ANY(%s) ORDER BY 1, 2",
            (values,),
        )
    ).fetchall()
    merges = await one(await db.execute("SELECT count(*) FROM contact_merges"))
    return [*contacts, *links, merges]


async def test_imported_person_then_messages_on_two_channels_is_one_contact_and_a_rerun_changes_nothing(
    client: httpx.AsyncClient,
    stack: Stack,
    broker: EmbeddedBroker,
    database_url: str,
    db: Conn,
    plan_attribute: str,
    tmp_path: Path,
) -> None:
    phone, address, crm = fresh.phone(), new_email("ana"), f"CRM-{uuid.uuid4().hex[:8]}"
    other = new_email("rui")
    csv_file = tmp_path / "crm.csv"
    csv_file.write_text(
        f"name,email,phone,external_id,{plan_attribute}\n"
        f'"Ana Silva","{address.upper()};{new_email("ana2")}","{phone[4:7]} {phone[7:10]} {phone[10:]}",{crm},pro\n'
        f"Rui,{other},,,free\n"
        f"Broken,not-an-email,,,\n"
        f"Nobody,,,,pro\n"
        f"Wrong plan,{new_email('x')},,,platinum\n",
        encoding="utf-8",
    )
    done = omnitrail(broker, database_url, "import", "contacts", str(csv_file))
    assert done.returncode == 0, done.stderr
    assert "accepted 2 rows, rejected 3" in done.stdout
    assert "line 4: email: not an email address" in done.stdout
    assert "line 5: no identifier" in done.stdout
    assert "line 6: attribute " + plan_attribute + ": expected one of ['free', 'pro']" in done.stdout
    assert address not in done.stdout + done.stderr  # rejected reasons never echo personal data

    imported = await found_contact(client, crm)
    assert imported["display_name"] == "Ana Silva"
    assert imported["attributes"] == {plan_attribute: "pro"}
    assert {i["kind"] for i in imported["identifiers"]} == {"email", "phone", "external"}

    before = await state(db, [phone, address, other, crm])
    again = omnitrail(broker, database_url, "import", "contacts", str(csv_file))
    assert again.returncode == 0, again.stderr
    assert "contacts created 0, merged 0, changed 0" in again.stdout
    assert await state(db, [phone, address, other, crm]) == before

    # Then the person writes: by SMS (through the signed webhook) and by email.
    params = inbound_sms(f"SM{uuid.uuid4().hex}", phone)
    body, headers = signed(stack.url + "/webhooks/twilio/messages", params)
    assert (await client.post("/webhooks/twilio/messages", content=body, headers=headers)).status_code == 200
    await produce(broker.bootstrap, [email_from(Identifier(kind="email", value=address), at=minutes_ago(1))])

    async def two_items() -> list[str] | None:
        ids = await timeline_ids(client, imported["contact_id"])
        return ids if len(ids) == 2 else None

    await eventually(two_items, what="both messages on the imported contact")
    assert (await found_contact(client, phone))["contact_id"] == imported["contact_id"]
    assert (await found_contact(client, address))["contact_id"] == imported["contact_id"]


async def test_an_imported_record_with_identifiers_of_two_contacts_merges_them_like_an_interaction(
    client: httpx.AsyncClient, broker: EmbeddedBroker, database_url: str, db: Conn, tmp_path: Path
) -> None:
    phone, address = fresh.phone(), new_email("lia")
    await produce(broker.bootstrap, [email_from(Identifier(kind="phone", value=phone), at=minutes_ago(9))])
    older = await eventually(lambda: find_contact(client, phone), what="phone contact")
    await produce(broker.bootstrap, [email_from(Identifier(kind="email", value=address), at=minutes_ago(8))])
    younger = await eventually(lambda: find_contact(client, address), what="email contact")
    jsonl = tmp_path / "crm.jsonl"
    jsonl.write_text(
        json.dumps({"name": "Lia", "email": [address], "phone": phone}) + "\n" + "{broken\n", encoding="utf-8"
    )
    done = omnitrail(broker, database_url, "import", "contacts", str(jsonl))
    assert done.returncode == 0, done.stderr
    assert "accepted 1 rows, rejected 1" in done.stdout
    assert "line 2: not a JSON value" in done.stdout  # the one reader says it as interaction imports do
    merged = await found_contact(client, address)
    assert merged["contact_id"] == older["contact_id"]
    row = await (
        await db.execute("SELECT cause FROM contact_merges WHERE merged_id = %s", (uuid.UUID(younger["contact_id"]),))
    ).fetchone()
    assert row == ("import:crm.jsonl:1",)
    assert len(await timeline_ids(client, older["contact_id"])) == 2
    events = [json.loads(v) for _, v in await read_topic(broker.bootstrap, topics.TIMELINE) if v]
    assert any(e["type"] == "contact.merged" and e["related_contact_id"] == younger["contact_id"] for e in events)
    # And it can be undone like any merge.
    undone = await client.post(f"/api/v1/contacts/{older['contact_id']}/unmerge", headers=ADMIN)
    assert undone.status_code == 200
    assert (await found_contact(client, address))["contact_id"] == younger["contact_id"]
    response = await client.get(f"/api/v1/contacts/{younger['contact_id']}", headers=AGENT)
    assert response.json()["merged_into"] is None


def test_an_undefined_column_stops_the_import_before_any_row(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    csv_file = tmp_path / "crm.csv"
    csv_file.write_text(f"name,email,favourite_colour\nAna,{new_email('c')},blue\n", encoding="utf-8")
    done = omnitrail(broker, database_url, "import", "contacts", str(csv_file))
    assert done.returncode == 2
    assert "favourite_colour" in done.stderr
    assert "omnitrail attributes define favourite_colour" in done.stderr


async def test_an_excel_export_in_windows_1252_with_semicolons_imports_and_a_file_of_nothing_fails(
    client: httpx.AsyncClient, stack: Stack, broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    crm, address = f"CRM-{uuid.uuid4().hex[:8]}", new_email("jose")
    excel = tmp_path / "contactos.csv"  # what Excel saves as "CSV" on a Portuguese Windows
    excel.write_bytes(f"Name;Email;External_id\r\nJosé Conceição;{address};{crm}\r\n".encode("cp1252"))
    done = omnitrail(broker, database_url, "import", "contacts", str(excel))
    assert done.returncode == 0, done.stderr
    assert "accepted 1 rows, rejected 0" in done.stdout
    assert (await found_contact(client, crm))["display_name"] == "José Conceição"

    nothing = tmp_path / "nothing.csv"
    nothing.write_text("name,email\nBroken,not-an-email\n", encoding="utf-8")
    done = omnitrail(broker, database_url, "import", "contacts", str(nothing))
    assert done.returncode == 1
    assert "omnitrail: nothing was imported from nothing.csv" in done.stderr

    spreadsheet = tmp_path / "contacts.csv"  # an .xlsx renamed: a zip archive
    spreadsheet.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" * 50)
    done = omnitrail(broker, database_url, "import", "contacts", str(spreadsheet))
    assert done.returncode == 2
    assert done.stderr.strip() == "omnitrail: contacts.csv is not a text file: an import takes CSV or JSON Lines"


async def test_a_rerun_of_the_same_file_after_an_erasure_does_not_bring_the_person_back(
    broker: EmbeddedBroker, database_url: str, db: Conn, tmp_path: Path
) -> None:
    phone, address, other = fresh.phone(), new_email("irene"), new_email("rui")
    csv_file = tmp_path / "crm.csv"
    csv_file.write_text(f"name,email,phone\nIrene Imported,{address},{phone}\nRui Kept,{other},\n", encoding="utf-8")
    done = omnitrail(broker, database_url, "import", "contacts", str(csv_file))
    assert done.returncode == 0, done.stderr
    assert "accepted 2 rows, rejected 0" in done.stdout
    (irene,) = await one(await db.execute("SELECT contact_id FROM contact_identifiers WHERE value = %s", (address,)))
    erased = omnitrail(broker, database_url, "gdpr", "erase", str(irene), "--yes")
    assert erased.returncode == 0, erased.stderr

    again = omnitrail(broker, database_url, "import", "contacts", str(csv_file))
    assert again.returncode == 0, again.stderr
    assert "accepted 1 rows, rejected 1 (1 naming an erased person)" in again.stdout
    assert "line 2: names an erased person's identifier" in again.stdout
    assert address not in again.stdout + again.stderr
    assert phone not in again.stdout + again.stderr
    links = await db.execute("SELECT count(*) FROM contact_identifiers WHERE value = ANY(%s)", ([address, phone],))
    assert await one(links) == (0,)
    assert await one(await db.execute("SELECT display_name FROM contacts WHERE contact_id = %s", (irene,))) == (None,)
    kept = await db.execute("SELECT count(*) FROM contact_identifiers WHERE value = %s", (other,))
    assert await one(kept) == (1,)

    # Without the key her hashes cannot be compared: the import stops before any row.
    blind = omnitrail(broker, database_url, "import", "contacts", str(csv_file), erasure_key=False)
    assert blind.returncode == 2
    assert "OMNITRAIL_GDPR_HASH_KEY is not set" in blind.stderr
    assert await one(
        await db.execute("SELECT count(*) FROM contact_identifiers WHERE value = ANY(%s)", ([address, phone],))
    ) == (0,)
