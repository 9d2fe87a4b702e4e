"""Hostile input against a real `omnitrail up`: fuzzed webhooks, slow bodies, the API without the
right token, token guessing, and schemathesis against /openapi.json.

Routes are enumerated from the running app's OpenAPI document, so routes other channels add are
covered as soon as they are mounted.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from aiokafka import AIOKafkaConsumer, TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from tests.integration.stack import ADMIN, AGENT, Stack, StartStack
from tests.integration.test_http_limits import BODY_CUT_S, TIMEOUT_S

pytestmark = pytest.mark.integration
MAX_FAILURES = 150  # above what the route-by-route test spends on 127.0.0.1 (2 per route)
#: GET routes that still need the admin role: they hand out everything about a person.
ADMIN_READS = {"/api/v1/contacts/{contact_id}/export", "/api/v1/audit"}
#: Changes support staff make themselves (the agent role): notes and handling suggestions. What is recorded
#: about the person (attribute values, identity, consent) only admins change.
AGENT_WRITES = {
    ("POST", "/api/v1/contacts/{contact_id}/notes"),
    ("POST", "/api/v1/suggestions/{suggestion_id}/assign"),
    ("POST", "/api/v1/suggestions/{suggestion_id}/close"),
}
#: Headers providers sign with (Twilio, Meta, Slack-style live chat, Telegram), filled with junk.
SIGNATURE_HEADERS = [
    "X-Twilio-Signature",
    "X-Hub-Signature-256",
    "X-Slack-Signature",
    "X-Slack-Request-Timestamp",
    "X-Telegram-Bot-Api-Secret-Token",
    "X-Signature",
    "X-Omnitrail-Signature",
    "X-Omnitrail-Timestamp",
    "X-Chatwoot-Signature",
    "X-Chatwoot-Timestamp",
    "x-twitter-webhooks-signature",
]
#: Timestamps and numbers past every integer type, next to ordinary junk.
HEADER_VALUES = st.sampled_from(["9" * 400, "9" * 5000, "0", "-1", "1e9", "v1=", "sha256="]) | st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80
).map(str.strip)
#: Query parameters Twilio's validator looks at, and lookalikes of them.
QUERY_KEYS = st.sampled_from(["bodySHA256", "xbodySHA256", "bodySHA2560", "BodySHA256"]) | st.text(
    min_size=1, max_size=10
)
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/json", "text/plain", "multipart/form-data", ""]


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Stack:
    return start_stack(
        OMNITRAIL_BODY_TIMEOUT_S=str(TIMEOUT_S),
        OMNITRAIL_AUTH_MAX_FAILURES=str(MAX_FAILURES),
        OMNITRAIL_AUTH_FAILURE_WINDOW_S="600",
        OMNITRAIL_GDPR_HASH_KEY="bad-input-hash-key-0123456789",
    )


@pytest.fixture(scope="module")
def openapi(stack: Stack) -> dict[str, Any]:
    spec: dict[str, Any] = httpx.get(stack.url + "/openapi.json").json()
    return spec


def operations(openapi: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        if path.startswith(prefix)
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def client_from(address: str, base_url: str) -> httpx.Client:
    """A client with its own loopback source address: the rate limiter counts per address."""
    return httpx.Client(base_url=base_url, transport=httpx.HTTPTransport(local_address=address), timeout=10)


async def end_offsets(bootstrap: str, *names: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in names for p in (consumer.partitions_for_topic(t) or ())]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


def test_every_api_route_requires_a_token_and_the_right_role(stack: Stack, openapi: dict[str, Any]) -> None:
    api = operations(openapi, "/api/")
    assert ("DELETE", "/api/v1/contacts/{contact_id}") in api  # the enumeration sees the app's routes
    with client_from("127.0.0.3", stack.url) as client:
        for method, path in api:
            url = concrete(path)
            body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
            assert status(client, method, url, body) == 401, (method, path)
            wrong = status(client, method, url, body, {"Authorization": "Bearer not-a-token"})
            assert wrong == 401, (method, path)
            needs_admin = (method != "GET" or path in ADMIN_READS) and (method, path) not in AGENT_WRITES
            as_agent = status(client, method, url, body, AGENT)
            assert (as_agent == 403) == needs_admin, (method, path, as_agent)
            as_admin = status(client, method, url, body, ADMIN)
            assert as_admin not in (401, 403), (method, path, as_admin)


def status(client: httpx.Client, method: str, url: str, body: object, headers: dict[str, str] | None = None) -> int:
    """The answer's status without reading its body: a live feed (server-sent events) never ends."""
    with client.stream(method, url, json=body, headers=headers) as response:
        return response.status_code


def test_failed_authentication_is_rate_limited_per_address(stack: Stack) -> None:
    with client_from("127.0.0.2", stack.url) as guesser, client_from("127.0.0.4", stack.url) as colleague:
        for n in range(MAX_FAILURES):
            bad = {"Authorization": f"Bearer guess-{n}"}
            assert guesser.get("/api/v1/contacts", params={"q": "x"}, headers=bad).status_code == 401
        blocked = guesser.get("/api/v1/contacts", params={"q": "x"}, headers=AGENT)  # even the right token
        assert blocked.status_code == 429
        assert int(blocked.headers["Retry-After"]) > 0
        assert colleague.get("/api/v1/contacts", params={"q": "x"}, headers=AGENT).status_code == 200


