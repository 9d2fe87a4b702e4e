"""Console sessions end server-side: a copied cookie stops working after sign-out, after an admin
revokes the token's sessions, and after the token's role changes (in every console process); a page's live
streams opened with it end too. Cookies are signed with the deployment's own secret, never a key the source
gives away."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from console.auth import TokenAuth
from console.routes import page
from console.session import COOKIE, fingerprint
from console.throttle import Throttle
from omnitrail import staff_commands
from omnitrail.local_stack import EmbeddedBroker
from tests.helpers import resigned
from tests.integration.console.data import (
    LIVE_CHECK_S,
    STAFF_PASSWORD,
    a_customer,
    a_staff_account,
    contact_of,
    live_stream,
    sms,
)
from tests.integration.stack import ADMIN, AGENT, Stack, eventually, start_up

pytestmark = pytest.mark.integration


@pytest.fixture
async def contact_id(client: httpx.AsyncClient, console_stack: Stack) -> str:
    person = a_customer()
    await sms(client, console_stack, person, "Sessions")
    return str((await contact_of(client, person.e164))["contact_id"])


async def sign_in(url: str, token: str | None = None, **form: str) -> tuple[str, str]:
    """(cookie value, the page's CSRF token) of a fresh sign-in with a token, or with ``email`` and ``password``."""
    async with httpx.AsyncClient(base_url=url, timeout=20) as browser:
        response = await browser.post("/signin", data={"token": token} if token else form)
        assert response.status_code == 303, response.text
        page_ = await browser.get("/")
        return browser.cookies[COOKIE], page_.text.split('name="csrf-token" content="')[1].split('"')[0]


async def status(url: str, cookie: str, path: str, csrf: str | None = None) -> int:
    """A request carrying only the cookie (and CSRF token): what someone holding a copy can do."""
    async with httpx.AsyncClient(base_url=url, timeout=20, cookies={COOKIE: cookie}) as thief:
        if csrf is None:
            return (await thief.get(path)).status_code
        note = {"note_id": str(uuid.uuid4()), "text": "Written with a copied cookie"}
        return (await thief.post(path, json=note, headers={"X-CSRF-Token": csrf})).status_code


async def test_a_cookie_copied_before_sign_out_reads_and_writes_nothing_after_it(
    client: httpx.AsyncClient, console_stack: Stack, contact_id: str
) -> None:
    url, read, write = console_stack.url, f"/api/v1/contacts/{contact_id}", f"/api/v1/contacts/{contact_id}/notes"
    cookie, csrf = await sign_in(url, "agent-token")
    assert await status(url, cookie, read) == 200
    assert await status(url, cookie, write, csrf) == 202
    async with httpx.AsyncClient(base_url=url, timeout=20, cookies={COOKIE: cookie}) as browser:
        assert (await browser.post("/signout", data={"csrf": csrf})).status_code == 303
    assert await status(url, cookie, read) == 401
    assert await status(url, cookie, write, csrf) == 401
    async with httpx.AsyncClient(base_url=url, timeout=20, cookies={COOKIE: cookie}) as browser:
        assert 'name="csrf-token"' not in (await browser.get("/")).text  # the page shows the sign-in form


async def test_an_admin_revokes_every_session_of_a_token_and_its_next_request_is_refused(
    client: httpx.AsyncClient, console_stack: Stack, contact_id: str
) -> None:
    url, read = console_stack.url, f"/api/v1/contacts/{contact_id}"
    laptop, _ = await sign_in(url, "agent-token")
    phone, _ = await sign_in(url, "agent-token")
    admins, _ = await sign_in(url, "admin-token")
    body = {"actor": fingerprint("agent-token")}
    assert (await client.post("/api/v1/sessions/revoke", json=body, headers=AGENT)).status_code == 403
    revoked = await client.post("/api/v1/sessions/revoke", json=body, headers=ADMIN)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked"] >= 2
    assert await status(url, laptop, read) == 401
    assert await status(url, phone, read) == 401
    assert await status(url, admins, read) == 200  # only that token's sessions
    assert (await client.get(read, headers=AGENT)).status_code == 200  # the token itself stays valid
    assert await status(url, (await sign_in(url, "agent-token"))[0], read) == 200  # and may sign in again


async def test_a_changed_role_ends_the_sessions_signed_in_with_the_old_one(
    client: httpx.AsyncClient,
    console_stack: Stack,
    contact_id: str,
    broker: EmbeddedBroker,
    database_url: str,
    tmp_path: Path,
) -> None:
    url, erase = console_stack.url, f"/api/v1/contacts/{contact_id}/export"
    cookie, _ = await sign_in(url, "admin-token")
    assert await status(url, cookie, erase) == 200
    # Operations demote the token: another console process configured with the new role, same database.
    demoted = start_up(
        tmp_path,
        command="console",
        bootstrap=broker.bootstrap,
        database_url=database_url,
        OMNITRAIL_API_TOKENS="agent-token:agent,admin-token:agent",
    )
    try:
        assert await status(demoted.url, cookie, f"/api/v1/contacts/{contact_id}") == 401
    finally:
        demoted.stop()  # `omnitrail console` ends by the signal itself (-15)
    assert await status(url, cookie, erase) == 401  # ended everywhere, not only where the role changed


@pytest.mark.parametrize("ended_by", ["sign-out", "revocation", "disabling the account"])
async def test_a_pages_open_live_streams_end_when_its_session_ends_and_send_nothing_after(
    client: httpx.AsyncClient, console_stack: Stack, database_url: str, ended_by: str
) -> None:
    url, person = console_stack.url, a_customer()
    await sms(client, console_stack, person, "Before the session ended")
    contact_id = str((await contact_of(client, person.e164))["contact_id"])
    email = await a_staff_account(database_url, "Ana Live")
    cookie, csrf = await sign_in(url, email=email, password=STAFF_PASSWORD)
    home = await live_stream(url, "/api/v1/events", cookies={COOKIE: cookie})
    contact = await live_stream(url, f"/api/v1/contacts/{contact_id}/events", cookies={COOKIE: cookie})
    colleague = await live_stream(url, f"/api/v1/contacts/{contact_id}/events", headers=AGENT)  # still signed in
    try:
        if ended_by == "sign-out":
            async with httpx.AsyncClient(base_url=url, timeout=20, cookies={COOKIE: cookie}) as browser:
                assert (await browser.post("/signout", data={"csrf": csrf})).status_code == 303
        elif ended_by == "revocation":
            revoked = await client.post("/api/v1/sessions/revoke", json={"actor": email}, headers=ADMIN)
            assert revoked.json()["revoked"] == 1, revoked.text
        else:
            assert await staff_commands.disable(database_url, email) == 1
        ended = time.monotonic()
        # Both responses end by themselves within the re-check interval (and a little for the request).
        for stream in (home, contact):
            assert await stream.ended(timeout=LIVE_CHECK_S + 5) - ended < LIVE_CHECK_S + 2
        assert await status(url, cookie, "/api/v1/events") == 401  # the page's reconnect is refused
        await sms(client, console_stack, person, "After the session ended")

        async def colleague_has_it() -> bool:
            return any((e.get("interaction") or {}).get("text") == "After the session ended" for e in colleague.events)

        await eventually(colleague_has_it, what="the message on a colleague's open stream")
        assert all((e.get("interaction") or {}).get("text") != "After the session ended" for e in contact.events)
        assert colleague.open()  # the colleague's stream stays open
    finally:
        for stream in (home, contact, colleague):
            await stream.close()


async def test_signin_cookie_is_secure_httponly_strict_behind_https(database_url: str) -> None:
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        app = FastAPI()
        auth = TokenAuth({"agent-token": "agent"}, pool.connection)
        app.include_router(page.router(auth, Throttle(limit=3, window_s=300), secure_cookie=True))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as browser:
            response = await browser.post("/signin", data={"token": "agent-token"})
            assert response.status_code == 303
            cookie = response.headers["set-cookie"].lower()
            assert "secure" in cookie
            assert "httponly" in cookie
            assert "samesite=strict" in cookie
            page_ = await browser.get("/")
            assert "content-security-policy" in page_.headers
            assert 'name="csrf-token"' in page_.text


#: Keys anyone who reads the source knows: the old derivation from an empty OMNITRAIL_API_TOKENS, and constants.
KNOWN_KEYS = [
    hmac.new(b"omnitrail-console-session-v1", b"", hashlib.sha256).digest(),
    hmac.new(b"omnitrail-console-session-v2", b"", hashlib.sha256).digest(),
    hmac.new(b"omnitrail-console-session-v2", bytes(32), hashlib.sha256).digest(),
    b"",
]


async def test_without_api_tokens_cookies_are_signed_with_the_deployments_secret_kept_across_processes(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    email, password = f"ana.{uuid.uuid4().hex[:8]}@acme.example", "s3cret-pass"
    await staff_commands.add(database_url, email=email, name="Ana", role="agent", password=password)
    processes: list[Stack] = []

    def console(name: str, secret: str = "") -> Stack:
        """Another ``omnitrail console`` of the deployment: staff only (no API token), the same database."""
        (tmp_path / name).mkdir()
        running = start_up(
            tmp_path / name,
            command="console",
            bootstrap=broker.bootstrap,
            database_url=database_url,
            OMNITRAIL_API_TOKENS="",
            OMNITRAIL_CONSOLE_SESSION_SECRET=secret,  # "": unset
        )
        processes.append(running)
        return running

    try:
        one, two = console("one"), console("two")
        cookie, _ = await sign_in(one.url, email=email, password=password)
        read = "/api/v1/suggestions"
        assert await status(two.url, cookie, read) == 200  # another console process of the deployment
        for key in KNOWN_KEYS:
            assert await status(one.url, resigned(cookie, key), read) == 401
        one.stop()
        assert await status(console("one again").url, cookie, read) == 200  # a restart keeps sign-ins
        configured = console("configured", secret="a-dedicated-secret-" + "x" * 16)
        assert await status(configured.url, cookie, read) == 401  # a new secret ends the generated one's sessions
        fresh, _ = await sign_in(configured.url, email=email, password=password)
        assert await status(configured.url, fresh, read) == 200
        assert await status(two.url, fresh, read) == 401
    finally:
        for running in processes:
            running.stop()
