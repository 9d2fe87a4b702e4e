"""The IMAP connector over OAuth 2.0 against real servers: Dovecot checks every token at a real OpenID Connect
provider's introspection endpoint (``oidc-provider``), as Gmail and Microsoft 365 check theirs."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date
from typing import Any

import pytest

from connectors.email import EmailConnector
from connectors.email.settings import ImapAccount, ImapSettings
from connectors.pull import PullLoop
from connectors.testing import InMemoryCheckpoints, InMemoryEmitter
from omnitrail.local_stack import free_port
from schemas.errors import FatalError, RetriableError
from tests.integration.dovecot import Dovecot
from tests.integration.email_source import Mailbox
from tests.integration.oidc import APP_CLIENT, DEVICE_CLIENT, DEVICE_SECRET, OidcProvider
from tests.integration.stack import eventually

pytestmark = pytest.mark.integration


def _oauth(box: Mailbox, oidc: OidcProvider, refresh_token: str, **extra: Any) -> ImapAccount:
    """``box``'s account logging in by OAuth 2.0: endpoints by discovery of the issuer, the refresh-token grant."""
    fields = box.account().model_dump(exclude={"password"})
    return ImapAccount(
        **{
            **fields,
            "auth": "oauth2",
            "oauth_issuer": oidc.issuer,
            "oauth_client_id": DEVICE_CLIENT,
            "oauth_client_secret": DEVICE_SECRET,
            "oauth_scopes": ["openid", "offline_access", "imap"],
            "oauth_refresh_token": refresh_token,
            **extra,
        }
    )


def _connector(*accounts: ImapAccount) -> EmailConnector:
    return EmailConnector(ImapSettings(accounts=list(accounts), poll_interval_s=30), default_region="PT")


async def _refresh_token(oidc: OidcProvider, user: str) -> str:
    return await asyncio.to_thread(oidc.refresh_token, user)


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
async def test_oauth_login_ingests_and_keeps_the_rotated_refresh_token(
    oauth_dovecot: Dovecot, oidc: OidcProvider, mechanism: str
) -> None:
    box = Mailbox(oauth_dovecot)
    await box.add(3)
    first = await _refresh_token(oidc, box.user)
    connector = _connector(_oauth(box, oidc, first, oauth_mechanism=mechanism))
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    try:
        assert await connector.poll(emitter, checkpoints) == 3
    finally:
        await connector.close()
    assert len({i.interaction_id for i in emitter.interactions}) == 3
    assert connector.account_states() == {box.user: "ok"}
    rotated = checkpoints.refresh_tokens[("email", box.user)]
    assert rotated != first  # the provider rotated it on use: the new one is kept, the old one is spent
    assert not await asyncio.to_thread(oidc.active, first)
    # A restart reads the kept token, not the spent one in the settings.
    again = _connector(_oauth(box, oidc, first))
    await box.add(1)
    try:
        assert await again.poll(emitter, checkpoints) == 1
    finally:
        await again.close()


async def test_a_rotated_refresh_token_survives_a_database_outage(oauth_dovecot: Dovecot, oidc: OidcProvider) -> None:
    box = Mailbox(oauth_dovecot)
    await box.add(1)
    first = await _refresh_token(oidc, box.user)
    connector = _connector(_oauth(box, oidc, first))
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    checkpoints.fail = True  # the database is away while the provider rotates the refresh token
    try:
        with pytest.raises(RetriableError):  # the checkpoint cannot be saved: the poll fails as before
            await connector.poll(emitter, checkpoints)
        await connector.close()  # as the pull loop does after a fault: the next poll logs in again
        assert ("email", box.user) not in checkpoints.refresh_tokens
        checkpoints.fail = False
        await box.add(1)
        assert await connector.poll(emitter, checkpoints) >= 1  # the spent token is not used again
    finally:
        await connector.close()
    assert connector.account_states() == {box.user: "ok"}
    kept = checkpoints.refresh_tokens[("email", box.user)]  # saved once the database was back
    assert kept != first
    assert await asyncio.to_thread(oidc.active, kept)


def _ids(emitter: InMemoryEmitter) -> list[Any]:
    return [i.interaction_id for i in emitter.interactions]