async def test_slow_body_is_cut_off(stack: Stack) -> None:
    host, port = stack.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    writer.write(
        b"POST /webhooks/twilio/messages HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 400\r\n\r\n"
    )
    await writer.drain()
    response = b""
    try:
        for _ in range(40):  # one byte every 0.2 s: 400 bytes would take 80 s
            writer.write(b"a")
            await writer.drain()
            try:
                response = await asyncio.wait_for(reader.read(1024), 0.2)
            except TimeoutError:
                continue
            if response:
                break
    finally:
        writer.close()
    assert response.startswith(b"HTTP/1.1 408"), response[:100]
    assert time.monotonic() - started < BODY_CUT_S  # its OMNITRAIL_BODY_TIMEOUT_S, not the default


@pytest.mark.parametrize("path", ["/webhooks/twilio/messages", "/webhooks/twilio/status", "/webhooks/twilio/voice"])
@pytest.mark.parametrize("query", ["xbodySHA256=1", "bodySHA256=", "a=bodySHA256=1"])
def test_a_body_hash_lookalike_in_the_query_is_refused_not_a_500(stack: Stack, path: str, query: str) -> None:
    """A text/plain body with something that merely contains ``bodySHA256=`` used to crash Twilio's validator."""
    headers = {"Content-Type": "text/plain", "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    response = httpx.post(f"{stack.url}{path}?{query}", content=b"Body=hi", headers=headers, timeout=10)
    assert response.status_code == 403, response.text


@pytest.mark.parametrize(
    ("path", "prefix"),
    [
        ("/webhooks/livechat", "X-Omnitrail"),
        ("/webhooks/events", "X-Omnitrail"),
        ("/webhooks/livechat/chatwoot", "X-Chatwoot"),
    ],
)
@pytest.mark.parametrize("timestamp", ["9" * 400, "9" * 5000, "0" * 400 + "1"])
def test_an_absurd_signature_timestamp_is_refused_not_a_500(
    stack: Stack, path: str, prefix: str, timestamp: str
) -> None:
    headers = {f"{prefix}-Timestamp": timestamp, f"{prefix}-Signature": "v1=00", "Content-Type": "application/json"}
    response = httpx.post(stack.url + path, content=b"{}", headers=headers, timeout=10)
    assert response.status_code == 403, response.text


def test_fuzzed_unsigned_webhooks_are_refused_and_store_nothing(
    stack: Stack, openapi: dict[str, Any], broker: EmbeddedBroker
) -> None:
    hooks = operations(openapi, "/webhooks/")
    assert ("POST", "/webhooks/twilio/messages") in hooks
    watched = (topics.INTERACTIONS, topics.DEADLETTER)
    before = asyncio.run(end_offsets(broker.bootstrap, *watched))
    statuses: dict[int, int] = {}

    with httpx.Client(base_url=stack.url, timeout=10) as client:
        for method, path in hooks:
            fuzz_route(client, method, path, statuses)

    assert statuses
    after = asyncio.run(end_offsets(broker.bootstrap, *watched))
    assert after == before, "an unsigned request produced a record"


def fuzz_route(client: httpx.Client, method: str, path: str, statuses: dict[int, int]) -> None:
    """Hypothesis-run one webhook route: unsigned or junk-signed requests are 4xx, never 5xx or 2xx."""

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        body=st.binary(max_size=3000) | st.text(max_size=500).map(str.encode),
        content_type=st.sampled_from(CONTENT_TYPES),
        signatures=st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), HEADER_VALUES, max_size=3),
        query=st.dictionaries(QUERY_KEYS, st.text(max_size=20), max_size=3),
    )
    def fuzz(body: bytes, content_type: str, signatures: dict[str, str], query: dict[str, str]) -> None:
        headers = dict(signatures)
        if content_type:
            headers["Content-Type"] = content_type
        response = client.request(method, concrete(path), content=body, headers=headers, params=query)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert 400 <= response.status_code < 500, (method, path, response.status_code, response.text[:200])

    fuzz()


def test_api_schema_fuzz_never_errors(stack: Stack) -> None:
    """schemathesis: requests generated from /openapi.json, as an admin, for every operation: no 5xx."""
    schema = schemathesis.openapi.from_url(stack.url + "/openapi.json")
    tried: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the schema names an operation schemathesis cannot read
        operation = result.ok()
        tried.append(f"{operation.method.upper()} {operation.path}")

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case[Any]) -> None:  # as_strategy yields bare Case: its operation type is open
            response = case.call(headers=ADMIN)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                response.status_code,
                response.text[:200],
            )

        call()
    assert "DELETE /api/v1/contacts/{contact_id}" in tried


def test_values_postgresql_cannot_hold_are_422_not_500(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        for params in ({"actor": "tok_\x00"}, {"before": str(2**70)}):
            response = client.get("/api/v1/audit", params=params, headers=ADMIN)
            assert response.status_code == 422, (params, response.text)
