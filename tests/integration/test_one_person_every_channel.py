"""One person, every channel: imported from a CRM export (email + phone), then writing by SMS, WhatsApp
through Twilio, WhatsApp through the Cloud API, email and live chat, ends as ONE contact whose timeline
holds every interaction once, in the order they happened.

Everything runs for real: the `omnitrail import contacts` command, signed Twilio and Meta webhooks
and a signed live-chat event through `omnitrail up`'s HTTP port, an email read from a real Dovecot
mailbox by the IMAP connector, the session broker, the worker and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from connectors.email.threads import ThreadEntry
from connectors.emitter import KafkaEmitter
from sinks.checkpoint_store import PostgresCheckpoints
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from sinks.thread_index import PostgresThreadIndex
from tests import fresh
from tests.channel_payloads import meta_signed, wa_contact, wa_text, whatsapp_payload, whatsapp_value
from tests.email_corpus import SUPPORT
from tests.helpers import inbound_sms, signed
from tests.integration.dovecot import Dovecot
from tests.integration.email_source import Mailbox
from tests.integration.stack import AGENT, GDPR_HASH_KEY, Stack, clean_env, eventually
from tests.livechat_payloads import LIVECHAT_SECRET, chat_event, omnitrail_signed, vouched

pytestmark = pytest.mark.integration
OUR_NUMBER = "+351210000000"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as p:
        yield p


async def post(stack: Stack, path: str, body: bytes, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 200, response.text


def email_from(name: str, address: str, tag: str) -> bytes:
    return (
        f"From: {name} <{address}>\r\nTo: {SUPPORT}\r\nSubject: Encomenda {tag}\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\nMessage-ID: <{tag}@cliente.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAinda não recebi a encomenda.\r\n"
    ).encode()


async def read_mailbox(box: Mailbox, broker: Any, pool: AsyncConnectionPool[Any]) -> int:
    producer = clients.producer(KafkaSettings(idempotence=False), broker.bootstrap)
    await producer.start()
    connector = box.connector(thread_index=PostgresThreadIndex(pool, ThreadEntry))
    try:
        return await connector.poll(KafkaEmitter(producer), PostgresCheckpoints(pool))
    finally:
        await connector.close()
        await producer.stop()


async def test_imported_person_writing_on_five_channels_is_one_contact_with_every_interaction_once_in_order(
    webhook_stack: Stack, broker: Any, database_url: str, dovecot: Dovecot, pool: Any, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:10]
    phone, address = fresh.phone(), f"ana.{tag}@cliente.example"
    digits = phone.removeprefix("+351")  # as the CRM export and people write it

    # 1. The CRM export links the email and the phone before any message arrives.
    crm = tmp_path / "crm.csv"
    crm.write_text(f"name,email,phone,external_id\nAna Silva,{address},{digits},CRM-{tag}\n", encoding="utf-8")
    env = clean_env(
        OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
        OMNITRAIL_KAFKA_IDEMPOTENCE="false",
        OMNITRAIL_DATABASE_URL=database_url,
        OMNITRAIL_GDPR_HASH_KEY=GDPR_HASH_KEY,  # the database holds other tests' erasures: imports need the key
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "omnitrail", "import", "contacts", str(crm)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    # 2. Then she writes on every channel, one after the other (whole seconds apart: some providers'
    # timestamps have one-second resolution, and the timeline is ordered by when things happened).
    sms, twilio_wa, cloud_wa = (f"SM{uuid.uuid4().hex}", f"SM{uuid.uuid4().hex}", f"wamid.{uuid.uuid4().hex}")
    url = webhook_stack.url + "/webhooks/twilio/messages"
    await post(webhook_stack, "/webhooks/twilio/messages", *signed(url, inbound_sms(sms, f"{digits[:3]} {digits[3:]}")))
    await asyncio.sleep(1.1)
    params = inbound_sms(twilio_wa, f"whatsapp:{phone}", To=f"whatsapp:{OUR_NUMBER}", WaId=phone[1:])
    await post(webhook_stack, "/webhooks/twilio/messages", *signed(url, params))
    await asyncio.sleep(1.1)
    now = int(datetime.now(UTC).timestamp())
    value = whatsapp_value(
        contacts=[wa_contact(phone[1:], "Ana Silva")], messages=[wa_text(cloud_wa, phone[1:], "Olá", timestamp=now)]
    )
    await post(webhook_stack, "/webhooks/meta", *meta_signed(whatsapp_payload(value)))
    await asyncio.sleep(1.1)
    box = Mailbox(dovecot)
    await asyncio.to_thread(dovecot.append, box.user, "INBOX", email_from("Ana Silva", address, tag))
    assert await read_mailbox(box, broker, pool) == 1
    await asyncio.sleep(1.1)
    visitor = vouched({"id": f"visitor-{tag}", "name": "Ana", "email": address.upper(), "phone": ""})  # signed in
    chat = [
        chat_event(f"{tag}-start", "session.started", f"session-{tag}", visitor),
        chat_event(f"{tag}-msg", "message", f"session-{tag}", {"id": visitor["id"]}, text="Alguma novidade?"),
    ]
    await post(webhook_stack, "/webhooks/livechat", *omnitrail_signed(chat, LIVECHAT_SECRET))

    # 3. One contact, whatever she is searched by, holding all of it once, oldest first.
    async with httpx.AsyncClient(base_url=webhook_stack.url, headers=AGENT, timeout=15) as api:

        async def everything() -> list[dict[str, Any]] | None:
            found = (await api.get("/api/v1/contacts", params={"q": phone})).json()["items"]
            if not found:
                return None
            page = await api.get(f"/api/v1/contacts/{found[0]['contact_id']}/timeline", params={"order": "asc"})
            items: list[dict[str, Any]] = page.json()["items"]
            return items if len(items) >= 6 else None

        items = await eventually(everything, timeout=90, what="six interactions on one contact")
        chat_handle = f"website:{visitor['id']}"  # visitor ids are scoped by widget
        searches = [phone, fresh.national(phone), address, f"CRM-{tag}", chat_handle]
        found = {q: (await api.get("/api/v1/contacts", params={"q": q})).json()["items"] for q in searches}

    assert all(len(hits) == 1 for hits in found.values()), {q: len(hits) for q, hits in found.items()}
    contacts = {hits[0]["contact_id"] for hits in found.values()}

    assert len(contacts) == 1
    assert {i["contact_id"] for i in items} == contacts
    assert [(i["channel"], i["provider"]) for i in items] == [
        ("sms", "twilio"),
        ("whatsapp", "twilio"),
        ("whatsapp", "meta"),
        ("email", "imap"),
        ("livechat", "livechat"),  # session start (a note) ...
        ("livechat", "livechat"),  # ... and her message
    ]
    ids = [i["interaction_id"] for i in items]
    assert len(ids) == len(set(ids)) == 6
    assert [i["external_id"] for i in items[:3]] == [sms, twilio_wa, cloud_wa]
