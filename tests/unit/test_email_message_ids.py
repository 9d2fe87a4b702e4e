"""Message-IDs are not unique in the wild: a different message under a taken Message-ID is kept as its own
interaction, while the same message read again (another folder, another of our mailboxes) stays one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import SecretStr

from connectors.email.connector import EmailConnector
from connectors.email.inspect import Inspector
from connectors.email.session import Fetched
from connectors.email.settings import ImapAccount, ImapSettings
from connectors.email.threads import InMemoryThreadIndex, MessageFacts, ThreadEntry, Threader, thread_key_for
from connectors.testing import InMemoryEmitter
from schemas.ids import interaction_id_for
from schemas.interaction import Direction, Interaction, PartyRole
from tests import email_corpus as corpus

ANA = "ana@cliente.example"
BOB = "bob@other.example"


def _all(*raws: bytes, inspector: Inspector | None = None) -> list[Interaction]:
    inspector = inspector or Inspector(corpus.SUPPORT)
    results = [asyncio.run(inspector.inspect(raw)) for raw in raws]
    assert all(r.interaction is not None for r in results), [r.dead_letter for r in results]
    return [r.interaction for r in results if r.interaction is not None]


def test_two_customers_messages_under_one_message_id_are_both_kept() -> None:
    ana, bob = _all(
        corpus.with_message_id("1@localhost", sender=ANA, subject="Invoice", body="Ana's complaint"),
        corpus.with_message_id("1@localhost", sender=BOB, subject="Delivery", body="Bob's question"),
    )
    assert ana.interaction_id == interaction_id_for("email", "", "1@localhost")  # the id it always had
    assert "message_id_reused" not in ana.metadata
    assert bob.interaction_id != ana.interaction_id
    assert bob.metadata["message_id_reused"] is True
    assert bob.thread_key != ana.thread_key
    assert bob.metadata["thread_rule"] == "new"
    assert [i.value for i in bob.sender.identifiers] == [BOB]
    assert bob.text == "Bob's question"


def test_the_same_message_read_again_or_in_another_mailbox_is_one_interaction() -> None:
    first, again, other_copy, tagged = _all(
        corpus.with_message_id("m1@cliente.example", sender=ANA, trace="from mx1 by imap1"),
        corpus.with_message_id("m1@cliente.example", sender=ANA, trace="from mx1 by imap1"),
        corpus.with_message_id("m1@cliente.example", sender=ANA, trace="from mx2 by imap2; other bytes"),
        corpus.with_message_id("m1@cliente.example", sender=ANA, subject="[SPAM] Pedido"),  # a gateway's tag
    )
    assert first.interaction_id == again.interaction_id == other_copy.interaction_id == tagged.interaction_id
    assert first.interaction_id == interaction_id_for("email", "", "m1@cliente.example")
    assert not any("message_id_reused" in i.metadata for i in (first, again, other_copy, tagged))


def test_a_reused_message_id_read_again_keeps_its_own_id_and_thread() -> None:
    inspector = Inspector(corpus.SUPPORT)
    ana = corpus.with_message_id("1@localhost", sender=ANA, subject="Invoice")
    bob = corpus.with_message_id("1@localhost", sender=BOB, subject="Delivery")
    _, bob_first, _, bob_again = _all(ana, bob, ana, bob, inspector=inspector)
    assert (bob_again.interaction_id, bob_again.thread_key) == (bob_first.interaction_id, bob_first.thread_key)


def test_web_form_submissions_and_mail_merges_under_one_message_id_are_separate_messages() -> None:
    form = [
        corpus.with_message_id(
            "form@localhost", sender="noreply@site.example", date=f"Fri, 6 Mar 2026 1{n}:00:00 +0000"
        )
        for n in range(3)
    ]
    merge = [
        corpus.with_message_id("merge@shop.example", sender="news@shop.example", to=f"{who}, {corpus.SUPPORT}")
        for who in (ANA, BOB)
    ]
    ids = {i.interaction_id for i in _all(*form, *merge)}
    assert len(ids) == 5


async def test_an_entry_indexed_before_fingerprints_were_kept_is_the_same_message() -> None:
    """Upgrading must not change the id (or thread) of mail stored before: a resync would duplicate it."""
    index = InMemoryThreadIndex()
    at = datetime(2026, 3, 6, tzinfo=UTC)
    await index.remember([ThreadEntry("old@x", thread_key_for("root@x"), "header_chain", "pedido", (ANA,), None, at)])
    threader = Threader(index)
    placement = await threader.place(MessageFacts("old@x", ["root@x"], "Re: Pedido", (ANA,), None, at, "f1"))
    assert (placement.thread_key, placement.rule, placement.key) == (thread_key_for("root@x"), "header_chain", None)
    # Not stamped with the fingerprint of whatever came next under its Message-ID: stamped "f2" (another
    # message reusing the id), the next copy of the stored message ("f1") would be split off as a new one.
    assert index.entries["old@x"].fingerprint is None
    await threader.place(MessageFacts("old@x", ["root@x"], "Outra", (BOB,), None, at, "f2"))
    again = await threader.place(MessageFacts("old@x", ["root@x"], "Re: Pedido", (ANA,), None, at, "f1"))
    assert (again.thread_key, again.key) == (thread_key_for("root@x"), None)


def test_copies_whose_date_names_one_instant_in_two_offsets_are_one_message() -> None:
    """Exchange rebuilds a message for IMAP, a gateway rewrites headers: the instant stays, its spelling not."""
    here, rebuilt = _all(
        corpus.with_message_id("tz@cliente.example", sender=ANA, date="Tue, 02 Jan 2024 10:00:00 +0100"),
        corpus.with_message_id("tz@cliente.example", sender=ANA, date="Tue, 02 Jan 2024 09:00:00 +0000"),
    )
    assert rebuilt.interaction_id == here.interaction_id
    assert "message_id_reused" not in rebuilt.metadata


def _account(username: str) -> ImapAccount:
    return ImapAccount(host="imap.invalid", username=username, password=SecretStr("-"))


def test_mail_between_two_of_our_mailboxes_makes_no_colleague_a_customer_in_either_copy() -> None:
    """sales@ writes a customer and Cc's support@: both mailboxes hold a copy, both read it the same way."""
    sales, support = _account("sales@acme.example"), _account(corpus.SUPPORT)
    raw = corpus.with_message_id("offer@acme.example", sender="Sales <sales@acme.example>", to=ANA, cc=corpus.SUPPORT)
    for first, second in ((support, sales), (sales, support)):
        connector = EmailConnector(ImapSettings(accounts=[sales, support]), default_region="PT")
        out = InMemoryEmitter()
        for account in (first, second):
            asyncio.run(connector.ingest(account, [Fetched(1, raw, None)], out))
        for interaction in out.interactions:
            assert interaction.direction is Direction.outbound
            roles = {p.identifiers[0].value: p.role for p in interaction.recipients}
            assert roles == {ANA: None, corpus.SUPPORT: PartyRole.us}


def test_messages_under_one_message_id_without_a_date_are_told_apart_by_what_they_say() -> None:
    def alert(body: str) -> bytes:
        dated = corpus.with_message_id("alert@localhost", sender="monitor@site.example", body=body)
        return b"\r\n".join(line for line in dated.split(b"\r\n") if not line.startswith(b"Date:"))

    first, second, again = _all(alert("Disk full on db1"), alert("Disk full on db2"), alert("Disk full on db1"))
    assert second.interaction_id != first.interaction_id  # before: db2's alert was taken for db1's, and dropped
    assert again.interaction_id == first.interaction_id
