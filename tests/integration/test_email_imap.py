"""The IMAP connector against a real Dovecot: UIDVALIDITY resync, IDLE, dropped connections, backfill, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from connectors.email import EmailConnector
from connectors.email.settings import ImapSettings
from connectors.pull import PullLoop
from connectors.testing import InMemoryCheckpoints, InMemoryEmitter
from schemas.errors import FatalError, RetriableError
from schemas.interaction import Interaction
from tests import email_corpus as corpus
from tests.integration.dovecot import Dovecot
from tests.integration.email_source import Mailbox
from tests.integration.stack import eventually

pytestmark = pytest.mark.integration


async def _poll_once(connector: EmailConnector, emitter: InMemoryEmitter, checkpoints: InMemoryCheckpoints) -> int:
    try:
        return await connector.poll(emitter, checkpoints)
    finally:
        await connector.close()


async def test_uidvalidity_change_resyncs_without_new_ids(dovecot: Dovecot) -> None:
    box = Mailbox(dovecot, folders=["INBOX", "Sent"])
    await box.add(2, folder="INBOX")
    await box.add(3, folder="Sent")
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    assert await _poll_once(box.connector(), emitter, checkpoints) == 5
    before = checkpoints.states[("email", box.user, "Sent")]
    await asyncio.to_thread(dovecot.recreate, box.user, "Sent")
    first_ids = {i.interaction_id for i in emitter.interactions}
    assert await _poll_once(box.connector(), emitter, checkpoints) == 3  # Sent re-read in full, INBOX untouched
    after = checkpoints.states[("email", box.user, "Sent")]
    assert after["uidvalidity"] != before["uidvalidity"]
    assert {i.interaction_id for i in emitter.interactions} == first_ids  # same ids: the worker keeps one row each


async def test_message_appended_while_running_arrives_without_restart(dovecot: Dovecot) -> None:
    box = Mailbox(dovecot, poll_interval_s=60)  # only IDLE can deliver within the test's 10 s
    await box.add(1)
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    loop = PullLoop(box.connector(), emitter, checkpoints)
    task = asyncio.create_task(loop.run())
    try:
        await eventually(lambda: _count(emitter, 1), timeout=20, what="the first message")
        await asyncio.sleep(0.5)  # the connector is now IDLE on INBOX
        await box.add(1)
        await eventually(lambda: _count(emitter, 2), timeout=10, what="the appended message, via IDLE")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _faults() -> float:
    """Faults one mailbox sat out with a backoff of its own (the others go on meanwhile)."""
    return REGISTRY.get_sample_value("omnitrail_imap_account_faults_total", {"connector": "email"}) or 0.0


async def test_idle_watches_every_account_and_skips_missing_folders(dovecot: Dovecot) -> None:
    first = Mailbox(dovecot, folders=["Archive", "INBOX"], poll_interval_s=60)  # Archive does not exist
    second = first.dovecot.new_user()
    await first.add(1)
    emitter = InMemoryEmitter()
    loop = PullLoop(first.connector(second), emitter, InMemoryCheckpoints())
    task = asyncio.create_task(loop.run())
    try:
        await eventually(lambda: _count(emitter, 1), timeout=20, what="the first message")
        await asyncio.sleep(0.5)
        await asyncio.to_thread(dovecot.append, second, "INBOX", corpus.simple(first.tag, 99))
        await eventually(lambda: _count(emitter, 2), timeout=10, what="mail of the second account, via IDLE")
        assert loop.health.state == "ok"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_gap_gauge_shows_what_the_server_has_and_we_have_not_ingested(dovecot: Dovecot) -> None:
    box = Mailbox(dovecot, folders=["Gap"])
    await box.add(4, folder="Gap")
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    emitter.fail = True  # the broker is down: nothing can be ingested
    with pytest.raises(RetriableError):
        await _poll_once(box.connector(), emitter, checkpoints)
    assert _gap("Gap") == 4
    emitter.fail = False
    assert await _poll_once(box.connector(), emitter, checkpoints) == 4
    assert _gap("Gap") == 0


def _gap(folder: str) -> float | None:
    return REGISTRY.get_sample_value("omnitrail_imap_gap_messages", {"connector": "email", "folder": folder})


async def _count(emitter: InMemoryEmitter, n: int) -> bool:
    return len({i.interaction_id for i in emitter.interactions}) >= n


class _KickingEmitter(InMemoryEmitter):
    """After the second acknowledged batch, the server drops every connection of the mailbox."""

    def __init__(self, dovecot: Dovecot, user: str) -> None:
        super().__init__()
        self.dovecot, self.user, self.batches = dovecot, user, 0

    async def emit_many(self, interactions: list[Interaction]) -> None:
        await super().emit_many(interactions)
        self.batches += 1
        if self.batches == 2:
            await asyncio.to_thread(self.dovecot.kick, self.user)


async def test_server_dropping_the_connection_mid_backfill_loses_nothing(dovecot: Dovecot) -> None:
    box = Mailbox(dovecot, batch_size=5)
    await box.add(23)
    emitter, checkpoints = _KickingEmitter(dovecot, box.user), InMemoryCheckpoints()
    loop = PullLoop(box.connector(), emitter, checkpoints, first_delay=0.1)
    faults_before = _faults()
    task = asyncio.create_task(loop.run())
    try:
        await eventually(
            lambda: _count(emitter, 23), timeout=30, what="all 23 messages after the server dropped the connection"
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert emitter.batches > 2
    assert _faults() > faults_before  # the drop really interrupted the backfill and the account reconnected
    assert checkpoints.states[("email", box.user, "INBOX")]["last_uid"] == 23


async def test_backfill_since_rereads_the_window_without_duplicates(dovecot: Dovecot) -> None:
    box = Mailbox(dovecot)
    old = [corpus.simple(box.tag, n) for n in (100, 101)]
    recent = [corpus.simple(box.tag, n) for n in (200, 201, 202)]
    await asyncio.to_thread(dovecot.append, box.user, "INBOX", *old, msg_time=datetime(2025, 6, 1, tzinfo=UTC))
    await asyncio.to_thread(dovecot.append, box.user, "INBOX", *recent, msg_time=datetime(2026, 3, 1, tzinfo=UTC))
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    assert await _poll_once(box.connector(), emitter, checkpoints) == 5
    saved = dict(checkpoints.states)
    connector = box.connector()
    connector.backfill(date(2026, 1, 1))
    assert await _poll_once(connector, emitter, checkpoints) == 3  # the window only
    assert checkpoints.states == saved  # a backfill never moves the checkpoint
    assert len({i.interaction_id for i in emitter.interactions}) == 5  # the re-read ids are the ones already sent


async def test_message_that_cannot_become_an_interaction_is_dead_lettered_with_its_raw_bytes(
    dovecot: Dovecot,
) -> None:
    box = Mailbox(dovecot)
    orphan = corpus.internal(box.tag)
    await asyncio.to_thread(
        dovecot.append, box.user, "INBOX", corpus.simple(box.tag, 1), orphan, corpus.simple(box.tag, 2)
    )
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    counted = REGISTRY.get_sample_value("omnitrail_deadlettered_total", {"source": "email.imap"}) or 0.0
    assert await _poll_once(box.connector(), emitter, checkpoints) == 2
    # Counted like every other dead letter, by source, so the same alert covers email.
    assert REGISTRY.get_sample_value("omnitrail_deadlettered_total", {"source": "email.imap"}) == counted + 1
    (letter,) = emitter.dead_letters
    assert letter.raw == orphan  # exactly what the server holds, CRLF and all
    assert letter.source == "email.imap"
    assert "no customer address" in letter.reason
    assert checkpoints.states[("email", box.user, "INBOX")]["last_uid"] == 3  # handled: not fetched again


async def test_wrong_password_stops_the_loop_with_a_clear_reason(dovecot: Dovecot) -> None:
    box = Mailbox(dovecot)
    account = box.account().model_copy(update={"password": SecretStr("not-the-password")})
    connector = EmailConnector(ImapSettings(accounts=[account]), default_region="PT")
    loop = PullLoop(connector, InMemoryEmitter(), InMemoryCheckpoints(), first_delay=0.1)
    with pytest.raises(FatalError, match="login refused"):
        await loop.run()
    assert loop.health.state.startswith("stopped: IMAP login refused")
    assert box.user not in loop.health.state


async def test_damaged_real_world_mail_arrives_whole_through_imap(dovecot: Dovecot) -> None:
    box = Mailbox(dovecot)
    mails = [corpus.bounce(box.tag), corpus.header_damaged(box.tag), corpus.undeclared_utf8(box.tag)]
    await asyncio.to_thread(dovecot.append, box.user, "INBOX", *mails, corpus.quoted_reply(box.tag))
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    assert await _poll_once(box.connector(), emitter, checkpoints) == 4
    assert emitter.dead_letters == []
    bounce, damaged, undeclared, reply = emitter.interactions
    assert bounce.text is not None
    assert "User unknown" in bounce.text
    assert [a.content_type for a in bounce.attachments] == ["message/delivery-status", "message/rfc822"]
    assert damaged.sender.identifiers[0].value == corpus.MARIA
    assert damaged.subject == f"Pedido de reembolso {box.tag}"
    assert "1 line(s) of text before the first header removed" in damaged.metadata["parse_warnings"]
    assert undeclared.text == "Prénom: João\nMensagem: a fatura de março está errada, cobraram-me duas vezes."
    assert reply.text == "Ainda não recebi a fatura corrigida."
    assert reply.quoted_text is not None
    assert reply.quoted_text.endswith("> Já corrigimos a fatura: reembolso 9981.")
