"""One ``omnitrail up`` on the open internet, without a reverse proxy, attacked over real sockets:
slow and huge headers, slow sign-in bodies, unauthenticated and oversized API bodies, forged
``X-Forwarded-For`` to dodge the throttles, and the public surface (/metrics, /docs)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import psutil
import pytest

from omnitrail.http_server import server_config
from omnitrail.settings import AppSettings
from tests.integration.stack import ADMIN, AGENT, Stack, StartStack

pytestmark = pytest.mark.integration
TIMEOUT_S = 1.5
#: Whether a cut-off came from TIMEOUT_S or from the default a stack has without it (10 s; the server's clock
#: starts a little before the test's, so a cut at the default can read as 9.99 s): the midpoint, not TIMEOUT_S
#: plus an allowance that a loaded machine can exceed.
HEADER_CUT_S = (TIMEOUT_S + float(AppSettings.model_fields["http_header_timeout_s"].default)) / 2
BODY_CUT_S = (TIMEOUT_S + float(AppSettings.model_fields["body_timeout_s"].default)) / 2
#: How long a test waits for an answer that must come: only a broken server makes it wait that long.
ANSWER_S = 30
MAX_FAILURES = 5
METRICS_TOKEN = "metrics-token-0123456789"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Stack:
    return start_stack(
        OMNITRAIL_HTTP_HEADER_TIMEOUT_S=str(TIMEOUT_S),
        OMNITRAIL_BODY_TIMEOUT_S=str(TIMEOUT_S),
        OMNITRAIL_AUTH_MAX_FAILURES=str(MAX_FAILURES),
        OMNITRAIL_AUTH_FAILURE_WINDOW_S="600",
        OMNITRAIL_CONSOLE_SIGNIN_FAILURES=str(MAX_FAILURES),
        OMNITRAIL_METRICS_TOKEN=METRICS_TOKEN,
    )


class Connection:
    """A raw HTTP/1.1 connection, to send requests exactly as slowly or as big as an attacker would."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> bool:
        """False once the server has closed the connection."""
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            return False
        return True

    async def answer(self, timeout: float) -> bytes:
        try:
            return await asyncio.wait_for(self.reader.read(4096), timeout)
        except ConnectionResetError:
            return b""


@pytest.fixture
async def connection(stack: Stack) -> AsyncIterator[Connection]:
    host, port = stack.url.removeprefix("http://").split(":")
    # Not 127.0.0.1: the throttle tests below need that address's failure count to themselves.
    reader, writer = await asyncio.open_connection(host, int(port), local_addr=("127.0.0.30", 0))
    yield Connection(reader, writer)
    writer.close()


async def dribble(conn: Connection, data: bytes, every_s: float, within_s: float) -> tuple[bytes, float]:
    """Send ``data`` a byte every ``every_s`` seconds; the server's answer and when it came."""
    started = time.monotonic()
    for byte in data:
        if not await conn.send(bytes([byte])):
            break
        try:
            answer = await asyncio.wait_for(conn.reader.read(4096), every_s)
        except TimeoutError:
            if time.monotonic() - started > within_s:
                break
            continue
        return answer, time.monotonic() - started
    return await conn.answer(1), time.monotonic() - started


async def test_headers_sent_slowly_are_cut_off(connection: Connection) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Padding: " + b"a" * 200 + b"\r\n\r\n"
    answer, after = await dribble(connection, request, every_s=0.1, within_s=10)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert after < HEADER_CUT_S


async def test_a_connection_that_sends_nothing_is_closed(connection: Connection) -> None:
    started = time.monotonic()
    answer = await connection.answer(ANSWER_S)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert time.monotonic() - started < HEADER_CUT_S
    assert await connection.answer(ANSWER_S) == b""  # and closed


async def test_a_48_mib_header_is_refused_without_being_buffered(stack: Stack, connection: Connection) -> None:
    server = psutil.Process(stack.proc.pid)
    before = server.memory_info().rss
    answer = asyncio.create_task(connection.answer(30))
    assert await connection.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    sent = 0
    chunk = b"a" * (256 * 1024)
    while sent < 48 * MIB and not answer.done() and await connection.send(chunk):
        sent += len(chunk)
        # Let the reading task take an answer that came meanwhile: drain() does not yield while the socket
        # takes the data, so without this the loop sent all 48 MiB whenever the server read fast enough.
        await asyncio.sleep(0.01)
    assert (await answer).startswith(b"HTTP/1.1 431"), answer.result()[:100]
    assert sent < 48 * MIB, "refused only once all of it was sent"
    assert server.memory_info().rss - before < 8 * MIB


