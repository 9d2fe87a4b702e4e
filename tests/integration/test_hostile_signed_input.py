"""Signed but hostile webhooks against a real ``omnitrail up``: never a 5xx (providers retry those forever).

Every signed route starts from a payload its provider documents; hypothesis then replaces one field
(or the whole body) with a hostile value: 400-digit numbers, dates at the edge of the calendar,
50,000-deep JSON, NUL characters, lone surrogates, random JSON. The request is signed like the
provider signs it, so it passes the signature check and reaches the normalizer. Each answer must be
200 (ingested) or 400 (refused), and every 400 must have left a dead letter with the raw bytes.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.livechat.chatwoot import CHATWOOT_SCHEME
from connectors.timestamped_signature import TimestampedSignature
from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.deadletter import DeadLetter
from tests import channel_payloads as cp
from tests import telegram_updates as tg
from tests.helpers import inbound_sms, twilio_signature
from tests.integration.stack import Stack, eventually, read_topic
from tests.livechat_payloads import (
    CHATWOOT_SECRET,
    EVENTS_SECRET,
    LIVECHAT_SECRET,
    chat_event,
    chatwoot_message,
    v1_interaction,
)

pytestmark = pytest.mark.integration

DEEP = "[" * 50_000 + "]" * 50_000
#: Raw JSON texts that broke or could break a normalizer: numbers past every integer type, dates with no
#: UTC equivalent, nesting past any recursion limit, NULs and lone surrogates PostgreSQL refuses.
HOSTILE_JSON = [
    "9" * 400,
    "-" + "9" * 400,
    "18446744073709551616",
    "-1",
    "1e400",
    "0.5",
    "true",
    "null",
    '""',
    "[]",
    "{}",
    '"0001-01-01T00:00:00+14:00"',
    '"9999-12-31T23:59:59-14:00"',
    '"0001-01-01"',
    '"' + "9" * 400 + '"',
    '"-1"',
    '"\\u0000"',
    '"\\ud800"',
    '"x\\u0000y"',
    '"' + "x" * 100_000 + '"',
    DEEP,
    '{"a":' * 5000 + "1" + "}" * 5000,
    "[" * 1000 + "]" * 1000,  # under the parser's limit: deep enough for every recursive step after it
    '{"a":' * 1000 + "1" + "}" * 1000,
]
HOSTILE_TEXT = [
    "9" * 400,
    "-1",
    "",
    " ",
    "0001-01-01T00:00:00+14:00",
    "Mon, 01 Jan 0001 00:00:00 +1400",
    "Fri, 31 Dec 9999 23:59:59 -1400",
    "\x00",
    "+" + "9" * 400,
    "whatsapp:" + "9" * 400,
    "x" * 100_000,
    "²³",
    "[" * 1000,
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
SENTINEL = "\x1ehostile\x1e"
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class SignedRoute:
    path: str
    template: Callable[[], Any]
    #: (the URL the provider signs, raw body or form) -> (body, headers)
    sign: Callable[[str, bytes | dict[str, str]], tuple[bytes, dict[str, str]]]
    form: bool = False


def _json(headers: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "application/json", **headers}


def _timestamped(secret: str, scheme: Any = None) -> Callable[[str, Any], tuple[bytes, dict[str, str]]]:
    signer = TimestampedSignature(secret, scheme) if scheme else TimestampedSignature(secret)
    return lambda _url, body: (body, _json(signer.sign(body, int(time.time()))))


def _hub(_url: str, body: Any) -> tuple[bytes, dict[str, str]]:
    digest = hmac.new(cp.META_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, _json({"X-Hub-Signature-256": f"sha256={digest}"})


def _x(_url: str, body: Any) -> tuple[bytes, dict[str, str]]:
    digest = base64.b64encode(hmac.new(cp.X_CONSUMER_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return body, _json({"x-twitter-webhooks-signature": f"sha256={digest}"})


def _telegram(_url: str, body: Any) -> tuple[bytes, dict[str, str]]:
    return body, tg.webhook_headers()


def _twilio(url: str, form: Any) -> tuple[bytes, dict[str, str]]:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": twilio_signature(url, form)}
    return urlencode(form).encode(), headers


ROUTES = [
    SignedRoute("/webhooks/twilio/messages", lambda: inbound_sms("SM" + "7" * 32, "+351912345678"), _twilio, True),
    SignedRoute(
        "/webhooks/twilio/status",
        lambda: cp.message_status("SM" + "8" * 32, "delivered", "+351912345678"),
        _twilio,
        True,
    ),
    SignedRoute(
        "/webhooks/twilio/voice",
        lambda: cp.call_status("CA" + "9" * 32, "completed", "+351912345678", sequence=3, duration=42),
        _twilio,
        True,
    ),
    SignedRoute(
        "/webhooks/livechat",
        lambda: [chat_event("ev-h1", "message", "sess-h1", {"id": "vis-h1", "email": "h1@example.com"}, text="oi")],
        _timestamped(LIVECHAT_SECRET),
    ),
    SignedRoute(
        "/webhooks/livechat/chatwoot", lambda: chatwoot_message(99_001), _timestamped(CHATWOOT_SECRET, CHATWOOT_SCHEME)
    ),
    SignedRoute(
        "/webhooks/events", lambda: [v1_interaction("hostile-1", "h2@example.com")], _timestamped(EVENTS_SECRET)
    ),
    SignedRoute(
        "/webhooks/meta",
        lambda: cp.page_payload("page", cp.PAGE_ID, cp.messaging_event("m_hostile", "24000000001", cp.PAGE_ID)),
        _hub,
    ),
    SignedRoute(
        "/webhooks/meta",
        lambda: cp.whatsapp_payload(
            cp.whatsapp_value(
                contacts=[cp.wa_contact("351912340001", "Ana")],
                messages=[cp.wa_text("wamid.hostile", "351912340001", "oi")],
                statuses=[cp.wa_status("wamid.out", "delivered", "351912340001")],
            )
        ),
        _hub,
    ),
    SignedRoute(
        "/webhooks/x",
        lambda: cp.x_payload(
            cp.x_dm("1900000000000000001", "99001", cp.X_ACCOUNT_ID, "oi"),
            users={"99001": cp.x_user("99001", "hostile_user", "Ana")},
        ),
        _x,
    ),
    SignedRoute("/webhooks/telegram/default", lambda: tg.text_update(990_001, 77), _telegram),
]
#: The source each route's dead letters name (``Route.source``).
_SOURCES = {
    "/webhooks/twilio/messages": "twilio.messages",
    "/webhooks/twilio/status": "twilio.status",
    "/webhooks/twilio/voice": "twilio.voice",
    "/webhooks/livechat": "livechat",
    "/webhooks/livechat/chatwoot": "livechat.chatwoot",
    "/webhooks/events": "events",
    "/webhooks/meta": "meta",
    "/webhooks/x": "x",
    "/webhooks/telegram/default": "telegram.webhook",
}


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every place in a JSON document a value can be replaced, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def hostile_json(template: Any, where: Path, raw: str | None) -> bytes:
    """``template`` with the value at ``where`` replaced by the raw JSON text ``raw`` (None: removed)."""
    if not where:
        return (raw or "").encode()
    document = copy.deepcopy(template)
    parent = document
    for step in where[:-1]:
        parent = parent[step]
    if raw is None:
        del parent[where[-1]]
        return json.dumps(document).encode()
    parent[where[-1]] = SENTINEL
    return json.dumps(document).replace(json.dumps(SENTINEL), raw).encode()


def ids(route: SignedRoute) -> str:
    return route.path + (" whatsapp" if "whatsapp" in json.dumps(route.template()) else "")


@pytest.mark.parametrize("route", ROUTES, ids=ids)
def test_signed_hostile_input_is_400_and_dead_lettered_never_5xx(
    route: SignedRoute, webhook_stack: Stack, broker: EmbeddedBroker
) -> None:
    template = route.template()
    url = webhook_stack.url + route.path
    sent: list[Sent] = []

    with httpx.Client(base_url=webhook_stack.url, timeout=30) as client:

        def send(body: bytes | dict[str, str]) -> int:
            content, headers = route.sign(url, body)
            start = datetime.now(UTC)
            response = client.post(route.path, content=content, headers=headers)
            sent.append(Sent(start, datetime.now(UTC), content, response.status_code))
            assert response.status_code in (200, 400), (route.path, response.status_code, response.text[:300])
            return response.status_code

        if route.form:
            fields = sorted(template)

            @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @given(
                field=st.sampled_from(fields),
                value=st.sampled_from(HOSTILE_TEXT) | st.text(max_size=40) | st.none(),
            )
            @example(field="CallDuration", value="9" * 400)
            @example(field="Timestamp", value="Mon, 01 Jan 0001 00:00:00 +1400")
            def fuzz_form(field: str, value: str | None) -> None:
                form = dict(template)
                if value is None:
                    form.pop(field)
                else:
                    form[field] = value
                send(form)

            fuzz_form()
        else:
            places = paths(template)

            @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @given(
                where=st.sampled_from(places),
                raw=st.sampled_from(HOSTILE_JSON) | JSON_VALUES.map(json.dumps) | st.none(),
            )
            @example(where=(), raw=DEEP)
            @example(where=(0, "occurred_at"), raw='"0001-01-01T00:00:00+14:00"')
            def fuzz_json(where: Path, raw: str | None) -> None:
                if where and not _within(template, where):
                    return  # an explicit example for another route's shape
                send(hostile_json(template, where, raw))

            fuzz_json()

    source = _SOURCES[route.path]
    letters = asyncio.run(eventually(lambda: _every_refusal_dead_lettered(broker, source, sent), what="dead letters"))
    for request, raws in zip(sent, letters, strict=True):
        if request.status == 400:  # no extra: its exact bytes once, or at most one per item of its batch
            items = _items(request.body)
            assert raws == [request.body] or 0 < len(raws) <= items, (route.path, len(raws), request.body[:300])


@dataclass(frozen=True)
class Sent:
    """A request as sent, bracketed by the clock: the server stamps its dead letters with a time in between."""

    start: datetime
    end: datetime
    body: bytes
    status: int


async def _every_refusal_dead_lettered(broker: EmbeddedBroker, source: str, sent: list[Sent]) -> list[list[bytes]]:
    """The raw bytes of each request's dead letters (read off the topic, not counted from offsets), once every
    refused request has at least one. A dead letter of ``source`` received while these requests were being
    sent, but during none of them, fails the test: nothing else sends to this route meanwhile."""
    raws: list[list[bytes]] = [[] for _ in sent]
    starts = [request.start for request in sent]
    for _, value in await read_topic(broker.bootstrap, topics.DEADLETTER):
        try:
            letter = DeadLetter.model_validate_json(value or b"")
        except ValidationError:
            continue  # not a dead letter the product wrote
        if letter.source != source or not sent[0].start <= letter.received_at <= sent[-1].end:
            continue
        n = bisect.bisect_right(starts, letter.received_at) - 1
        assert letter.received_at <= sent[n].end, f"a dead letter received between two requests: {letter.reason}"
        raws[n].append(letter.raw)
    done = all(found or request.status != 400 for found, request in zip(raws, sent, strict=True))
    return raws if done else []


def _items(body: bytes) -> int:
    """How many items a body holds if it is a JSON array (a batch, whose items are dead-lettered one by one)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return 0
    return len(document) if isinstance(document, list) else 0


def _within(template: Any, where: Path) -> bool:
    node = template
    try:
        for step in where:
            node = node[step]
    except (KeyError, IndexError, TypeError):
        return False
    return True