async def _running(loop: PullLoop) -> asyncio.Task[None]:
    return asyncio.create_task(loop.run())


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_token_expiring_mid_run_is_renewed_with_no_mail_lost_or_doubled(
    oauth_dovecot: Dovecot, oidc: OidcProvider
) -> None:
    box = Mailbox(oauth_dovecot)
    await box.add(2)
    connector = _connector(_oauth(box, oidc, await _refresh_token(oidc, box.user)))
    tokens = connector.sessions[box.user].tokens
    assert tokens is not None
    emitter = InMemoryEmitter()
    task = await _running(PullLoop(connector, emitter, InMemoryCheckpoints(), first_delay=0.1))
    try:
        await eventually(lambda: _at_least(emitter, 2), timeout=20, what="the first two messages")
        first_token = await tokens.access_token()
        await asyncio.sleep(oidc.access_ttl + 1)  # the token the session logged in with has expired
        assert not await asyncio.to_thread(oidc.active, first_token)
        await box.add(2)
        await asyncio.to_thread(oauth_dovecot.kick, box.user)  # the server drops the session: log in again
        await box.add(1)
        await eventually(lambda: _at_least(emitter, 5), timeout=30, what="the messages after the token expired")
        await asyncio.sleep(1)
    finally:
        await _stop(task)
    assert len(_ids(emitter)) == len(set(_ids(emitter))) == 5
    assert tokens.issued >= 2
    # Renewed before it ran out, not after the server refused it: no failed login for this mailbox.
    server_log = oauth_dovecot.log().splitlines()
    assert [line for line in server_log if "auth failed" in line and f"user=<{box.user}>" in line] == []
    assert any(f"Login: user=<{box.user}>, method=XOAUTH2" in line for line in server_log)


async def test_a_token_the_server_refuses_is_replaced_once(oauth_dovecot: Dovecot, oidc: OidcProvider) -> None:
    box = Mailbox(oauth_dovecot)
    await box.add(1)
    connector = _connector(_oauth(box, oidc, await _refresh_token(oidc, box.user)))
    tokens = connector.sessions[box.user].tokens
    assert tokens is not None
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    try:
        assert await connector.poll(emitter, checkpoints) == 1
        await connector.close()
        # Ended at the provider while it still looks fresh here: only the server's refusal tells.
        await asyncio.to_thread(oidc.end_access_token, await tokens.access_token())
        issued = tokens.issued
        await box.add(1)
        assert await connector.poll(emitter, checkpoints) == 1
        assert tokens.issued == issued + 1
    finally:
        await connector.close()


async def test_a_revoked_grant_stops_that_account_and_the_others_go_on(
    oauth_dovecot: Dovecot, oidc: OidcProvider
) -> None:
    revoked, other = Mailbox(oauth_dovecot), Mailbox(oauth_dovecot)
    await revoked.add(1)
    await other.add(1)
    connector = _connector(
        _oauth(revoked, oidc, await _refresh_token(oidc, revoked.user)),
        _oauth(other, oidc, await _refresh_token(oidc, other.user)),
    )
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    loop = PullLoop(connector, emitter, checkpoints, first_delay=0.1)
    task = await _running(loop)
    try:
        await eventually(lambda: _at_least(emitter, 2), timeout=20, what="one message from each account")
        # The mailbox owner withdraws the consent: the refresh token (and with it the grant) is revoked.
        await asyncio.to_thread(oidc.revoke, checkpoints.refresh_tokens[("email", revoked.user)], "device")
        await asyncio.sleep(oidc.access_ttl)  # the cached access token runs out: a refresh is needed
        await asyncio.to_thread(oauth_dovecot.kick, revoked.user)
        await asyncio.to_thread(oauth_dovecot.kick, other.user)
        await revoked.add(1)
        await other.add(1)

        async def stopped() -> bool:
            return connector.account_states()[revoked.user].startswith("cannot authenticate")

        await eventually(stopped, timeout=30, what="the revoked account stopped")
        await eventually(lambda: _at_least(emitter, 3), timeout=30, what="the other account's new message")
        states = connector.account_states()
        assert states[other.user] == "ok"
        assert "grant expired or was revoked (invalid_grant)" in states[revoked.user]
        assert "omnitrail connector email authorize" in states[revoked.user]
        assert loop.health.state == "ok"  # the loop goes on for the other account
    finally:
        await _stop(task)
    assert [i.account for i in emitter.interactions].count(revoked.user) == 1


async def _forward(client: asyncio.StreamReader, client_w: asyncio.StreamWriter, port: int) -> None:
    """One TCP connection relayed to ``port`` on loopback, both ways."""
    upstream, upstream_w = await asyncio.open_connection("127.0.0.1", port)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    await asyncio.gather(pipe(client, upstream_w), pipe(upstream, client_w), return_exceptions=True)


