"""Accounts fail one by one, against a real Dovecot: a mailbox that cannot be read now waits alone and recovers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from connectors.email import EmailConnector
from connectors.email.settings import ImapSettings
from connectors.pull import PullLoop
from connectors.testing import InMemoryCheckpoints, InMemoryEmitter
from omnitrail.local_stack import free_port
from tests import email_corpus as corpus
from tests.integration.dovecot import Dovecot
from tests.integration.email_source import Mailbox
from tests.integration.stack import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def flaky_dovecot() -> Iterator[Dovecot]:
    """A Dovecot whose authentication backend the test can take down (logins answered ``[UNAVAILABLE]``)."""
    server = Dovecot.start(auth_outages=True)
    yield server
    server.auth_down(False)
    server.stop()


@contextlib.asynccontextmanager
async def _running(loop: PullLoop) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(loop.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_login_temporarily_unavailable_is_waited_out_and_the_mailbox_is_read_after(
    flaky_dovecot: Dovecot,
) -> None:
    box = Mailbox(flaky_dovecot, poll_interval_s=0.5)
    await box.add(1)
    flaky_dovecot.auth_down(True)
    connector, emitter = box.connector(), InMemoryEmitter()
    loop = PullLoop(connector, emitter, InMemoryCheckpoints(), first_delay=0.1, max_delay=0.5)
    async with _running(loop) as task:

        async def retrying() -> bool:
            state = connector.account_states()[box.user]
            return state == "retrying: IMAP login temporarily unavailable ([UNAVAILABLE])"

        await eventually(retrying, timeout=20, what="the account waiting out the authentication outage")
        assert not task.done()  # not taken for a wrong password: the loop goes on
        flaky_dovecot.auth_down(False)

        async def read() -> bool:
            return len(emitter.interactions) == 1 and connector.account_states()[box.user] == "ok"

        await eventually(read, timeout=30, what="the message, once logins work again")
    assert box.user not in " ".join(connector.account_states().values())


async def test_unreachable_mailbox_does_not_keep_the_others_from_being_read(dovecot: Dovecot) -> None:
    box = Mailbox(dovecot)
    await box.add(1)
    down = box.account(dovecot.new_user()).model_copy(update={"port": free_port()})  # nothing listens there
    settings = ImapSettings(accounts=[down, box.account()], poll_interval_s=0.5)
    connector, emitter = EmailConnector(settings, default_region="PT"), InMemoryEmitter()
    loop = PullLoop(connector, emitter, InMemoryCheckpoints(), first_delay=0.1, max_delay=0.5)
    async with _running(loop):

        async def read() -> bool:
            return len(emitter.interactions) == 1

        await eventually(read, timeout=20, what="the healthy mailbox's message")
        states = connector.account_states()
        assert states[down.username] == "retrying: ConnectionRefusedError"
        assert states[box.user] == "ok"
        assert loop.health.state == "ok"


async def test_missing_folder_shows_in_the_account_state_while_it_is_missing(dovecot: Dovecot) -> None:
    box = Mailbox(dovecot, folders=["INBOX", "Support"])
    await box.add(1)
    connector, emitter, checkpoints = box.connector(), InMemoryEmitter(), InMemoryCheckpoints()
    try:
        assert await connector.poll(emitter, checkpoints) == 1  # the folders the server has are still read
        assert connector.account_states()[box.user] == "missing folders: Support"
        await connector.poll(emitter, checkpoints)
        assert connector.account_states()[box.user] == "missing folders: Support"  # not only once
        await asyncio.to_thread(dovecot.append, box.user, "Support", corpus.simple(box.tag, 7))
        assert await connector.poll(emitter, checkpoints) == 1
        assert connector.account_states()[box.user] == "ok"
    finally:
        await connector.close()