async def test_a_signin_body_sent_slowly_is_cut_off(stack: Stack, connection: Connection) -> None:
    head = (
        f"POST /signin HTTP/1.1\r\nHost: x\r\nOrigin: {stack.url}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 400\r\n\r\n"
    ).encode()
    assert await connection.send(head)
    answer, after = await dribble(connection, b"token=" + b"a" * 394, every_s=0.2, within_s=10)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert after < BODY_CUT_S


@pytest.mark.parametrize("credential", [None, "Bearer not-a-token"])
async def test_an_api_body_without_a_valid_token_is_refused_before_it_is_read(
    connection: Connection, credential: str | None
) -> None:
    """48 MiB announced, none of it sent: the 401 comes at once (the body used to be awaited, read, parsed)."""
    auth = f"Authorization: {credential}\r\n" if credential else ""
    head = (
        f"POST /api/v1/attributes HTTP/1.1\r\nHost: x\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {48 * MIB}\r\n\r\n"
    ).encode()
    assert await connection.send(head + b'{"name": "')
    answer = await connection.answer(ANSWER_S)  # a server awaiting the body would answer 408 after TIMEOUT_S
    assert answer.startswith(b"HTTP/1.1 401"), answer[:100]


async def test_an_api_body_past_the_limit_is_413_even_with_a_token(stack: Stack, connection: Connection) -> None:
    head = (
        "POST /api/v1/attributes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin-token\r\n"
        f"Content-Type: application/json\r\nContent-Length: {48 * MIB}\r\n\r\n"
    ).encode()
    assert await connection.send(head)
    assert (await connection.answer(ANSWER_S)).startswith(b"HTTP/1.1 413")  # not 408: the body is not awaited

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"name": "'
        for _ in range(4):
            yield b"a" * MIB
        yield b'", "type": "string"}'

    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:
        response = await client.post("/api/v1/attributes", content=chunks(), headers=ADMIN)
        assert response.status_code == 413
        ok = await client.post("/api/v1/attributes", json={"name": "limits_ok", "type": "string"}, headers=ADMIN)
        assert ok.status_code in (200, 201), ok.text  # an ordinary body still reaches the route


def from_loopback(stack: Stack) -> httpx.Client:
    """From 127.0.0.1, where uvicorn believed X-Forwarded-For by default (anyone on the host, or a proxy
    passing the header through, chose the address the throttles count)."""
    return httpx.Client(base_url=stack.url, transport=httpx.HTTPTransport(local_address="127.0.0.1"), timeout=10)


def test_forwarded_for_does_not_dodge_the_token_throttle(stack: Stack) -> None:
    with from_loopback(stack) as guesser:
        for n in range(MAX_FAILURES):
            forged = {"Authorization": f"Bearer guess-{n}", "X-Forwarded-For": f"203.0.113.{n}"}
            assert guesser.get("/api/v1/contacts", params={"q": "x"}, headers=forged).status_code == 401
        again = guesser.get("/api/v1/contacts", params={"q": "x"}, headers={**AGENT, "X-Forwarded-For": "198.51.100.9"})
        assert again.status_code == 429


def test_forwarded_for_does_not_dodge_the_signin_throttle(stack: Stack) -> None:
    with from_loopback(stack) as guesser:
        for n in range(MAX_FAILURES):
            answer = guesser.post(
                "/signin",
                data={"token": f"guess-{n}"},
                headers={"Origin": stack.url, "X-Forwarded-For": f"203.0.113.{n}"},
            )
            assert answer.status_code == 401
        again = guesser.post(
            "/signin", data={"token": "agent-token"}, headers={"Origin": stack.url, "X-Forwarded-For": "198.51.100.9"}
        )
        assert again.status_code == 429


def test_metrics_need_the_metrics_token_and_docs_load_no_third_party_script(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get("/metrics", headers=AGENT).status_code == 401  # an API token is not the metrics token
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scraped.status_code == 200
        assert "omnitrail_" in scraped.text
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404
        assert client.get("/openapi.json").status_code == 200


def test_forwarded_headers_are_believed_only_from_configured_proxies() -> None:
    assert server_config(lambda *_: None, AppSettings()).proxy_headers is False  # type: ignore[arg-type]
    trusting = server_config(lambda *_: None, AppSettings(trusted_proxies="10.0.0.2, 10.1.0.0/16"))  # type: ignore[arg-type]
    assert trusting.proxy_headers is True
    assert trusting.forwarded_allow_ips == ["10.0.0.2", "10.1.0.0/16"]
