"""A corpus of real-world-shaped mail in two of our mailboxes -> exactly the expected timeline.

Runs the email connector with the production wiring (Kafka emitter on the session broker, PostgreSQL
checkpoints and thread index) while the session's ``omnitrail up`` worker writes the timeline.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from connectors.email.threads import ThreadEntry
from connectors.emitter import KafkaEmitter
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.ids import interaction_id_for
from sinks.checkpoint_store import PostgresCheckpoints
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from sinks.thread_index import PostgresThreadIndex
from tests import email_corpus as corpus
from tests.integration.barrier import pass_barrier
from tests.integration.dovecot import Dovecot
from tests.integration.email_source import Mailbox
from tests.integration.stack import eventually, read_topic

pytestmark = pytest.mark.integration


def mid(name: str, tag: str, domain: str = "cliente.example") -> uuid.UUID:
    return interaction_id_for("email", "", f"{name}.{tag}@{domain}")


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(database_url, min_size=1, max_size=4, kwargs={"autocommit": True}) as p:
        yield p


async def _run(box: Mailbox, other: str, broker: Any, pool: AsyncConnectionPool[Any]) -> int:
    producer = clients.producer(KafkaSettings(idempotence=False), broker.bootstrap)
    await producer.start()
    connector = box.connector(other, thread_index=PostgresThreadIndex(pool, ThreadEntry))
    try:
        return await connector.poll(KafkaEmitter(producer), PostgresCheckpoints(pool))
    finally:
        await connector.close()
        await producer.stop()


async def test_corpus_gives_exactly_the_expected_timeline(
    dovecot: Dovecot, webhook_stack: Any, broker: Any, db: Any, pool: AsyncConnectionPool[Any]
) -> None:
    box = Mailbox(dovecot, folders=["INBOX", "Sent", "All Mail"])
    tag, other = box.tag, dovecot.new_user()
    no_id = corpus.without_message_id(tag)
    orphan, internal = corpus.no_sender(tag), corpus.internal(tag)
    deliveries = [
        (box.user, "INBOX", [corpus.reply_with_attachment(tag)]),  # the customer's reply arrives first
        (box.user, "INBOX", [corpus.complaint(tag), corpus.html_only(tag), no_id, corpus.forwarded(tag)]),
        (box.user, "INBOX", [corpus.malformed(tag), orphan, corpus.quoted_reply(tag), internal]),
        (box.user, "Sent", [corpus.outlook_reply(tag)]),
        (box.user, "All Mail", [corpus.complaint(tag), corpus.outlook_reply(tag)]),  # Gmail: also in All Mail
        (box.user, "All Mail", [corpus.outlook_rewritten_reply(tag)]),  # read after Sent: joins by Thread-Index
        (other, "INBOX", [corpus.complaint(tag)]),  # the same message in a second mailbox (Bcc, an alias)
    ]
    for user, folder, raws in deliveries:
        await asyncio.to_thread(dovecot.append, user, folder, *raws)

    emitted = await _run(box, other, broker, pool)
    assert emitted == 13  # 10 distinct messages, 3 of them seen twice; the internal note was dead-lettered

    m1, m2, m3 = mid("m1", tag), mid("m2", tag, "acme.example"), mid("m3", tag)
    m4, m6, m7, m9, q = mid("m4", tag), mid("m6", tag), mid("m7", tag), mid("m9", tag), mid("q", tag)
    m8 = mid("m8", tag, "nowhere.example")
    no_id_id = interaction_id_for("email", "", "sha256:" + hashlib.sha256(no_id).hexdigest())
    expected = {m1, m2, m3, m4, m6, m7, m8, m9, q, no_id_id}

    async def timeline() -> dict[uuid.UUID, dict[str, Any]] | None:
        cur = await db.execute(
            "SELECT interaction_id, document FROM interactions WHERE document->>'account' = ANY(%s)",
            ([box.user, other],),
        )
        rows = {row[0]: row[1] for row in await cur.fetchall()}
        return rows if len(rows) >= len(expected) else None

    await eventually(timeline, what="the corpus in the timeline")
    # Anything extra (a duplicate) comes from a record the connector produced: once a marker produced after
    # them on each of their keys is stored, every one of them has been handled.
    await pass_barrier(broker.bootstrap, db, await _keys_of(broker.bootstrap, {box.user, other}))
    rows = await timeline() or {}
    assert set(rows) == expected  # exactly: no duplicates across folders, mailboxes or the out-of-order reply

    thread = str(m1)
    assert [rows[i]["thread_key"] for i in (m1, m2, m3, m9)] == [thread] * 4
    assert rows[m9]["metadata"]["thread_rule"] == "outlook_thread_index"
    assert (rows[m2]["in_reply_to"], rows[m3]["in_reply_to"]) == (str(m1), str(m2))
    assert rows[m2]["direction"] == "outbound"
    assert [rows[i]["direction"] for i in (m1, m3, m4, m6, m7, m9, no_id_id)] == ["inbound"] * 7
    assert rows[m1]["subject"] == "Reclamação da fatura de fevereiro"
    cc = [p for p in rows[m1]["recipients"] if p["role"] == "customer"]
    assert [p["identifiers"][0]["value"] for p in cc] == [corpus.MARIA]  # the Cc'd customer is a party
    assert rows[m2]["recipients"][0]["identifiers"][0]["value"] == corpus.JOAO
    attachments = {a["name"]: a for a in rows[m3]["attachments"]}
    assert attachments["comprovativo fevereiro.pdf"]["sha256"] == hashlib.sha256(corpus.PDF).hexdigest()
    assert attachments["logo.png"]["size"] == len(corpus.PNG)
    assert "49,90 €" in rows[m3]["text"]
    assert rows[m4]["text"] == "Bom dia,\nQual é o horário da loja?\n\nAna"
    assert rows[m6]["metadata"]["forwarded"][0]["subject"] == "Reclamação da fatura de fevereiro"
    assert rows[m7]["subject"] == "Olá mundo"
    assert (
        "header Subject: unknown charset 'x-bogus-charset': read as windows-1252"
        in rows[m7]["metadata"]["parse_warnings"]
    )
    assert rows[q]["text"] == "Ainda não recebi a fatura corrigida."
    assert rows[q]["quoted_text"].endswith("> Já corrigimos a fatura: reembolso 9981.")

    async def found(words: str) -> set[uuid.UUID]:
        cur = await db.execute(
            "SELECT interaction_id FROM interactions WHERE document->>'account' = %s"
            " AND search @@ websearch_to_tsquery('simple', omnitrail_unaccent(%s))",
            (box.user, words),
        )
        return {row[0] for row in await cur.fetchall()}

    assert await found("corrigida nao recebi") == {q}  # the new text is searched
    assert q not in await found("reembolso 9981")  # the quoted history is not
    assert rows[no_id_id]["metadata"]["message_id_missing"] is True
    assert rows[m8]["sender"] == {"display_name": None, "identifiers": [], "role": None}  # no From: unknown
    assert rows[m8]["metadata"]["sender_unknown"] is True
    assert {rows[i]["metadata"]["thread_rule"] for i in expected - {m9}} <= {"new", "header_chain", "header_root"}

    async def dead_lettered() -> bool:
        records = await read_topic(broker.bootstrap, topics.DEADLETTER)
        return any(v is not None and DeadLetter.model_validate_json(v).raw == internal for _, v in records)

    await eventually(dead_lettered, what="the mail among our own addresses on the dead-letter topic, raw")

    # A restart resumes from the PostgreSQL checkpoints: nothing is sent again.
    assert await _run(box, other, broker, pool) == 0


async def test_mail_from_a_one_label_domain_is_on_the_timeline_with_its_sender_and_links_nobody(
    dovecot: Dovecot, webhook_stack: Any, broker: Any, db: Any, pool: AsyncConnectionPool[Any]
) -> None:
    # root@localhost, user@intranet, a redacted export's redacted@redacted: real addresses, but every
    # machine has its own root@localhost, so two such mails are kept apart, each on its conversation.
    box = Mailbox(dovecot)
    mails = [corpus.simple(box.tag, n, sender="Root@LocalHost") for n in (1, 2)]
    await asyncio.to_thread(dovecot.append, box.user, "INBOX", *mails)
    assert await _run(box, dovecot.new_user(), broker, pool) == 2

    rows = await eventually(lambda: _mailbox_rows(db, box.user, 2), what="both messages in the timeline")
    assert [row[1]["subject"] for row in rows] == ["Pedido 1", "Pedido 2"]
    for n, (_, document) in enumerate(rows, start=1):
        assert document["sender"]["display_name"] == f"Cliente {n}"
        assert document["sender"]["identifiers"] == [{"kind": "email", "value": "root@localhost"}]
    assert rows[0][0] != rows[1][0]  # two conversations, not one "root@localhost" person
    cur = await db.execute("SELECT count(*) FROM contact_identifiers WHERE value = 'root@localhost'")
    assert await cur.fetchone() == (0,)


async def test_a_spoofed_from_never_lands_on_the_victims_contact_and_mail_without_a_from_is_kept(
    dovecot: Dovecot, webhook_stack: Any, broker: Any, db: Any, pool: AsyncConnectionPool[Any]
) -> None:
    # The victim writes first, so her contact exists; then mail from attacker.example (which passes its
    # own DMARC) spells her address in an unquoted display name, or beside its own, and a bounce has no From.
    box = Mailbox(dovecot)
    ceo, attacker = f"ceo.{box.tag}@victim.example", f"x.{box.tag}@attacker.example"
    mails = [
        corpus.with_from(box.tag, 1, f"CEO <{ceo}>".encode()),
        corpus.with_from(box.tag, 2, f"{ceo} <{attacker}>".encode()),
        corpus.with_from(box.tag, 3, f"<{ceo}>{attacker}".encode()),
        corpus.with_from(box.tag, 4, None),
    ]
    await asyncio.to_thread(dovecot.append, box.user, "INBOX", *mails)
    assert await _run(box, dovecot.new_user(), broker, pool) == 4  # nothing dead-lettered

    rows = await eventually(lambda: _mailbox_rows(db, box.user, 4), what="all four messages in the timeline")
    assert [row[1]["subject"] for row in rows] == [f"Pedido {n}" for n in (1, 2, 3, 4)]
    victim, spoofed, ambiguous, no_from = rows

    async def owner(address: str) -> Any:
        cur = await db.execute("SELECT contact_id FROM contact_identifiers WHERE value = %s", (address,))
        return [row[0] for row in await cur.fetchall()]

    assert await owner(ceo) == [victim[0]]
    assert await owner(attacker) == [spoofed[0]]  # the angle-addr is the sender
    assert spoofed[1]["sender"]["display_name"] == ceo  # shown as what it is: a name
    for row in (ambiguous, no_from):  # no address to trust: kept, sender unknown, on its own conversation
        assert row[1]["sender"]["identifiers"] == []
        assert row[1]["metadata"]["sender_unknown"] is True
    assert len({victim[0], spoofed[0], ambiguous[0], no_from[0]}) == 4
    cur = await db.execute(
        "SELECT count(*) FROM contact_identifiers WHERE contact_id = ANY(%s)", ([ambiguous[0], no_from[0]],)
    )
    assert await cur.fetchone() == (0,)


async def test_two_customers_messages_under_one_message_id_are_both_on_the_timeline_each_on_its_customer(
    dovecot: Dovecot, webhook_stack: Any, broker: Any, db: Any, pool: AsyncConnectionPool[Any]
) -> None:
    # A broken mailer gives every message the same Message-ID; Ana's message is in two folders (one message).
    box = Mailbox(dovecot, folders=["INBOX", "All Mail"])
    message_id = f"1.{box.tag}@localhost"
    ana, bob = f"ana.{box.tag}@cliente.example", f"bob.{box.tag}@other.example"
    ana_mail = corpus.with_message_id(message_id, sender=ana, subject="Invoice", body="Ana's complaint")
    bob_mail = corpus.with_message_id(message_id, sender=bob, subject="Delivery", body="Bob's question")
    await asyncio.to_thread(dovecot.append, box.user, "INBOX", ana_mail, bob_mail)
    await asyncio.to_thread(dovecot.append, box.user, "All Mail", ana_mail)
    assert await _run(box, dovecot.new_user(), broker, pool) == 3

    await eventually(lambda: _mailbox_rows(db, box.user, 2), what="both messages in the timeline")
    await pass_barrier(broker.bootstrap, db, await _keys_of(broker.bootstrap, {box.user}))
    cur = await db.execute(
        "SELECT interaction_id, contact_id, document FROM interactions WHERE document->>'account' = %s"
        " ORDER BY document->>'subject'",
        (box.user,),
    )
    (bob_id, bob_contact, bob_row), (ana_id, ana_contact, ana_row) = await cur.fetchall()  # exactly two
    assert ana_id == interaction_id_for("email", "", message_id)  # the first keeps the id it always had
    assert bob_id != ana_id
    assert (ana_row["text"], bob_row["text"]) == ("Ana's complaint", "Bob's question")
    assert bob_row["metadata"]["message_id_reused"] is True
    assert bob_row["thread_key"] != ana_row["thread_key"]
    cur = await db.execute("SELECT value, contact_id FROM contact_identifiers WHERE value = ANY(%s)", ([ana, bob],))
    assert dict(await cur.fetchall()) == {ana: ana_contact, bob: bob_contact}
    assert ana_contact != bob_contact


async def _mailbox_rows(db: Any, account: str, count: int) -> list[tuple[Any, ...]] | None:
    """The (contact id, document) rows stored for ``account``'s mail, by subject, once there are ``count``."""
    cur = await db.execute(
        "SELECT contact_id, document FROM interactions WHERE document->>'account' = %s ORDER BY document->>'subject'",
        (account,),
    )
    rows: list[tuple[Any, ...]] = await cur.fetchall()
    return rows if len(rows) == count else None


async def _keys_of(bootstrap: str, accounts: set[str]) -> list[bytes]:
    """The Kafka keys of every record on the interactions topic for one of ``accounts`` (our mailboxes)."""
    records = await read_topic(bootstrap, topics.INTERACTIONS)
    return [k for k, v in records if k is not None and v is not None and json.loads(v)["account"] in accounts]
