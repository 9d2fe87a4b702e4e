"""Named staff: an admin makes accounts with ``omnitrail staff`` (a real process), people sign in to the
running console with email and password, and what they write names them; disabling an account or changing
its role ends its sessions at once."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from console.auth import TokenAuth
from console.routes import page
from console.session import COOKIE
from console.throttle import Throttle
from omnitrail import staff_commands
from tests.integration.console.data import a_customer, contact_of, sms
from tests.integration.stack import ADMIN, Stack, clean_env, eventually

pytestmark = pytest.mark.integration


def omnitrail_staff(
    stack_env: dict[str, str], *args: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``omnitrail staff ...`` as an administrator types it (the password piped, as a script would)."""
    return subprocess.run(
        [sys.executable, "-m", "omnitrail", "staff", *args],
        env=stack_env,
        input=f"{password}\n" if password else None,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def staff_env(database_url: str) -> dict[str, str]:
    return clean_env(OMNITRAIL_DATABASE_URL=database_url)  # the database is all `omnitrail staff` needs


def an_email() -> str:
    return f"ana.{uuid.uuid4().hex[:8]}@acme.example"


@asynccontextmanager
async def sign_in(url: str, email: str, password: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in through the page's form."""
    async with httpx.AsyncClient(base_url=url, timeout=20) as browser:
        response = await browser.post("/signin", data={"email": email, "password": password})
        assert response.status_code == 303, response.text
        yield browser


def csrf_of(html: str) -> str:
    return html.split('name="csrf-token" content="')[1].split('"')[0]


async def test_a_staff_member_signs_in_by_email_and_her_note_and_audit_rows_name_her(
    console_stack: Stack, client: httpx.AsyncClient, staff_env: dict[str, str]
) -> None:
    email = an_email()
    added = omnitrail_staff(
        staff_env, "add", email.upper(), "--name", "Ana Silva", "--role", "agent", password="s3cret-pass"
    )
    assert added.returncode == 0, added.stderr
    listed = omnitrail_staff(staff_env, "list")
    assert f"{email}\tAna Silva\tagent\tenabled" in listed.stdout.splitlines()
    again = omnitrail_staff(staff_env, "add", email, "--name", "Ana", password="another-pass")
    assert again.returncode == 2
    assert again.stderr.strip() == f"omnitrail: staff add: {email} already has an account"
    short = omnitrail_staff(staff_env, "add", an_email(), "--name", "Bo", password="short")
    assert short.returncode == 2
    assert "at least 8 characters" in short.stderr

    wrong = await client.post("/signin", data={"email": email, "password": "not-her-password"})
    assert wrong.status_code == 401
    assert "Wrong email or password." in wrong.text
    nobody = await client.post("/signin", data={"email": an_email(), "password": "s3cret-pass"})
    assert nobody.status_code == 401
    assert "Wrong email or password." in nobody.text

    person = a_customer()
    await sms(client, console_stack, person, "Staff")
    contact_id = (await contact_of(client, person.e164))["contact_id"]
    async with sign_in(console_stack.url, email, "s3cret-pass") as ana:
        home = await ana.get("/")
        assert "Ana Silva" in home.text
        note = {"note_id": str(uuid.uuid4()), "text": "Called from her own phone"}
        written = await ana.post(
            f"/api/v1/contacts/{contact_id}/notes", json=note, headers={"X-CSRF-Token": csrf_of(home.text)}
        )
        assert written.status_code == 202, written.text

        async def stored_note() -> dict[str, object] | None:
            items = (await ana.get(f"/api/v1/contacts/{contact_id}/timeline")).json()["items"]
            return next((i for i in items if i["kind"] == "note"), None)

        stored = await eventually(stored_note, what="the note in the timeline")
    assert stored["metadata"]["author"] == "Ana Silva"  # type: ignore[index]
    assert stored["sender"]["display_name"] == "Ana Silva"  # type: ignore[index]
    audit = (await client.get("/api/v1/audit", params={"actor": email}, headers=ADMIN)).json()["items"]
    assert {(a["action"], a["role"], a["via"]) for a in audit} >= {("note.add", "agent", "session")}
    assert {a["contact_id"] for a in audit} == {contact_id}


async def test_disabling_or_promoting_someone_ends_her_sessions_at_once(
    console_stack: Stack, client: httpx.AsyncClient, staff_env: dict[str, str]
) -> None:
    email, other = an_email(), an_email()
    for who in (email, other):
        assert omnitrail_staff(staff_env, "add", who, "--name", "Ana", password="s3cret-pass").returncode == 0
    person = a_customer()
    await sms(client, console_stack, person, "Staff roles")
    contact_id = (await contact_of(client, person.e164))["contact_id"]
    read, export = f"/api/v1/contacts/{contact_id}", f"/api/v1/contacts/{contact_id}/export"

    async with (
        sign_in(console_stack.url, email, "s3cret-pass") as laptop,
        sign_in(console_stack.url, other, "s3cret-pass") as colleague,
    ):
        assert (await laptop.get(read)).status_code == 200
        assert (await laptop.get(export)).status_code == 403  # an agent
        promoted = omnitrail_staff(staff_env, "set-role", email, "admin")
        assert promoted.returncode == 0
        assert "1 console session(s) ended" in promoted.stdout
        assert (await laptop.get(read)).status_code == 401  # signed in as an agent: sign in again
        async with sign_in(console_stack.url, email, "s3cret-pass") as again:
            assert (await again.get(export)).status_code == 200  # now an admin
            disabled = omnitrail_staff(staff_env, "disable", email)
            assert disabled.returncode == 0, disabled.stderr
            assert (await again.get(read)).status_code == 401
        refused = await client.post("/signin", data={"email": email, "password": "s3cret-pass"})
        assert refused.status_code == 401
        assert (await colleague.get(read)).status_code == 200  # only hers ended
        revoked = await client.post("/api/v1/sessions/revoke", json={"actor": other.upper()}, headers=ADMIN)
        assert revoked.json() == {"actor": other, "revoked": 1}  # a lost laptop: an admin ends her sessions
        assert (await colleague.get(read)).status_code == 401
        assert f"{email}\tAna\tadmin\tdisabled " in omnitrail_staff(staff_env, "list").stdout
        assert omnitrail_staff(staff_env, "disable", an_email()).returncode == 2


async def test_password_guessing_is_throttled_per_address(database_url: str) -> None:
    email = an_email()
    await staff_commands.add(database_url, email=email, name="Ana", role="agent", password="s3cret-pass")
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        app = FastAPI()
        app.include_router(
            page.router(TokenAuth({}, pool.connection), Throttle(limit=3, window_s=300), secure_cookie=False)
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test") as browser:
            for _ in range(3):
                assert (await browser.post("/signin", data={"email": email, "password": "guess"})).status_code == 401
            blocked = await browser.post("/signin", data={"email": email, "password": "s3cret-pass"})
            assert blocked.status_code == 429  # even the right password, inside the window
            assert int(blocked.headers["Retry-After"]) > 0
            assert COOKIE not in browser.cookies