async def test_token_endpoint_outage_is_sat_out_with_a_backoff_and_loses_no_mail(
    oauth_dovecot: Dovecot, oidc: OidcProvider
) -> None:
    box, other = Mailbox(oauth_dovecot), Mailbox(oauth_dovecot)
    await box.add(2)
    await other.add(1)
    port = free_port()  # the token endpoint's address, down until the relay to the provider listens there
    connector = _connector(
        _oauth(box, oidc, await _refresh_token(oidc, box.user), oauth_token_url=f"http://127.0.0.1:{port}/token"),
        _oauth(other, oidc, await _refresh_token(oidc, other.user)),
    )
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    loop = PullLoop(connector, emitter, checkpoints, first_delay=0.1)
    task = await _running(loop)
    relay = None
    try:

        async def retrying() -> bool:
            return connector.account_states()[box.user].startswith("retrying: token endpoint unreachable")

        await eventually(retrying, timeout=20, what="the account retrying its token endpoint")
        await eventually(lambda: _at_least(emitter, 1), timeout=20, what="the other account's message")
        await asyncio.sleep(2)  # a few backoff rounds: nothing of the waiting account is taken or skipped
        assert [i.account for i in emitter.interactions] == [other.user]
        assert ("email", box.user, "INBOX") not in checkpoints.states
        assert loop.health.state == "ok"
        relay = await asyncio.start_server(lambda r, w: _forward(r, w, oidc.port), "127.0.0.1", port)
        await eventually(lambda: _at_least(emitter, 3), timeout=30, what="the waiting account's mail")
        assert connector.account_states()[box.user] == "ok"
    finally:
        await _stop(task)
        if relay is not None:
            relay.close()
    assert len(_ids(emitter)) == len(set(_ids(emitter))) == 3


async def test_a_backfill_waits_for_an_account_whose_token_endpoint_is_down(
    oauth_dovecot: Dovecot, oidc: OidcProvider
) -> None:
    box, other = Mailbox(oauth_dovecot), Mailbox(oauth_dovecot)
    await box.add(2)
    await other.add(1)
    box_token, other_token = await _refresh_token(oidc, box.user), await _refresh_token(oidc, other.user)
    checkpoints = InMemoryCheckpoints()
    first = _connector(_oauth(box, oidc, box_token), _oauth(other, oidc, other_token))
    try:
        assert await first.poll(InMemoryEmitter(), checkpoints) == 3  # both mailboxes read up to date
    finally:
        await first.close()
    port = free_port()
    connector = _connector(
        _oauth(box, oidc, box_token, oauth_token_url=f"http://127.0.0.1:{port}/token"), _oauth(other, oidc, other_token)
    )
    connector.backfill(date(2026, 1, 1))  # e.g. after an outage: re-read both mailboxes since then
    emitter = InMemoryEmitter()
    task = await _running(PullLoop(connector, emitter, checkpoints, first_delay=0.1))
    relay = None
    try:
        await eventually(lambda: _at_least(emitter, 1), timeout=20, what="the other account's backfill")
        await asyncio.sleep(1.5)
        assert [i.account for i in emitter.interactions] == [other.user]
        relay = await asyncio.start_server(lambda r, w: _forward(r, w, oidc.port), "127.0.0.1", port)
        await eventually(lambda: _at_least(emitter, 3), timeout=30, what="the backfill of the account that waited")
    finally:
        await _stop(task)
        if relay is not None:
            relay.close()
    assert sorted(i.account for i in emitter.interactions) == sorted([box.user, box.user, other.user])


async def test_a_wrong_client_secret_is_named_without_the_secret(oauth_dovecot: Dovecot, oidc: OidcProvider) -> None:
    shared, other = Mailbox(oauth_dovecot, user=oidc.shared_mailbox), Mailbox(oauth_dovecot)
    await other.add(1)
    app_only = {"oauth_grant": "client_credentials", "oauth_client_id": APP_CLIENT, "oauth_scopes": ["imap"]}
    connector = _connector(
        _oauth(shared, oidc, "unused", **app_only, oauth_client_secret="not-the-app-secret"),
        _oauth(other, oidc, await _refresh_token(oidc, other.user)),
    )
    emitter = InMemoryEmitter()
    try:
        assert await connector.poll(emitter, InMemoryCheckpoints()) == 1  # the other mailbox is read
    finally:
        await connector.close()
    state = connector.account_states()[shared.user]
    assert state == (
        "cannot authenticate: the token endpoint rejected the client (invalid_client): "
        "check oauth_client_id and the secret"
    )
    assert "not-the-app-secret" not in state


async def test_every_account_refused_stops_the_connector(oauth_dovecot: Dovecot, oidc: OidcProvider) -> None:
    box = Mailbox(oauth_dovecot)
    connector = _connector(_oauth(box, oidc, "not-a-refresh-token"))
    loop = PullLoop(connector, InMemoryEmitter(), InMemoryCheckpoints(), first_delay=0.1)
    with pytest.raises(FatalError, match="invalid_grant"):
        await loop.run()
    assert "not-a-refresh-token" not in loop.health.state


async def _at_least(emitter: InMemoryEmitter, count: int) -> bool:
    return len(emitter.interactions) >= count
