"""Integration fixtures: one ``omnitrail up`` with every channel configured (``tests/channel_env.py``)
for the whole session, and ``start_stack`` for a module's own stack with its own settings."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from omnitrail.local_stack import EmbeddedBroker, free_port
from tests.integration.dovecot import Dovecot
from tests.integration.oidc import OidcProvider
from tests.integration.stack import Stack, StartStack, start_up


@pytest.fixture(scope="module")
def start_stack(
    broker: EmbeddedBroker, database_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StartStack]:
    """``start_stack(OMNITRAIL_X="1", ...)``: a ready ``omnitrail up`` on this module's ``broker`` and
    ``database_url`` (a module overrides those fixtures, or passes ``bootstrap=``/``database_url=``),
    stopped at the module's end, where it must exit cleanly unless started with ``clean_exit=False``."""
    started: list[tuple[Stack, bool]] = []

    def start(
        *,
        clean_exit: bool = True,
        bootstrap: str = broker.bootstrap,
        database_url: str = database_url,
        port: int | None = None,
        **settings: str,
    ) -> Stack:
        tmp = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
        stack = start_up(tmp, bootstrap=bootstrap, database_url=database_url, port=port, **settings)
        started.append((stack, clean_exit))
        return stack

    yield start
    codes = [(stack.stop(), clean_exit) for stack, clean_exit in started]
    assert [code for code, clean_exit in codes if clean_exit and code != 0] == []


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The API of the module's ``stack``."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as http:
        yield http


@pytest.fixture(scope="session")
def webhook_stack(
    broker: EmbeddedBroker, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = start_up(tmp_path_factory.mktemp("channels"), bootstrap=broker.bootstrap, database_url=database_url)
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot for the email tests; each test takes a fresh mailbox with ``new_user()``."""
    server = Dovecot.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def oidc() -> Iterator[OidcProvider]:
    """A real OpenID Connect provider (oidc-provider under Node); access tokens live 8 s, so they expire in tests."""
    provider = OidcProvider.start(shared_mailbox=f"shared-{uuid.uuid4().hex[:8]}@acme.example", access_ttl=8)
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def oauth_dovecot(oidc: OidcProvider) -> Iterator[Dovecot]:
    """A private Dovecot that also takes XOAUTH2/OAUTHBEARER, checking tokens at ``oidc``'s introspection endpoint."""
    server = Dovecot.start(introspection_url=oidc.introspection_url)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """An S3 API server (moto) on loopback for the object store's tests: its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
