"""Single sign-on: a staff member signs in to a real ``omnitrail console`` through a real OpenID Connect
provider (npm's oidc-provider on loopback), by the authorization code flow; the provider says who she is,
her Omnitrail account what she may do, and someone the provider knows without an account gets nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest

from console.session import COOKIE
from omnitrail import staff_commands
from omnitrail.local_stack import EmbeddedBroker, free_port
from tests.integration.oidc import CONSOLE_CLIENT, CONSOLE_SECRET, OidcProvider
from tests.integration.stack import Stack, start_up

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sso_console(
    broker: EmbeddedBroker, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, OidcProvider]]:
    port = free_port()
    provider = OidcProvider.start(
        shared_mailbox="unused@acme.example",
        access_ttl=60,
        console_redirect_uri=f"http://127.0.0.1:{port}/signin/oidc/callback",
    )
    try:
        stack = start_up(
            tmp_path_factory.mktemp("sso"),
            command="console",
            port=port,
            bootstrap=broker.bootstrap,
            database_url=database_url,
            OMNITRAIL_CONSOLE_OIDC_ISSUER=provider.issuer,
            OMNITRAIL_CONSOLE_OIDC_CLIENT_ID=CONSOLE_CLIENT,
            OMNITRAIL_CONSOLE_OIDC_CLIENT_SECRET=CONSOLE_SECRET,
        )
        yield stack, provider
        stack.stop()
    finally:
        provider.stop()


def test_a_staff_member_signs_in_through_the_provider_as_herself(
    sso_console: tuple[Stack, OidcProvider], database_url: str
) -> None:
    stack, provider = sso_console
    email = f"rita.{uuid.uuid4().hex[:8]}@acme.example"
    asyncio.run(staff_commands.add(database_url, email=email, name="Rita Lopes", role="admin", password="unused-pass"))
    with httpx.Client(base_url=stack.url, follow_redirects=True, timeout=20) as browser:
        assert 'href="/signin/oidc"' in browser.get("/").text  # the page offers it
        back = provider.sign_in(browser, stack.url + "/signin/oidc", email)
        assert back.status_code == 200, back.text
        assert back.url.path == "/signin/oidc/callback"
        assert COOKIE in browser.cookies
        home = browser.get("/")
        assert "Rita Lopes · admin" in home.text
        me = browser.get("/api/v1/audit", params={"actor": email})
        assert me.status_code == 200  # an admin, as her account says


def test_someone_the_provider_knows_without_an_account_is_refused(sso_console: tuple[Stack, OidcProvider]) -> None:
    stack, provider = sso_console
    with httpx.Client(base_url=stack.url, follow_redirects=True, timeout=20) as browser:
        back = provider.sign_in(browser, stack.url + "/signin/oidc", f"nobody.{uuid.uuid4().hex[:6]}@acme.example")
        assert back.status_code == 403
        assert "You have no Omnitrail account" in back.text
        assert COOKIE not in browser.cookies


def test_a_callback_not_started_here_is_refused(sso_console: tuple[Stack, OidcProvider]) -> None:
    stack, _ = sso_console
    with httpx.Client(base_url=stack.url, timeout=20) as browser:
        forged = browser.get("/signin/oidc/callback", params={"code": "stolen", "state": "guessed"})
        assert forged.status_code == 400
        assert COOKIE not in browser.cookies
