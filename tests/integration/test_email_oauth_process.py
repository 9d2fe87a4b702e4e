"""OAuth 2.0 mailboxes as operations run them: `omnitrail connector email authorize` (the device flow, approved on
the provider's own pages), then `omnitrail connector email` with a user's mailbox and an app-only shared mailbox,
its `/readyz` when one grant is revoked, and no secret in any answer or log line."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnitrail.local_stack import free_port
from schemas.ids import interaction_id_for
from tests import email_corpus as corpus
from tests.integration.dovecot import Dovecot
from tests.integration.email_source import Mailbox
from tests.integration.oidc import APP_CLIENT, APP_SECRET, DEVICE_CLIENT, DEVICE_SECRET, SCOPES, OidcProvider
from tests.integration.stack import clean_env, eventually, start_omnitrail, stop_process

pytestmark = pytest.mark.integration


def _config(path: Path, dovecot: Dovecot, oidc: OidcProvider, user: str, shared: str) -> None:
    common = (
        f'host = "127.0.0.1"\nport = {dovecot.port}\nssl = false\nfolders = ["INBOX"]\n'
        f'own_addresses = ["{corpus.SUPPORT}"]\nauth = "oauth2"\noauth_issuer = "{oidc.issuer}"\n'
    )
    path.write_text(
        "[imap]\npoll_interval_s = 1\n"
        f'[[imap.accounts]]\nusername = "{user}"\n{common}'
        f'oauth_client_id = "{DEVICE_CLIENT}"\noauth_client_secret = "{DEVICE_SECRET}"\n'
        f"oauth_scopes = {SCOPES!r}\n".replace("'", '"')
        + f'[[imap.accounts]]\nusername = "{shared}"\n{common}'
        f'oauth_grant = "client_credentials"\noauth_client_id = "{APP_CLIENT}"\n'
        f'oauth_client_secret = "{APP_SECRET}"\noauth_scopes = ["imap"]\n'
    )


async def _authorize(env: dict[str, str], cwd: Path, user: str, oidc: OidcProvider) -> str:
    """Run the command as an operator would, and approve its code in the provider's pages; its output."""
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "omnitrail", "connector", "email", "authorize", user),
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    shown = ""
    try:
        while (match := re.search(r"open (\S+)\s+and enter the code (\S+)", shown)) is None:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, f"authorize ended before showing a code: {shown}"
            shown += line.decode()
        await asyncio.to_thread(oidc.approve, match.group(1), match.group(2), user)
        shown += (await asyncio.wait_for(proc.stdout.read(), 60)).decode()
        assert await proc.wait() == 0, shown
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return shown


async def test_device_flow_then_both_grants_ingest_and_a_revoked_grant_shows_in_readyz(
    oauth_dovecot: Dovecot,
    oidc: OidcProvider,
    webhook_stack: Any,
    broker: Any,
    database_url: str,
    db: Any,
    tmp_path: Path,
) -> None:
    mine, shared = Mailbox(oauth_dovecot), Mailbox(oauth_dovecot, user=oidc.shared_mailbox)
    await mine.add(1)
    await shared.add(1)
    _config(tmp_path / "omnitrail.toml", oauth_dovecot, oidc, mine.user, shared.user)
    port = free_port()
    env = clean_env(
        OMNITRAIL_CONFIG=str(tmp_path / "omnitrail.toml"),
        OMNITRAIL_HTTP_PORT=str(port),
        OMNITRAIL_DATA_DIR=str(tmp_path / ".omnitrail"),
        OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
        OMNITRAIL_KAFKA_IDEMPOTENCE="false",
        OMNITRAIL_DATABASE_URL=database_url,
        OMNITRAIL_LOG_LEVEL="debug",  # the IMAP and HTTP libraries' chatter too: still no secret
    )
    shown = await _authorize(env, tmp_path, mine.user, oidc)
    assert "Authorized" in shown
    stored = await _refresh_token(db, mine.user)
    assert stored is not None
    assert stored not in shown

    log = (tmp_path / "connector.log").open("wb")
    proc = await start_omnitrail("connector", "email", env=env, cwd=tmp_path, log=log)
    bodies: list[str] = []

    async def readyz() -> dict[str, Any] | None:
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                text = (await http.get(f"http://127.0.0.1:{port}/readyz")).text
        except httpx.HTTPError:
            return None
        bodies.append(text)
        return dict(httpx.Response(200, text=text).json())

    try:

        async def both_ok() -> bool:
            body = await readyz()
            return body is not None and body.get("accounts", {}).get("email") == {mine.user: "ok", shared.user: "ok"}

        await eventually(both_ok, timeout=60, what="both mailboxes ok in /readyz")
        await _stored(db, [_id(mine, 0), _id(shared, 0)])
        rotated = await _refresh_token(db, mine.user)
        assert rotated is not None
        assert rotated != stored  # the provider rotated it and the connector kept the new one in PostgreSQL

        # The mailbox owner withdraws consent; the server drops the connection, so the connector must log in again.
        await asyncio.to_thread(oidc.revoke, rotated or "", "device")
        await asyncio.to_thread(oauth_dovecot.kick, mine.user)
        await mine.add(1)
        await shared.add(1)

        async def mine_stopped() -> dict[str, Any] | None:
            body = await readyz()
            states = (body or {}).get("accounts", {}).get("email", {})
            return body if str(states.get(mine.user, "")).startswith("cannot authenticate") else None

        body = await eventually(mine_stopped, timeout=60, what="the revoked mailbox reported in /readyz")
        assert "grant expired or was revoked" in body["accounts"]["email"][mine.user]
        await _stored(db, [_id(shared, 1)])  # the shared mailbox goes on
        assert (await readyz() or {})["accounts"]["email"][shared.user] == "ok"
        assert (await readyz() or {})["pull"]["email"] == "ok"
    finally:
        await stop_process(proc)
        log.close()
    output = (tmp_path / "connector.log").read_text()
    assert "imap.account_stopped" in output
    for secret in (DEVICE_SECRET, APP_SECRET, stored, rotated):
        assert secret not in output
        assert all(secret not in text for text in bodies)
    assert mine.user not in output
    assert shared.user not in output


def _id(box: Mailbox, n: int) -> Any:
    return interaction_id_for("email", "", f"s{n}.{box.tag}@cliente.example")


async def _refresh_token(db: Any, user: str) -> str | None:
    cur = await db.execute(
        "SELECT refresh_token FROM oauth_refresh_tokens WHERE connector = 'email' AND account = %s", (user,)
    )
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def _stored(db: Any, ids: list[Any]) -> None:
    async def present() -> bool:
        cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
        return bool((await cur.fetchone())[0] == len(ids))

    await eventually(present, timeout=60, what=f"{len(ids)} message(s) in the timeline")
